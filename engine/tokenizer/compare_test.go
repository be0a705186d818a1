package tokenizer

import (
	"strings"
	"testing"
)

// TestSameVocabulary: a vocabulary is the same as itself and as another
// file's copy of it; a changed token, token type, special id or algorithm
// is named in the error.
func TestSameVocabulary(t *testing.T) {
	base := func(mut func(m fakeMeta)) *Tokenizer {
		t.Helper()
		m := fakeMeta{
			"tokenizer.ggml.model":      "llama",
			"tokenizer.ggml.tokens":     []string{"<unk>", "<s>", "</s>", "▁", "h", "e", "▁he", "<|user|>"},
			"tokenizer.ggml.scores":     []float32{0, 0, 0, -1, -1, -1, -2, 0},
			"tokenizer.ggml.token_type": []int32{2, 3, 3, 1, 1, 1, 1, 4},
		}
		if mut != nil {
			mut(m)
		}
		tok, err := FromGGUF(m)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name string
		mut  func(m fakeMeta)
		want string // "" for the same vocabulary
	}{
		{"same", nil, ""},
		{"other scores", func(m fakeMeta) { m["tokenizer.ggml.scores"] = []float32{0, 0, 0, -5, -1, -1, -2, 0} }, ""},
		{"token text", func(m fakeMeta) {
			m["tokenizer.ggml.tokens"] = []string{"<unk>", "<s>", "</s>", "▁", "h", "a", "▁he", "<|user|>"}
		}, "token 5"},
		{"token type", func(m fakeMeta) { m["tokenizer.ggml.token_type"] = []int32{2, 3, 3, 1, 1, 1, 1, 3} }, "token 7"},
		{"size", func(m fakeMeta) {
			m["tokenizer.ggml.tokens"] = []string{"<unk>", "<s>", "</s>", "▁", "h", "e", "▁he"}
			m["tokenizer.ggml.scores"] = []float32{0, 0, 0, -1, -1, -1, -2}
			m["tokenizer.ggml.token_type"] = []int32{2, 3, 3, 1, 1, 1, 1}
		}, "8 tokens vs 7"},
		{"EOS id", func(m fakeMeta) { m["tokenizer.ggml.eos_token_id"] = uint32(7) }, "EOS token"},
	}
	a := base(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SameVocabulary(a, base(tt.mut))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("SameVocabulary = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("SameVocabulary = %v, want an error naming %q", err, tt.want)
			}
		})
	}
	t.Run("stories260K in two quantizations", func(t *testing.T) {
		f32 := loadGGUFTokenizer(t, sharedDir(t, "testdata")+"/stories260K-f32.gguf")
		q8 := loadGGUFTokenizer(t, sharedDir(t, "testdata")+"/stories260K-q8_0.gguf")
		if err := SameVocabulary(f32, q8); err != nil {
			t.Error(err)
		}
		other := loadGGUFTokenizer(t, sharedDir(t, "testdata")+"/tiny-llama3-q8_0.gguf")
		if err := SameVocabulary(f32, other); err == nil {
			t.Error("stories260K and tiny-llama3 have the same vocabulary?")
		}
	})
}
