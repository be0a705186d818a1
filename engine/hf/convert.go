package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

func assemble(dir string, c *config, arch string, ws *weights) (*gguf.Writer, error) {
	w := gguf.NewWriter()
	set := func(k string, v any) error {
		if err := w.Set(k, v); err != nil {
			return fmt.Errorf("hf: metadata %s: %w", k, err)
		}
		return nil
	}
	keys, vals, err := c.meta(arch)
	if err != nil {
		return nil, err
	}
	emb, ok := ws.tensors["model.embed_tokens.weight"]
	if !ok {
		return nil, fmt.Errorf("hf: no model.embed_tokens.weight")
	}
	fileType := map[string]uint32{"F32": 0, "F16": 1, "BF16": 32}[emb.DType]
	keys = append([]string{"general.architecture", "general.name", "general.file_type"}, keys...)
	vals = append([]any{arch, filepath.Base(filepath.Clean(dir)), fileType}, vals...)
	tk, tv, err := tokenizerMeta(dir)
	if err != nil {
		return nil, err
	}
	keys, vals = append(keys, tk...), append(vals, tv...)
	for i, k := range keys {
		if err := set(k, vals[i]); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(ws.tensors))
	for n := range ws.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	stacks := map[string][]*tensor{} // "blk.N.ffn_gate_exps.weight" -> experts in order
	for _, n := range names {
		if l, e, stack, ok := expertPart(n); ok {
			key := fmt.Sprintf("blk.%d.%s.weight", l, stack)
			if len(stacks[key]) <= e {
				stacks[key] = append(stacks[key], make([]*tensor, e+1-len(stacks[key]))...)
			}
			stacks[key][e] = ws.tensors[n]
			continue
		}
		if err := addTensor(w, c, arch, ws.tensors[n]); err != nil {
			return nil, err
		}
	}
	if err := addStacks(w, c, stacks); err != nil {
		return nil, err
	}
	if f := c.llama3Freqs(); f != nil {
		if err := w.AddTensor("rope_freqs.weight", gguf.TensorF32, []int64{int64(len(f))}, f32Bytes(f)); err != nil {
			return nil, fmt.Errorf("hf: %w", err)
		}
	}
	if rs := c.RopeScaling; rs != nil && arch == "phi3" && len(rs.LongFactor) > 0 {
		for _, f := range []struct {
			name string
			v    []float64
		}{{"rope_factors_long.weight", rs.LongFactor}, {"rope_factors_short.weight", rs.ShortFactor}} {
			x := make([]float32, len(f.v))
			for i, v := range f.v {
				x[i] = float32(v)
			}
			if err := w.AddTensor(f.name, gguf.TensorF32, []int64{int64(len(x))}, f32Bytes(x)); err != nil {
				return nil, fmt.Errorf("hf: %w", err)
			}
		}
	}
	return w, nil
}

// addTensor adds one Hugging Face tensor under its GGUF name.
func addTensor(w *gguf.Writer, c *config, arch string, t *tensor) error {
	name, err := ggufName(arch, t.Name)
	if err != nil || name == "" {
		return err
	}
	ne := make([]int64, len(t.Shape)) // GGUF order: innermost first
	for i, d := range t.Shape {
		ne[len(t.Shape)-1-i] = d
	}
	if len(t.Shape) == 1 {
		b, err := t.read()
		if err != nil {
			return err
		}
		x, err := toF32(t.DType, b)
		if err != nil {
			return fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		if (arch == "gemma2" || arch == "gemma3") && strings.HasSuffix(name, "norm.weight") {
			for i := range x {
				x[i]++ // Gemma's RMSNorm multiplies by (1 + w); GGUF stores the sum
			}
		}
		return wrap(w.AddTensor(name, gguf.TensorF32, ne, f32Bytes(x)))
	}
	typ := map[string]gguf.TensorType{"F32": gguf.TensorF32, "F16": gguf.TensorF16, "BF16": gguf.TensorBF16}[t.DType]
	if arch == "llama" && (strings.HasSuffix(name, "attn_q.weight") || strings.HasSuffix(name, "attn_k.weight")) {
		heads := c.Heads
		if strings.HasSuffix(name, "attn_k.weight") {
			heads = c.KVHeads
		}
		b, err := t.read()
		if err != nil {
			return err
		}
		p, err := permuteQK(b, heads, int(ne[0]*elemSize(t.DType)))
		if err != nil {
			return fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		return wrap(w.AddTensor(name, typ, ne, p))
	}
	return wrap(w.AddTensorReader(name, typ, ne, io.NewSectionReader(t.file, t.off, t.size)))
}

func wrap(err error) error {
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	return nil
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

// addStacks writes each layer's experts as one 3-D tensor [cols, rows,
// experts], streamed expert after expert from the shards.
func addStacks(w *gguf.Writer, c *config, stacks map[string][]*tensor) error {
	keys := make([]string, 0, len(stacks))
	for k := range stacks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		ts := stacks[k]
		if len(ts) != c.Experts {
			return fmt.Errorf("hf: %s: %d experts, config says %d", k, len(ts), c.Experts)
		}
		readers := make([]io.Reader, len(ts))
		for e, t := range ts {
			if t == nil || len(t.Shape) != 2 || t.DType != ts[0].DType || !slices.Equal(t.Shape, ts[0].Shape) {
				return fmt.Errorf("hf: %s: expert %d is missing or unlike expert 0", k, e)
			}
			readers[e] = io.NewSectionReader(t.file, t.off, t.size)
		}
		typ := map[string]gguf.TensorType{"F32": gguf.TensorF32, "F16": gguf.TensorF16, "BF16": gguf.TensorBF16}[ts[0].DType]
		ne := []int64{ts[0].Shape[1], ts[0].Shape[0], int64(len(ts))}
		if err := w.AddTensorReader(k, typ, ne, io.MultiReader(readers...)); err != nil {
			return fmt.Errorf("hf: %w", err)
		}
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
