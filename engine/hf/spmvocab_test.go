package hf

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/engine/tokenizer/llamaconv"
)

// spmFixtureGGUF is the GGUF the hf-tiny-qwen3 fixture was made from; its
// vocabulary is the 320-token SentencePiece one of `kiln synth`.
var spmFixtureGGUF = filepath.Join("..", "model", "testdata", "arch", "tiny-qwen3-f16.gguf")

// spmDir copies the hf-tiny-qwen3 fixture to a temporary directory and
// replaces its byte-level tokenizer.json with the tokenizer.json Hugging
// Face's LlamaConverter makes from the GGUF's SentencePiece vocabulary.
func spmDir(t *testing.T, space llamaconv.Space) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hf-tiny-spm")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "model", "testdata", "arch", "hf-tiny-qwen3"))); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(spmFixtureGGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	scores, _ := f.Float32s("tokenizer.ggml.scores")
	types, _ := f.Int32s("tokenizer.ggml.token_type")
	bos, _ := f.Uint32("tokenizer.ggml.bos_token_id")
	unk, _ := f.Uint32("tokenizer.ggml.unknown_token_id")
	js, err := llamaconv.TokenizerJSON(tokens, scores, types,
		llamaconv.Options{Space: space, AddBOS: true, BOS: int32(bos), UNK: int32(unk)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"chat_template": testTemplate, "add_bos_token": true})
	writeJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{"eos_token_id": 2})
	return dir
}

// TestSentencePieceDirectory: a directory whose tokenizer.json is
// SentencePiece-style loads in place, converts, and reads through
// tokenizer.LoadHF, each tokenizing exactly as the GGUF's own "llama"
// vocabulary does; the model's logits are unchanged.
func TestSentencePieceDirectory(t *testing.T) {
	f, err := gguf.Open(spmFixtureGGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"", "the cat sat on the mat", " leading", "a  b\tc\nd", "héllo wörld 🦙", "<|im_start|>user\nhi<|im_end|>", "<s>x</s>"}
	for _, space := range []llamaconv.Space{llamaconv.Legacy, llamaconv.Metaspace} {
		t.Run([]string{"legacy", "metaspace"}[space], func(t *testing.T) {
			dir := spmDir(t, space)
			src, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			inPlace, err := tokenizer.FromGGUF(src.Meta())
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			if err := Convert(dir, out); err != nil {
				t.Fatal(err)
			}
			g, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			converted, err := tokenizer.FromGGUF(g)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := tokenizer.LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			for name, tok := range map[string]*tokenizer.Tokenizer{"in place": inPlace, "converted": converted, "LoadHF": direct} {
				if tok.Model() != tokenizer.ModelSPM || tok.BOS() != ref.BOS() || tok.EOS() != ref.EOS() || !tok.AddBOS() {
					t.Fatalf("%s: model %v BOS %d EOS %d addBOS %t; GGUF %v %d %d", name, tok.Model(), tok.BOS(), tok.EOS(), tok.AddBOS(), ref.Model(), ref.BOS(), ref.EOS())
				}
				for _, s := range inputs {
					for _, parse := range []bool{false, true} {
						a, b := tok.Encode(s, true, parse), ref.Encode(s, true, parse)
						if !slices.Equal(a, b) {
							t.Errorf("%s: Encode(%q, parse=%t) = %v, GGUF %v", name, s, parse, a, b)
						}
						if da, db := tok.Decode(a), ref.Decode(b); da != db {
							t.Errorf("%s: Decode = %q, GGUF %q", name, da, db)
						}
					}
				}
			}
			if tmpl, _ := g.String("tokenizer.chat_template"); tmpl != testTemplate {
				t.Errorf("chat template %q", tmpl)
			}
			if !slices.Equal(evalLogits(t, dir), evalLogits(t, spmFixtureGGUF)) {
				t.Error("logits differ from the GGUF's")
			}
		})
	}
}

// TestSentencePieceDirectoryRefuses: what the SentencePiece reader cannot
// do exactly is an error naming it.
func TestSentencePieceDirectoryRefuses(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"unigram with T5's precompiled charsmap", `{"normalizer":{"type":"Precompiled","precompiled_charsmap":"ALQCAACEAAAAAACAAQAA"},` +
			`"pre_tokenizer":{"type":"Metaspace","replacement":"▁"},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1]]}}`, "not implemented"},
		{"precompiled", `{"normalizer":{"type":"Precompiled","precompiled_charsmap":""},"model":{"type":"BPE","byte_fallback":true,"vocab":{"a":0},"merges":[]}}`, "Precompiled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := spmDir(t, llamaconv.Legacy)
			if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			err := Convert(dir, filepath.Join(t.TempDir(), "out.gguf"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
