package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hfTokenizer is the part of a Hugging Face tokenizer.json that maps onto
// GGUF gpt2 metadata.
type hfTokenizer struct {
	Model struct {
		Type   string           `json:"type"`
		Vocab  map[string]int32 `json:"vocab"`
		Merges json.RawMessage  `json:"merges"`
	} `json:"model"`
	AddedTokens []struct {
		ID      int32  `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
}

// vocabFromHF converts a BPE tokenizer.json (and, when present beside it,
// config.json's bos/eos ids) into GGUF tokenizer.* entries as llama.cpp's
// converter writes them: model gpt2, tokens by id, type 1 for vocabulary
// tokens, 3 for special added tokens and 4 for other added tokens, merges
// as "a b" strings. tokenizer.ggml.pre is guessed from the pre-tokenizer
// ("smollm" for Digits+ByteLevel, else "default"); ids missing from the
// file are filled with unused "[PADn]" tokens.
func vocabFromHF(path string) ([]entry, int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: tokenizer: %w", err)
	}
	var f hfTokenizer
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, 0, fmt.Errorf("synth: tokenizer %s: %w", path, err)
	}
	if f.Model.Type != "BPE" {
		return nil, 0, fmt.Errorf("synth: tokenizer %s: model %q is not supported (only BPE)", path, f.Model.Type)
	}
	n := int32(0)
	for _, id := range f.Model.Vocab {
		n = max(n, id+1)
	}
	for _, a := range f.AddedTokens {
		n = max(n, a.ID+1)
	}
	if n == 0 || n > 1<<22 {
		return nil, 0, fmt.Errorf("synth: tokenizer %s: vocabulary of %d tokens", path, n)
	}
	tokens := make([]string, n)
	types := make([]int32, n)
	for i := range tokens {
		tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), 5 // unused
	}
	for text, id := range f.Model.Vocab {
		if id < 0 {
			return nil, 0, fmt.Errorf("synth: tokenizer %s: negative id for %q", path, text)
		}
		tokens[id], types[id] = text, tokNormal
	}
	for _, a := range f.AddedTokens {
		if a.ID < 0 {
			return nil, 0, fmt.Errorf("synth: tokenizer %s: negative id for %q", path, a.Content)
		}
		tokens[a.ID], types[a.ID] = a.Content, 4 // user-defined
		if a.Special {
			types[a.ID] = tokControl
		}
	}
	merges, err := hfMerges(f.Model.Merges)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: tokenizer %s: %w", path, err)
	}
	pre := "default"
	if p := string(f.PreTokenizer); strings.Contains(p, `"Digits"`) && strings.Contains(p, `"ByteLevel"`) && !strings.Contains(p, `"Split"`) {
		pre = "smollm"
	}
	out := []entry{
		kv("tokenizer.ggml.model", "gpt2"),
		kv("tokenizer.ggml.pre", pre),
		kv("tokenizer.ggml.tokens", tokens),
		kv("tokenizer.ggml.token_type", types),
		kv("tokenizer.ggml.merges", merges),
	}
	ids, err := hfConfigIDs(filepath.Join(filepath.Dir(path), "config.json"))
	if err != nil {
		return nil, 0, err
	}
	for _, e := range ids {
		if id := e.val.(uint32); id < uint32(n) {
			out = append(out, e)
		}
	}
	return out, int(n), nil
}

// hfMerges accepts both merge encodings: "a b" strings and [a, b] pairs.
func hfMerges(raw json.RawMessage) ([]string, error) {
	var flat []string
	if err := json.Unmarshal(raw, &flat); err == nil {
		return flat, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + " " + p[1]
	}
	return out, nil
}

// hfConfigIDs reads bos/eos token ids from config.json, if it exists.
func hfConfigIDs(path string) ([]entry, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	var c struct {
		BOS *int64 `json:"bos_token_id"`
		EOS *int64 `json:"eos_token_id"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		// eos_token_id may be a list in some configs; ids are optional.
		return nil, nil
	}
	var out []entry
	if c.BOS != nil && *c.BOS >= 0 {
		out = append(out, kv("tokenizer.ggml.bos_token_id", uint32(*c.BOS)))
	}
	if c.EOS != nil && *c.EOS >= 0 {
		out = append(out, kv("tokenizer.ggml.eos_token_id", uint32(*c.EOS)))
	}
	return out, nil
}

// HFVocab returns the GGUF tokenizer.* entries (key, value pairs in write
// order) of a BPE Hugging Face tokenizer.json and the vocabulary size: what
// a Hugging Face model directory converts to (engine/hf).
func HFVocab(path string) (keys []string, vals []any, n int, err error) {
	es, n, err := vocabFromHF(path)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, e := range es {
		keys, vals = append(keys, e.key), append(vals, e.val)
	}
	return keys, vals, n, nil
}
