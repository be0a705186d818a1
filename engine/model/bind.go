package model

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unsafe"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// tensorTag is one field's entry in the tensor table (weights.go).
type tensorTag struct {
	name     string   // GGUF name; "%d" is the layer index
	optional bool     // the file may lack it (an archSpec may still require it)
	archOnly bool     // ",arch": bound only for architectures that require or allow it
	shape    []string // dimension names, [rows, cols] or [n]
}

func parseTag(f reflect.StructField) (tensorTag, bool) {
	g, ok := f.Tag.Lookup("gguf")
	if !ok {
		return tensorTag{}, false
	}
	name, opt, _ := strings.Cut(g, ",")
	return tensorTag{name: name, optional: opt == "optional" || opt == "arch", archOnly: opt == "arch",
		shape: strings.Split(f.Tag.Get("shape"), ",")}, true
}

// binder binds the tensors of one file to the fields of the tensor table and
// reports the first problem naming the tensor, so a file the forward pass
// cannot run fails at load rather than in Forward.
type binder struct {
	f       Source
	arch    string
	dims    map[string]int  // dimension names -> sizes; "vocab" is learned
	require map[string]bool // optional table names the architecture needs
	allow   map[string]bool // ",arch" table names the architecture may have
	skip    map[string]bool // table fields (Go names) the architecture does not use
	bound   map[string]bool // tensors of the file bound so far
}

// layout returns the fields a fused or unfused, dense or mixture-of-experts
// model skips and the table names it requires of them.
func layout(fused, moe bool) (skip, require []string) {
	if fused {
		skip = []string{"Q", "K", "V", "Gate", "Up"}
		require = []string{"blk.%d.attn_qkv.weight"}
	} else {
		skip = []string{"QKV", "FusedUp"}
		require = []string{"blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight"}
	}
	switch {
	case moe:
		skip = append(skip, "Gate", "Up", "FusedUp", "Down") // shared experts: an archSpec's require
		require = append(require, "blk.%d.ffn_gate_inp.weight", "blk.%d.ffn_gate_exps.weight",
			"blk.%d.ffn_up_exps.weight", "blk.%d.ffn_down_exps.weight")
	case fused:
		require = append(require, "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight")
	default:
		require = append(require, "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight")
	}
	return skip, require
}

// bindWeights binds every tensor of the table from f, checking each one's
// type, shape and stored size against c, and refuses tensors the table does
// not name (a variant the forward pass would silently ignore). It sets
// c.NVocab from token_embd.
func bindWeights(f Source, c *Config, a archSpec) (*Weights, error) {
	b := &binder{f: f, arch: c.Arch, dims: c.dims(), require: map[string]bool{}, allow: map[string]bool{}, skip: map[string]bool{}, bound: map[string]bool{}}
	skip, req := layout(a.fused, c.NExpert > 0)
	for _, n := range slices.Concat(a.require, req) {
		b.require[n] = true
	}
	for _, n := range skip {
		b.skip[n] = true
	}
	for _, n := range a.allow {
		b.allow[n] = true
	}
	w := &Weights{}
	if err := b.bindStruct(reflect.ValueOf(w).Elem(), -1); err != nil {
		return nil, err
	}
	c.NVocab = w.TokEmbd.Rows
	if c.NLayer > f.NumTensors() { // each layer has several: refuse before allocating block_count of them
		return nil, fmt.Errorf("%s = %d, but the file has only %d tensors", f.Meta().ArchKey("block_count"), c.NLayer, f.NumTensors())
	}
	w.Layers = make([]Layer, c.NLayer)
	for i := range w.Layers {
		if err := b.bindStruct(reflect.ValueOf(&w.Layers[i]).Elem(), i); err != nil {
			return nil, err
		}
		if a.fused && c.NExpert == 0 {
			if err := splitFused(&w.Layers[i], c); err != nil {
				return nil, err
			}
		}
	}
	if err := chooseRoPEFactors(w, c); err != nil {
		return nil, err
	}
	if w.Output.Data == nil {
		w.Output = w.TokEmbd // tied embeddings
	}
	for _, t := range f.Tensors() {
		if !b.bound[t.Name] {
			return nil, fmt.Errorf("tensor %s (%v %v) is not part of the %s architecture's table", t.Name, t.Type, t.Shape, c.Arch)
		}
	}
	return w, nil
}

// bindStruct binds the tagged fields of v (Weights or one Layer; layer is
// the block index, or -1 for the model-wide tensors).
func (b *binder) bindStruct(v reflect.Value, layer int) error {
	t := v.Type()
	for i := range t.NumField() {
		tag, ok := parseTag(t.Field(i))
		if !ok || b.skip[t.Field(i).Name] || (tag.archOnly && !b.require[tag.name] && !b.allow[tag.name]) {
			continue // a file holding it anyway is refused: the tensor stays unbound
		}
		name := tag.name
		if strings.Contains(name, "%d") {
			name = fmt.Sprintf(name, layer)
		}
		if _, present := b.f.Tensor(name); !present {
			if tag.optional && !b.require[tag.name] {
				continue
			}
			return fmt.Errorf("missing tensor %s", name)
		}
		var err error
		switch dst := v.Field(i).Addr().Interface().(type) {
		case *Matrix:
			*dst, err = b.matrix(name, tag.shape)
		case *[]float32:
			*dst, err = b.vector(name, tag.shape)
		default:
			err = fmt.Errorf("model: table field %s has type %T, want Matrix or []float32", t.Field(i).Name, dst)
		}
		if err != nil {
			return err
		}
		b.bound[name] = true
	}
	return nil
}

// maxVocab bounds a vocabulary so token ids fit an int32.
const maxVocab = 1<<31 - 1

// dim resolves a dimension name; an unknown one is learned from got (the
// first tensor naming it fixes it for the rest).
func (b *binder) dim(sym string, got int64) (int, error) {
	if n, ok := b.dims[sym]; ok {
		return n, nil
	}
	if sym != "vocab" {
		return 0, fmt.Errorf("model: table names unknown dimension %q", sym)
	}
	if got <= 0 || got > maxVocab {
		return 0, nil // a shape mismatch, reported by the caller
	}
	b.dims[sym] = int(got)
	return int(got), nil
}

// info looks name up and checks its shape (in ggml ne order, [cols, rows])
// against the table's [rows, cols] names.
func (b *binder) info(name string, shape []string) (gguf.TensorInfo, []int, error) {
	info, _ := b.f.Tensor(name)
	want := make([]int, len(shape)) // ne order
	for j, sym := range shape {
		k := len(shape) - 1 - j
		var got int64 = -1
		if k < len(info.Shape) {
			got = info.Shape[k]
		}
		n, err := b.dim(sym, got)
		if err != nil {
			return info, nil, err
		}
		want[k] = n
	}
	// Trailing dimensions of 1 are accepted, as llama.cpp does: its
	// converter writes Qwen2-MoE's shared-expert gate, a vector, as the
	// Hugging Face [1, n_embd] matrix, ne {n_embd, 1}.
	ok := len(info.Shape) >= len(want)
	for k := range want {
		ok = ok && info.Shape[k] == int64(want[k]) && want[k] > 0
	}
	for k := len(want); ok && k < len(info.Shape); k++ {
		ok = info.Shape[k] == 1
	}
	if !ok {
		return info, nil, fmt.Errorf("tensor %s: shape %v, want %v", name, info.Shape, want)
	}
	return info, want, nil
}

// data returns the tensor's bytes after checking that the file gives it the
// room its type and shape take (and no more than the alignment padding): a
// tensor whose type or shape was changed after writing is refused here.
func (b *binder) data(info gguf.TensorInfo) ([]byte, error) {
	ext, _ := b.f.TensorExtent(info.Name)
	a := b.f.Alignment()
	if padded := (info.Size + a - 1) / a * a; ext < info.Size || ext > padded {
		return nil, fmt.Errorf("tensor %s: type %v shape %v takes %d bytes, but the file stores %d for it (type or shape changed after writing?)",
			info.Name, info.Type, info.Shape, info.Size, ext)
	}
	data, err := b.f.TensorData(info.Name)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", info.Name, err)
	}
	return data, nil
}

// matmulType maps the GGUF types native.MatMul reads (GGUF's type ids are
// the kernels'): the float types, Q8_0 and the quantized types of
// native.Types (Q4_0 … Q6_K, IQ4_NL, IQ4_XS).
func matmulType(t gguf.TensorType) (native.Type, bool) {
	for _, nt := range native.Types() {
		if uint32(nt) == uint32(t) {
			return nt, true
		}
	}
	return 0, false
}

// matmulTypeNames lists the types matmulType accepts, for error messages.
func matmulTypeNames() string {
	names := make([]string, 0, len(native.Types()))
	for _, nt := range native.Types() {
		names = append(names, nt.String())
	}
	return strings.Join(names, ", ")
}

// matrix binds a 2-D weight of the table's [rows, cols], or a 3-D stack
// [n, rows, cols] (experts) as n*rows rows.
func (b *binder) matrix(name string, shape []string) (Matrix, error) {
	info, _ := b.f.Tensor(name)
	t, ok := matmulType(info.Type)
	if !ok {
		return Matrix{}, fmt.Errorf("tensor %s: unsupported type %v (want one of %s)", name, info.Type, matmulTypeNames())
	}
	info, ne, err := b.info(name, shape)
	if err != nil {
		return Matrix{}, err
	}
	rows, cols := 1, ne[0]
	for _, d := range ne[1:] {
		rows *= d
	}
	rs := native.RowSize(t, cols)
	if rs == 0 {
		return Matrix{}, fmt.Errorf("tensor %s: row length %d is invalid for type %v", name, cols, t)
	}
	data, err := b.data(info)
	if err != nil {
		return Matrix{}, err
	}
	if int64(len(data)) != int64(rows)*int64(rs) {
		return Matrix{}, fmt.Errorf("tensor %s: %d bytes, want %d", name, len(data), rows*rs)
	}
	return Matrix{Name: name, Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// vector binds a 1-D F32 tensor as a []float32 view.
func (b *binder) vector(name string, shape []string) ([]float32, error) {
	info, _ := b.f.Tensor(name)
	if info.Type != gguf.TensorF32 {
		return nil, fmt.Errorf("tensor %s: type %v, want f32", name, info.Type)
	}
	info, ne, err := b.info(name, shape)
	if err != nil {
		return nil, err
	}
	n := ne[0]
	data, err := b.data(info)
	if err != nil {
		return nil, err
	}
	if len(data) != 4*n {
		return nil, fmt.Errorf("tensor %s: %d bytes, want %d", name, len(data), 4*n)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(data)))%4 != 0 {
		return nil, fmt.Errorf("tensor %s: data is not 4-byte aligned", name)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), n), nil
}

// rowsOf is rows [r0, r1) of m as a Matrix of its own (a view, no copy).
func rowsOf(m Matrix, name string, r0, r1 int) Matrix {
	rs := native.RowSize(m.Type, m.Cols)
	return Matrix{Name: name, Type: m.Type, Rows: r1 - r0, Cols: m.Cols, Data: m.Data[r0*rs : r1*rs : r1*rs]}
}

// splitFused turns a fused layer's attn_qkv into Q, K, V and its
// [2*ff]-row ffn_up into Gate and Up (gate rows first, as phi3's
// gate_up_proj and llama.cpp's swiglu split them).
func splitFused(l *Layer, c *Config) error {
	nq, nkv := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim
	if l.QKV.Rows != nq+2*nkv || l.FusedUp.Rows != 2*c.NFF {
		return fmt.Errorf("model: fused tensors %s/%s have %d/%d rows", l.QKV.Name, l.FusedUp.Name, l.QKV.Rows, l.FusedUp.Rows)
	}
	l.Q = rowsOf(l.QKV, l.QKV.Name+"[q]", 0, nq)
	l.K = rowsOf(l.QKV, l.QKV.Name+"[k]", nq, nq+nkv)
	l.V = rowsOf(l.QKV, l.QKV.Name+"[v]", nq+nkv, nq+2*nkv)
	l.Gate = rowsOf(l.FusedUp, l.FusedUp.Name+"[gate]", 0, c.NFF)
	l.Up = rowsOf(l.FusedUp, l.FusedUp.Name+"[up]", c.NFF, 2*c.NFF)
	return nil
}

// chooseRoPEFactors resolves LongRoPE (phi3): rope_factors_long when the
// model's context exceeds the original one the short factors were trained
// for, as llama.cpp does for a context of the model's full length, else
// rope_factors_short. A file has both or neither, and never with Llama 3's
// rope_freqs.
func chooseRoPEFactors(w *Weights, c *Config) error {
	long, short := w.RoPELong != nil, w.RoPEShort != nil
	switch {
	case long != short:
		return fmt.Errorf("model: rope_factors_long and rope_factors_short come in pairs")
	case !long:
		return nil
	case w.RoPEFreqs != nil:
		return fmt.Errorf("model: rope_freqs and rope_factors_* are exclusive")
	case c.RoPE.OrigCtx > 0 && c.NCtx > c.RoPE.OrigCtx:
		w.RoPEFreqs = w.RoPELong
	default:
		w.RoPEFreqs = w.RoPEShort
	}
	return nil
}

// Expert is expert e of a stack of n experts bound as one Matrix (a view).
func (m Matrix) Expert(e, n int) Matrix {
	per := m.Rows / n
	return rowsOf(m, m.Name, e*per, (e+1)*per)
}
