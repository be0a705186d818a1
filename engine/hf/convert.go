package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/engine/tokenizer"
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
	ws, err := openTextWeights(dir, c)
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

// tokenizerMeta converts tokenizer.json (byte-level BPE, or
// SentencePiece-style BPE with byte fallback), tokenizer_config.json
// (chat_template, add_bos_token, add_eos_token) and generation_config.json
// (eos) into tokenizer.* metadata.
func tokenizerMeta(dir string) ([]string, []any, error) {
	raw, err := readTokenizerJSON(dir)
	if err != nil {
		return nil, nil, err
	}
	var keys []string
	var vals []any
	var n int
	if tokenizer.IsHFSentencePiece(raw) {
		keys, vals, n, err = spmVocabMeta(dir, raw)
	} else {
		keys, vals, n, err = synth.HFVocab(filepath.Join(dir, "tokenizer.json"))
		if err != nil {
			err = fmt.Errorf("hf: %w", err)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	var tc struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		AddBOS       *bool           `json:"add_bos_token"`
		AddEOS       *bool           `json:"add_eos_token"`
	}
	if err := readJSON(filepath.Join(dir, "tokenizer_config.json"), &tc); err != nil {
		return nil, nil, err
	}
	var tmpl string
	if len(tc.ChatTemplate) > 0 && json.Unmarshal(tc.ChatTemplate, &tmpl) == nil && tmpl != "" {
		keys, vals = append(keys, "tokenizer.chat_template"), append(vals, tmpl)
	}
	if tc.AddBOS != nil {
		keys, vals = setMeta(keys, vals, "tokenizer.ggml.add_bos_token", *tc.AddBOS)
	}
	if tc.AddEOS != nil {
		keys, vals = setMeta(keys, vals, "tokenizer.ggml.add_eos_token", *tc.AddEOS)
	}
	var gc struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := readJSON(filepath.Join(dir, "generation_config.json"), &gc); err != nil {
		return nil, nil, err
	}
	if eos := firstID(gc.EOS); eos >= 0 && eos < int64(n) && eos <= math.MaxUint32 {
		keys, vals = setMeta(keys, vals, "tokenizer.ggml.eos_token_id", uint32(eos))
	}
	return keys, vals, nil
}

// setMeta sets key to v in the metadata lists, in place when present.
func setMeta(keys []string, vals []any, key string, v any) ([]string, []any) {
	if i := slices.Index(keys, key); i >= 0 {
		vals[i] = v
		return keys, vals
	}
	return append(keys, key), append(vals, v)
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
