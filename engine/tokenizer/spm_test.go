package tokenizer

import (
	"slices"
	"testing"
)

func TestSPMUnit(t *testing.T) {
	tok := tinySPM(t)
	for _, tc := range []struct {
		text          string
		add, parse    bool
		want          []int32
		wantDecoded   string
		wantDetokNoSp string
	}{
		{"hello", false, false, []int32{15}, "hello", "hello"},
		{"hello", true, false, []int32{1, 15}, "<s> hello", " hello"}, // BOS removed: space kept, as llama.cpp
		{"hello hello", false, false, []int32{15, 15}, "hello hello", "hello hello"},
		{"é\n", false, false, []int32{6, 4, 5, 3}, "é\n", "é\n"},
		{"hex", false, false, []int32{12, 0}, "he<unk>", "he"}, // no token or byte for "x"
		{"<|user|>hello", false, false, []int32{16, 15}, "<|user|> hello", "<|user|> hello"},
		{"<s>hello", false, true, []int32{1, 15}, "<s> hello", " hello"},
		{"", true, false, []int32{1}, "<s>", ""},
		{"", false, false, []int32{}, "", ""},
	} {
		got := tok.Encode(tc.text, tc.add, tc.parse)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q, %t, %t) = %v, want %v", tc.text, tc.add, tc.parse, got, tc.want)
			continue
		}
		if s := tok.Decode(got); s != tc.wantDecoded {
			t.Errorf("Decode(%v) = %q, want %q", got, s, tc.wantDecoded)
		}
		if s := tok.Detokenize(got, true, false); s != tc.wantDetokNoSp {
			t.Errorf("Detokenize(%v, true, false) = %q, want %q", got, s, tc.wantDetokNoSp)
		}
	}
}

func TestFromGGUFErrors(t *testing.T) {
	good := func() fakeMeta {
		return fakeMeta{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": []string{"a", "b"},
			"tokenizer.ggml.merges": []string{"a b"}, "tokenizer.ggml.pre": "gpt-2"}
	}
	if _, err := FromGGUF(good()); err != nil {
		t.Fatalf("valid metadata: %v", err)
	}
	for name, edit := range map[string]func(fakeMeta){
		"no model":      func(m fakeMeta) { delete(m, "tokenizer.ggml.model") },
		"unknown model": func(m fakeMeta) { m["tokenizer.ggml.model"] = "rwkv" },
		"no tokens":     func(m fakeMeta) { delete(m, "tokenizer.ggml.tokens") },
		"no merges":     func(m fakeMeta) { delete(m, "tokenizer.ggml.merges") },
		"unknown pre":   func(m fakeMeta) { m["tokenizer.ggml.pre"] = "no-such-pre" },
		"bad scores":    func(m fakeMeta) { m["tokenizer.ggml.scores"] = []float32{1} },
		"bad types":     func(m fakeMeta) { m["tokenizer.ggml.token_type"] = []int32{1, 1, 1} },
	} {
		m := good()
		edit(m)
		if _, err := FromGGUF(m); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSpecialTokenIDs(t *testing.T) {
	tok, err := FromGGUF(fakeMeta{
		"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
		"tokenizer.ggml.tokens":       []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"},
		"tokenizer.ggml.token_type":   []int32{3, 3, 1, 1},
		"tokenizer.ggml.merges":       []string{},
		"tokenizer.ggml.bos_token_id": uint32(1), "tokenizer.ggml.eos_token_id": uint32(2),
		"tokenizer.ggml.padding_token_id": uint32(0xffffffff),
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.Pad() != -1 || tok.Unknown() != -1 {
		t.Errorf("BOS %d EOS %d PAD %d UNK %d", tok.BOS(), tok.EOS(), tok.Pad(), tok.Unknown())
	}
	// "<|im_end|>" is typed normal but llama.cpp treats it as control and EOT.
	if tok.EOT() != 2 || tok.TokenType(2) != TokenControl {
		t.Errorf("EOT %d type %d", tok.EOT(), tok.TokenType(2))
	}
	if got := tok.EOGTokens(); !slices.Equal(got, []int32{0, 2}) {
		t.Errorf("EOG = %v", got)
	}
	if tok.IsEOG(3) || !tok.IsEOG(0) {
		t.Error("IsEOG wrong")
	}
	if got := tok.Encode("a<|im_end|>", false, true); !slices.Equal(got, []int32{3, 2}) {
		t.Errorf("Encode = %v", got)
	}
	if tok.TokenText(99) != "" || tok.TokenType(-1) != TokenUndefined || tok.TokenToPiece(99) != "" {
		t.Error("invalid ids must give zero values")
	}
	if id, ok := tok.TokenID("a"); !ok || id != 3 {
		t.Error("TokenID")
	}
	if tok.Model() != ModelBPE || tok.Model().String() != "gpt2" || tok.Pre() != "qwen2" || tok.VocabSize() != 4 {
		t.Error("accessors")
	}
}

// TestStripAround checks lstrip/rstrip of special tokens (phi-3 marks every
// special token rstrip except <unk>, <s>, <|endoftext|>).
func TestStripAround(t *testing.T) {
	tok, err := FromGGUF(fakeMeta{
		"tokenizer.ggml.model": "llama", "general.name": "Phi-3 mini",
		"tokenizer.ggml.tokens":     []string{"<unk>", "<s>", "</s>", "<|user|>", "▁", "a", "▁a", "<0x0A>"},
		"tokenizer.ggml.scores":     []float32{0, 0, 0, 0, -1, -1, -1, 0},
		"tokenizer.ggml.token_type": []int32{2, 3, 3, 4, 1, 1, 1, 6},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("a <|user|> \n a", false, false), []int32{6, 4, 3, 6}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}
