package tokenizer

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestHFSmolLM2 loads SmolLM2's tokenizer.json and checks that it tokenizes
// every tokenizer-smollm2.jsonl input exactly as llama.cpp did with the GGUF.
func TestHFSmolLM2(t *testing.T) {
	hfDir := filepath.Join(sharedDir(t, "tokenizers"), "smollm2-135m-instruct")
	tok, err := LoadHF(hfDir)
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.AddBOS() {
		t.Errorf("BOS %d EOS %d addBOS %t, want 1 2 false", tok.BOS(), tok.EOS(), tok.AddBOS())
	}
	dir := sharedDir(t, "testdata")
	ref := loadGGUFTokenizer(t, filepath.Join(dir, "tiny-smollm2-q8_0.gguf"))
	if tok.VocabSize() != ref.VocabSize() {
		t.Fatalf("vocab size %d, GGUF has %d", tok.VocabSize(), ref.VocabSize())
	}
	for i, c := range readRefCases(t, filepath.Join(dir, "tokenizer-smollm2.jsonl")) {
		t.Run(caseName(i, c), func(t *testing.T) {
			checkRefCase(t, tok, c)
		})
	}
	t.Run("same_as_gguf", func(t *testing.T) {
		for _, s := range fuzzStrings(400) {
			for _, parse := range []bool{false, true} {
				a, b := tok.Encode(s, true, parse), ref.Encode(s, true, parse)
				if !slices.Equal(a, b) {
					t.Fatalf("Encode(%q, parse=%t): HF %v, GGUF %v", s, parse, a, b)
				}
			}
		}
	})
}

func TestHFErrors(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"not json", `{`},
		{"wordpiece", `{"model":{"type":"WordPiece","vocab":{}}}`},
		{"no bytelevel", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":null}`},
		{"metaspace", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Metaspace"}}`},
		{"bad normalizer", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"normalizer":{"type":"Precompiled"},"pre_tokenizer":{"type":"ByteLevel"}}`},
		{"empty vocab", `{"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FromHFTokenizerJSON([]byte(tc.json), nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestHFMinimal(t *testing.T) {
	js := `{
	  "added_tokens": [{"id": 5, "content": "<eos>", "special": true}],
	  "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
	  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true, "use_regex": true},
	  "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<eos>"}}, {"Sequence": {"id": "A"}}],
	     "special_tokens": {"<eos>": {"ids": [5]}}},
	  "model": {"type": "BPE", "vocab": {"Ġ": 0, "a": 1, "b": 2, "Ġa": 3, "Ġab": 4}, "merges": [["Ġ", "a"], ["Ġa", "b"]]}
	}`
	tok, err := FromHFTokenizerJSON([]byte(js), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("AB<eos>ab", true, true), []int32{5, 4, 5, 4}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}
