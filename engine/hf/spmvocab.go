package hf

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// spmVocabMeta converts a SentencePiece-style tokenizer.json (Llama 2,
// Mistral v0.1, Gemma, Phi-3; or a Unigram one, written as GGUF "t5")
// into GGUF "llama" tokenizer metadata: tokens,
// scores (merge ranks, which the SentencePiece merge loop applies in the
// same order as Hugging Face's BPE), token types, BOS/EOS/UNK ids (the
// post-processor's, then config.json's), add_space_prefix from the "▁"
// prefix the normalizer or Metaspace pre-tokenizer adds, and add_bos/add_eos
// from the post-processor (tokenizer_config.json may override them later).
func spmVocabMeta(dir string, raw []byte) ([]string, []any, int, error) {
	v, err := tokenizer.HFSentencePiece(raw)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("hf: %w", err)
	}
	types := make([]int32, len(v.Types))
	for i, k := range v.Types {
		types[i] = int32(k)
	}
	keys := []string{"tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
		"tokenizer.ggml.token_type", "tokenizer.ggml.add_space_prefix",
		"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"}
	model := "llama"
	if v.Unigram {
		// llama.cpp's unigram tokenizer; it has no byte fallback, so a
		// byte_fallback vocabulary's uncovered characters become <unk> there
		// (and in kiln reading the GGUF).
		model = "t5"
		if v.ByteFallback {
			slog.Warn("hf: unigram tokenizer with byte_fallback: the GGUF's t5 vocabulary maps characters no piece covers to <unk>, not to bytes", "dir", dir)
		}
	}
	vals := []any{model, v.Tokens, v.Scores, types, v.AddSpacePrefix, v.AddBOS, v.AddEOS}
	var cfg struct {
		BOS json.RawMessage `json:"bos_token_id"`
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := readJSON(filepath.Join(dir, "config.json"), &cfg); err != nil {
		return nil, nil, 0, err
	}
	n := len(v.Tokens)
	for _, id := range []struct {
		key  string
		tok  int32
		json json.RawMessage
	}{{"bos_token_id", v.BOS, cfg.BOS}, {"eos_token_id", v.EOS, cfg.EOS}, {"unknown_token_id", v.UNK, nil}} {
		if c := firstID(id.json); c >= 0 && c < int64(n) {
			id.tok = int32(c)
		}
		if id.tok >= 0 {
			keys, vals = append(keys, "tokenizer.ggml."+id.key), append(vals, uint32(id.tok))
		}
	}
	return keys, vals, n, nil
}

// firstID reads a token id or the first of a list of ids (-1: none).
func firstID(raw json.RawMessage) int64 {
	var one int64
	var many []int64
	switch {
	case len(raw) == 0:
	case json.Unmarshal(raw, &one) == nil:
		return one
	case json.Unmarshal(raw, &many) == nil && len(many) > 0:
		return many[0]
	}
	return -1
}

// readTokenizerJSON reads dir's tokenizer.json.
func readTokenizerJSON(dir string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	return raw, nil
}
