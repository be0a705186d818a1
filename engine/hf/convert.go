package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/synth"
)

// IsModelDir reports whether path is a Hugging Face model directory (a
// directory holding config.json).
func IsModelDir(path string) bool {
	st, err := os.Stat(filepath.Join(path, "config.json"))
	return err == nil && st.Mode().IsRegular()
}

// Convert writes the Hugging Face model directory dir as a GGUF file at
// out, laid out as llama.cpp's converter lays it out: the same tensor names
// and metadata, 2-D weights in their stored type (F32, F16 or BF16),
// 1-D tensors as F32, llama's Q/K rows permuted to the interleaved RoPE
// layout, gemma's norm weights stored as (1 + w). Weights stream from the
// shards to the output; only permuted and 1-D tensors pass through memory.
func Convert(dir, out string) error {
	w, closeAll, err := build(dir)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := w.WriteFile(out); err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
}

// build assembles the GGUF writer for dir; closeAll releases the shards
// once the writer has been written.
func build(dir string) (*gguf.Writer, func(), error) {
	c, arch, err := readConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	ws, err := openWeights(dir)
	if err != nil {
		return nil, nil, err
	}
	closeAll := func() { _ = ws.Close() }
	w, err := assemble(dir, c, arch, ws)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return w, closeAll, nil
}

// tokenizerMeta converts tokenizer.json (BPE), tokenizer_config.json
// (chat_template, add_bos_token) and generation_config.json (eos) into
// tokenizer.* metadata.
func tokenizerMeta(dir string) ([]string, []any, error) {
	if err := checkByteLevel(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, nil, err
	}
	keys, vals, n, err := synth.HFVocab(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("hf: %w", err)
	}
	var tc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		AddBOS       *bool           `json:"add_bos_token"`
	}
	if err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &tc); err != nil {
		return nil, nil, err
	}
	var tmpl string
	if len(tc.ChatTemplate) > 0 && json.Unmarshal(tc.ChatTemplate, &tmpl) == nil && tmpl != "" {
		keys, vals = append(keys, "tokenizer.chat_template"), append(vals, tmpl)
	}
	if tc.AddBOS != nil {
		keys, vals = append(keys, "tokenizer.ggml.add_bos_token"), append(vals, *tc.AddBOS)
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := readJSON(filepath.Join(dir, "generation_config.json"), &gc); err != nil {
		return nil, nil, err
	}
	var one int64
	var many []int64
	eos := int64(-1)
	if json.Unmarshal(gc.EOS, &one) == nil {
		eos = one
	} else if json.Unmarshal(gc.EOS, &many) == nil && len(many) > 0 {
		eos = many[0]
	}
	if eos >= 0 && eos < int64(n) && eos <= math.MaxUint32 {
		if i := slices.Index(keys, "tokenizer.ggml.eos_token_id"); i >= 0 {
			vals[i] = uint32(eos)
		} else {
			keys, vals = append(keys, "tokenizer.ggml.eos_token_id"), append(vals, uint32(eos))
		}
	}
	return keys, vals, nil
}

// readJSON decodes an optional JSON file (absent: v untouched).
func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("hf: %s: %w", filepath.Base(path), err)
	}
	return nil
}

// checkByteLevel refuses SentencePiece-style tokenizer.json files (BPE with
// byte fallback over "▁"-joined words: Gemma, Llama 2, Mistral v0.1,
// Phi-3): the conversion writes GPT-2 byte-level BPE metadata, which would
// tokenize them wrongly.
func checkByteLevel(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	var t struct {
		Model struct {
			ByteFallback bool `json:"byte_fallback"`
		} `json:"model"`
		Normalizer   json.RawMessage `json:"normalizer"`
		PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	}
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("hf: tokenizer.json: %w", err)
	}
	if t.Model.ByteFallback || strings.Contains(string(t.Normalizer)+string(t.PreTokenizer), "Metaspace") ||
		strings.Contains(string(t.Normalizer), "\u2581") || strings.Contains(string(t.Normalizer), "▁") {
		return fmt.Errorf("hf: tokenizer.json is SentencePiece-style (byte fallback / ▁ word joiner), which is not supported yet: convert this model with llama.cpp's convert_hf_to_gguf.py and serve the GGUF")
	}
	return nil
}
