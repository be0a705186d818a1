package hf

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// planned is one GGUF tensor to produce: bytes computed in memory (data),
// one Hugging Face tensor passed through unchanged (src), or a stack of
// per-expert tensors (stack).
type planned struct {
	name  string
	typ   gguf.TensorType
	ne    []int64
	data  []byte
	src   *tensor
	stack []*tensor
}

// metadata is the GGUF metadata of the directory, in write order.
func metadata(dir string, c *config, arch string, ws *weights) ([]string, []any, error) {
	keys, vals, err := c.meta(arch)
	if err != nil {
		return nil, nil, err
	}
	emb, ok := ws.tensors["model.embed_tokens.weight"]
	if !ok {
		return nil, nil, fmt.Errorf("hf: no model.embed_tokens.weight")
	}
	fileType := map[string]uint32{"F32": 0, "F16": 1, "BF16": 32}[emb.DType]
	keys = append([]string{"general.architecture", "general.name", "general.file_type"}, keys...)
	vals = append([]any{arch, filepath.Base(filepath.Clean(dir)), fileType}, vals...)
	tk, tv, err := tokenizerMeta(dir)
	if err != nil {
		return nil, nil, err
	}
	return append(keys, tk...), append(vals, tv...), nil
}

// metaWriter is a writer holding the directory's metadata and no tensors.
func metaWriter(dir string, c *config, arch string, ws *weights) (*gguf.Writer, error) {
	w := gguf.NewWriter()
	keys, vals, err := metadata(dir, c, arch, ws)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if err := w.Set(k, vals[i]); err != nil {
			return nil, fmt.Errorf("hf: metadata %s: %w", k, err)
		}
	}
	return w, nil
}

// assemble is the whole GGUF of the directory, its tensors streamed from
// the shards when written.
func assemble(dir string, c *config, arch string, ws *weights) (*gguf.Writer, error) {
	w, err := metaWriter(dir, c, arch, ws)
	if err != nil {
		return nil, err
	}
	ps, err := plan(c, arch, ws)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		switch {
		case p.data != nil:
			err = w.AddTensor(p.name, p.typ, p.ne, p.data)
		case p.src != nil:
			err = w.AddTensorReader(p.name, p.typ, p.ne, io.NewSectionReader(p.src.file, p.src.off, p.src.size))
		default:
			readers := make([]io.Reader, len(p.stack))
			for e, t := range p.stack {
				readers[e] = io.NewSectionReader(t.file, t.off, t.size)
			}
			err = w.AddTensorReader(p.name, p.typ, p.ne, io.MultiReader(readers...))
		}
		if err != nil {
			return nil, fmt.Errorf("hf: %w", err)
		}
	}
	return w, nil
}

// plan lists the GGUF tensors of the directory and how to make each.
func plan(c *config, arch string, ws *weights) ([]planned, error) {
	names := make([]string, 0, len(ws.tensors))
	for n := range ws.tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []planned
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
		p, err := planTensor(c, arch, ws.tensors[n])
		if err != nil {
			return nil, err
		}
		if p.name != "" {
			out = append(out, p)
		}
	}
	st, err := planStacks(c, stacks)
	if err != nil {
		return nil, err
	}
	out = append(out, st...)
	f32 := func(name string, x []float32) planned {
		return planned{name: name, typ: gguf.TensorF32, ne: []int64{int64(len(x))}, data: f32Bytes(x)}
	}
	if f := c.llama3Freqs(); f != nil {
		out = append(out, f32("rope_freqs.weight", f))
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
			out = append(out, f32(f.name, x))
		}
	}
	return out, nil
}

// planTensor plans one Hugging Face tensor under its GGUF name (a zero
// planned: a tensor to drop). 1-D tensors become F32 (gemma's norms 1 + w)
// and llama's Q/K rows are permuted, in memory; the rest pass through.
func planTensor(c *config, arch string, t *tensor) (planned, error) {
	name, err := ggufName(arch, t.Name)
	if err != nil || name == "" {
		return planned{}, err
	}
	ne := make([]int64, len(t.Shape)) // GGUF order: innermost first
	for i, d := range t.Shape {
		ne[len(t.Shape)-1-i] = d
	}
	// 1-D tensors, and Qwen2-MoE's [1, n_embd] shared-expert gate (which
	// llama.cpp's converter also keeps in F32), become F32.
	if len(t.Shape) == 1 || strings.HasSuffix(name, "ffn_gate_inp_shexp.weight") {
		b, err := t.read()
		if err != nil {
			return planned{}, err
		}
		x, err := toF32(t.DType, b)
		if err != nil {
			return planned{}, fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		if (arch == "gemma2" || arch == "gemma3") && strings.HasSuffix(name, "norm.weight") {
			for i := range x {
				x[i]++ // Gemma's RMSNorm multiplies by (1 + w); GGUF stores the sum
			}
		}
		return planned{name: name, typ: gguf.TensorF32, ne: ne, data: f32Bytes(x)}, nil
	}
	typ := ggufType(t.DType)
	if arch == "llama" && (strings.HasSuffix(name, "attn_q.weight") || strings.HasSuffix(name, "attn_k.weight")) {
		heads := c.Heads
		if strings.HasSuffix(name, "attn_k.weight") {
			heads = c.KVHeads
		}
		b, err := t.read()
		if err != nil {
			return planned{}, err
		}
		p, err := permuteQK(b, heads, int(ne[0]*elemSize(t.DType)))
		if err != nil {
			return planned{}, fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		return planned{name: name, typ: typ, ne: ne, data: p}, nil
	}
	return planned{name: name, typ: typ, ne: ne, src: t}, nil
}

func ggufType(dtype string) gguf.TensorType {
	return map[string]gguf.TensorType{"F32": gguf.TensorF32, "F16": gguf.TensorF16, "BF16": gguf.TensorBF16}[dtype]
}

// planStacks plans each layer's experts as one 3-D tensor [cols, rows,
// experts], expert after expert.
func planStacks(c *config, stacks map[string][]*tensor) ([]planned, error) {
	keys := make([]string, 0, len(stacks))
	for k := range stacks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []planned
	for _, k := range keys {
		ts := stacks[k]
		if len(ts) != c.Experts {
			return nil, fmt.Errorf("hf: %s: %d experts, config says %d", k, len(ts), c.Experts)
		}
		for e, t := range ts {
			if t == nil || len(t.Shape) != 2 || t.DType != ts[0].DType || !slices.Equal(t.Shape, ts[0].Shape) {
				return nil, fmt.Errorf("hf: %s: expert %d is missing or unlike expert 0", k, e)
			}
		}
		out = append(out, planned{name: k, typ: ggufType(ts[0].DType), ne: []int64{ts[0].Shape[1], ts[0].Shape[0], int64(len(ts))}, stack: ts})
	}
	return out, nil
}
