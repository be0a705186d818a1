package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// unigramTokenizerJSON is a Unigram tokenizer.json of the tiny models'
// 320-token vocabulary with made-up log probabilities.
func unigramTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	f, err := gguf.Open(spmFixtureGGUF)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	f.Close()
	vocab := make([][]any, len(tokens))
	for i, tok := range tokens {
		vocab[i] = []any{tok, -1 - float64(i%37)/4 - float64(len([]rune(tok)))/8}
	}
	js, err := json.Marshal(map[string]any{
		"added_tokens": []map[string]any{{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}},
		"normalizer":   map[string]any{"type": "Precompiled", "precompiled_charsmap": nil},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []map[string]any{
			{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}}},
		"model": map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestUnigramDirectory: a directory whose tokenizer.json is a Unigram model
// (the 320 pieces of the tiny models' vocabulary with made-up log
// probabilities) serves in place, converts to a GGUF "t5" vocabulary, and
// reads through tokenizer.LoadHF, all three tokenizing alike.
func TestUnigramDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hf-tiny-unigram")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "model", "testdata", "arch", "hf-tiny-qwen3"))); err != nil {
		t.Fatal(err)
	}
	js := unigramTokenizerJSON(t)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"add_bos_token": false, "add_eos_token": true})
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
	if m, _ := g.String("tokenizer.ggml.model"); m != "t5" {
		t.Fatalf("tokenizer.ggml.model %q, want t5", m)
	}
	converted, err := tokenizer.FromGGUF(g)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := tokenizer.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"the cat sat on the mat", " leading", "a  b\tc\nd", "héllo wörld 🦙", "x</s>y"}
	want := direct.Encode(inputs[0], true, false)
	if len(want) < 3 || want[len(want)-1] != direct.EOS() {
		t.Fatalf("LoadHF: %v, want pieces then EOS %d (add_eos_token)", want, direct.EOS())
	}
	for name, tok := range map[string]*tokenizer.Tokenizer{"in place": inPlace, "converted": converted} {
		if tok.Model() != tokenizer.ModelUGM || direct.Model() != tokenizer.ModelUGM {
			t.Fatalf("%s: model %v, LoadHF %v; want t5", name, tok.Model(), direct.Model())
		}
		for _, s := range inputs {
			for _, parse := range []bool{false, true} {
				if got, want := tok.Encode(s, true, parse), direct.Encode(s, true, parse); !slices.Equal(got, want) {
					t.Errorf("%s: Encode(%q, special %t) = %v, LoadHF %v", name, s, parse, got, want)
				}
			}
		}
	}
}
