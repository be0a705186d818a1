package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// fuzzAlphabet mixes the characters pre-tokenizers treat differently:
// letters, digits, punctuation, symbols, several kinds of white space,
// contractions, special-token texts, CJK, emoji (with ZWJ), combining marks
// and non-ASCII digits.
var fuzzAlphabet = []string{
	"a", "Z", "é", "ß", "я", "Ω", "1", "9", "٣", "²", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000",
	"\u2028", "'", "'s", "'LL", "'re", ".", ",", "!", "?", "$", "+", "<", "|", "~", "`", "_", "-",
	"(", "…", "。", "你", "好", "한", "🦙", "👩‍💻", "\u0301", "\u200d", "<|im_start|>", "<|eot_id|>",
	"<s>", "</s>", "<|endoftext|>", "hello", "World", "123456", "    ", "\x7f", "\x00",
}

// fuzzStrings returns n deterministic pseudo-random strings over fuzzAlphabet.
func fuzzStrings(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			b.WriteString(fuzzAlphabet[rng.IntN(len(fuzzAlphabet))])
		}
		out[i] = b.String()
	}
	return out
}

// fakeMeta is an in-memory Metadata for unit tests.
type fakeMeta map[string]any

func (m fakeMeta) String(k string) (string, bool)      { v, ok := m[k].(string); return v, ok }
func (m fakeMeta) Strings(k string) ([]string, bool)   { v, ok := m[k].([]string); return v, ok }
func (m fakeMeta) Float32s(k string) ([]float32, bool) { v, ok := m[k].([]float32); return v, ok }
func (m fakeMeta) Int32s(k string) ([]int32, bool)     { v, ok := m[k].([]int32); return v, ok }
func (m fakeMeta) Uint32(k string) (uint32, bool)      { v, ok := m[k].(uint32); return v, ok }
func (m fakeMeta) Bool(k string) (bool, bool)          { v, ok := m[k].(bool); return v, ok }

// tinySPM is a hand-made SentencePiece vocabulary: byte tokens for the
// bytes of "é" and newline, and merges scored so that "▁hello" wins over
// "▁he"+"llo".
func tinySPM(t *testing.T) *Tokenizer {
	t.Helper()
	tokens := []string{"<unk>", "<s>", "</s>", "<0x0A>", "<0xC3>", "<0xA9>",
		"▁", "h", "e", "l", "o", "▁h", "▁he", "ll", "llo", "▁hello", "<|user|>"}
	scores := []float32{0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -2, -3, -2, -4, -1, 0}
	types := []int32{2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 4}
	tok, err := FromGGUF(fakeMeta{
		"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": tokens,
		"tokenizer.ggml.scores": scores, "tokenizer.ggml.token_type": types,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
