// Package llamaconv writes the tokenizer.json that Hugging Face's
// LlamaConverter (transformers' convert_slow_tokenizer.py) makes from a
// SentencePiece BPE model, so that tests can check tokenizer.json loading
// against the GGUF of the same vocabulary without shipping real model files.
package llamaconv

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// Space is how the converted tokenizer turns spaces into "▁".
type Space int

// The three forms found in published tokenizer.json files.
const (
	// Legacy is Llama 2 / Alpaca-2 / Phi-3: normalizer
	// Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer.
	Legacy Space = iota
	// Metaspace is the non-legacy form (Mistral v0.1 as re-converted):
	// no normalizer, pre-tokenizer Metaspace(prepend_scheme "first").
	Metaspace
	// NoPrefix is Gemma: normalizer Replace(" ", "▁") without a prefix,
	// and the Split(" ", MergedWithPrevious) pre-tokenizer recent
	// transformers versions write (a no-op: no space is left to split at).
	NoPrefix
)

// Options select the converter's variants.
type Options struct {
	Space  Space
	AddBOS bool  // post-processor TemplateProcessing "<s> $A"
	BOS    int32 // the token that template adds
	UNK    int32 // the model's unk_token (-1: none)
	// Rstrip marks the added tokens that swallow the white space after
	// them (Phi-3's "<|end|>" and the like); nil for none.
	Rstrip []bool
}

// TokenizerJSON returns the tokenizer.json of a SentencePiece vocabulary
// given as GGUF "llama" arrays (tokens, scores, token types 1 normal,
// 2 unknown, 3 control, 4 user-defined, 6 byte). Merges are derived from the
// scores as SentencePieceExtractor.extract does: every split of a piece into
// two pieces of the vocabulary, ordered by the piece's score (highest
// first), splits of one piece by the ids of their sides.
func TokenizerJSON(tokens []string, scores []float32, types []int32, o Options) ([]byte, error) {
	if len(scores) != len(tokens) || len(types) != len(tokens) {
		return nil, fmt.Errorf("llamaconv: %d tokens, %d scores, %d types", len(tokens), len(scores), len(types))
	}
	vocab := make(map[string]int32, len(tokens))
	for i, s := range tokens {
		vocab[s] = int32(i)
	}
	type merge struct {
		l, r  string
		score float32
	}
	var merges []merge
	for _, piece := range tokens {
		runes := []rune(piece)
		var local []merge
		for i := 1; i < len(runes); i++ {
			l, r := string(runes[:i]), string(runes[i:])
			_, okL := vocab[l]
			_, okR := vocab[r]
			if okL && okR {
				local = append(local, merge{l, r, scores[vocab[piece]]})
			}
		}
		slices.SortStableFunc(local, func(a, b merge) int {
			return cmp.Or(cmp.Compare(vocab[a.l], vocab[b.l]), cmp.Compare(vocab[a.r], vocab[b.r]))
		})
		merges = append(merges, local...)
	}
	slices.SortStableFunc(merges, func(a, b merge) int { return cmp.Compare(b.score, a.score) })
	pairs := make([][2]string, len(merges))
	for i, m := range merges {
		pairs[i] = [2]string{m.l, m.r}
	}
	type added struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	var unk any
	if o.UNK >= 0 && int(o.UNK) < len(tokens) {
		unk = tokens[o.UNK]
	}
	for i, k := range types {
		if k == 2 || k == 3 || k == 4 {
			addedTokens = append(addedTokens, added{ID: int32(i), Content: tokens[i], Special: k != 4,
				Rstrip: i < len(o.Rstrip) && o.Rstrip[i]})
		}
	}
	replace := map[string]any{"type": "Replace", "pattern": map[string]string{"String": " "}, "content": "▁"}
	var normalizer, preTokenizer any
	switch o.Space {
	case Legacy:
		normalizer = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"}, replace}}
	case Metaspace:
		preTokenizer = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	case NoPrefix:
		normalizer = replace
		preTokenizer = map[string]any{"type": "Split", "pattern": map[string]string{"String": " "},
			"behavior": "MergedWithPrevious", "invert": false}
	}
	var post any
	if o.AddBOS {
		b := tokens[o.BOS]
		post = map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": b, "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"special_tokens": map[string]any{b: map[string]any{"id": b, "ids": []int32{o.BOS}, "tokens": []string{b}}}}
	}
	return json.Marshal(map[string]any{
		"version":        "1.0",
		"added_tokens":   addedTokens,
		"normalizer":     normalizer,
		"pre_tokenizer":  preTokenizer,
		"post_processor": post,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]string{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": unk, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": pairs},
	})
}
