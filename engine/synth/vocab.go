package synth

import (
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// SentencePiece token types, as llama.cpp numbers them.
const (
	tokNormal  int32 = 1
	tokUnknown int32 = 2
	tokControl int32 = 3
	tokByte    int32 = 6
)

// syntheticVocab returns the tokenizer.ggml.* entries of a minimal
// SentencePiece ("llama") vocabulary of exactly n tokens: <unk>, <s>, </s>,
// the 256 byte tokens <0x00>..<0xFF> (so any text encodes, by byte
// fallback), then filler pieces "▁a".."▁z", "a".."z" and "▁tN" with
// descending scores. It needs n ≥ 259; it exists so a synthesized model runs
// end to end without a real tokenizer, not to tokenize well.
func syntheticVocab(n int) ([]entry, error) {
	if n < 259 {
		return nil, fmt.Errorf("synth: synthetic vocabulary needs at least 259 tokens, preset has %d", n)
	}
	tokens := make([]string, 0, n)
	types := make([]int32, 0, n)
	tokens = append(tokens, "<unk>", "<s>", "</s>")
	types = append(types, tokUnknown, tokControl, tokControl)
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, tokByte)
	}
	for c := 'a'; c <= 'z' && len(tokens) < n; c++ {
		tokens = append(tokens, "▁"+string(c))
		types = append(types, tokNormal)
	}
	for c := 'a'; c <= 'z' && len(tokens) < n; c++ {
		tokens = append(tokens, string(c))
		types = append(types, tokNormal)
	}
	for i := 0; len(tokens) < n; i++ {
		tokens = append(tokens, fmt.Sprintf("▁t%d", i))
		types = append(types, tokNormal)
	}
	scores := make([]float32, n)
	for i := range scores {
		if types[i] == tokNormal {
			scores[i] = -float32(i)
		}
	}
	return []entry{
		kv("tokenizer.ggml.model", "llama"),
		kv("tokenizer.ggml.tokens", tokens),
		kv("tokenizer.ggml.scores", scores),
		kv("tokenizer.ggml.token_type", types),
		kv("tokenizer.ggml.bos_token_id", uint32(1)),
		kv("tokenizer.ggml.eos_token_id", uint32(2)),
		kv("tokenizer.ggml.unknown_token_id", uint32(0)),
	}, nil
}

// entry is one metadata entry to write: a gguf.Value or a Go value that
// gguf.Writer.Set accepts.
type entry struct {
	key string
	val any
}

func kv(key string, v any) entry { return entry{key, v} }

// vocabFromGGUF copies every tokenizer.* entry of a GGUF file (such as the
// tokenizer-only vocab files) and returns them with the vocabulary size.
func vocabFromGGUF(path string) ([]entry, int, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: tokenizer: %w", err)
	}
	defer f.Close()
	var out []entry
	for _, e := range f.KVs() {
		if strings.HasPrefix(e.Key, "tokenizer.") {
			out = append(out, entry{e.Key, e.Value})
		}
	}
	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) == 0 {
		return nil, 0, fmt.Errorf("synth: tokenizer %s: no tokenizer.ggml.tokens", path)
	}
	return out, len(tokens), nil
}
