package hf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// archDirCases are the GGUF test models every architecture's Hugging Face
// directory form is made from (hfDirFromGGUF): name and GGUF path. The
// tiny llama ones are written into tmp.
func archDirCases(t *testing.T, tmp string) []struct{ name, path string } {
	t.Helper()
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	tiny, llama3 := filepath.Join(tmp, "tiny-llama.gguf"), filepath.Join(tmp, "tiny-llama3.gguf")
	if err := synth.Write(tiny, synth.Options{Preset: p, Type: native.F16, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	p.Llama3RoPE = true
	if err := synth.Write(llama3, synth.Options{Preset: p, Type: native.F16, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	arch := func(n string) string { return filepath.Join("..", "model", "testdata", "arch", n+"-f16.gguf") }
	return []struct{ name, path string }{
		{"llama", tiny}, {"llama3-rope", llama3}, {"qwen3", arch("tiny-qwen3")}, {"gemma2", arch("tiny-gemma2")},
		{"gemma3", arch("tiny-gemma3")}, {"phi3", arch("tiny-phi3")},
		{"qwen3moe", arch("tiny-qwen3moe")}, {"qwen2moe", arch("tiny-qwen2moe")}, {"mixtral", arch("tiny-mixtral")},
	}
}

// TestWriteArchDirs writes one Hugging Face directory per architecture
// (and qwen3-unigram, qwen3's with a Unigram tokenizer.json) into
// $KILN_WRITE_HF_DIRS/<name> (scripts/check-convert-llamacpp.sh runs
// them through `kiln convert` and llama.cpp); skipped when it is unset.
func TestWriteArchDirs(t *testing.T) {
	root := os.Getenv("KILN_WRITE_HF_DIRS")
	if root == "" {
		t.Skip("set KILN_WRITE_HF_DIRS to a directory to write the architectures' Hugging Face directories into")
	}
	for _, tc := range archDirCases(t, t.TempDir()) {
		dst := filepath.Join(root, tc.name)
		if err := os.RemoveAll(dst); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dst, os.DirFS(hfDirFromGGUF(t, tc.path))); err != nil {
			t.Fatal(err)
		}
	}
	// qwen3 with a Unigram tokenizer.json: a GGUF "t5" vocabulary.
	dst := filepath.Join(root, "qwen3-unigram")
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(filepath.Join(root, "qwen3"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "tokenizer.json"), unigramTokenizerJSON(t), 0o644); err != nil {
		t.Fatal(err)
	}
}
