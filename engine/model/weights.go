package model

import (
	"fmt"
	"unsafe"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// Matrix is a 2-D weight used in place from the mmap: Rows rows of Cols
// elements of Type in GGUF's layout, so native.MatMul can read it directly.
type Matrix struct {
	Name string
	Type native.Type // F32, F16, BF16 or Q8_0
	Rows int         // output features (n)
	Cols int         // input features (k), contiguous
	Data []byte      // Rows*RowSize(Type, Cols) bytes, read-only (mmap)
}

// Layer holds one transformer block's weights.
type Layer struct {
	AttnNorm []float32 // [NEmbd]
	Q        Matrix    // [NHead*HeadDim, NEmbd]
	K, V     Matrix    // [NHeadKV*HeadDim, NEmbd]
	QBias    []float32 // [NHead*HeadDim], qwen2 only
	KBias    []float32 // [NHeadKV*HeadDim], qwen2 only
	VBias    []float32 // [NHeadKV*HeadDim], qwen2 only
	O        Matrix    // [NEmbd, NHead*HeadDim]
	FFNNorm  []float32 // [NEmbd]
	Gate, Up Matrix    // [NFF, NEmbd]
	Down     Matrix    // [NEmbd, NFF]
}

// Weights are all of a model's tensors, bound as zero-copy views of the
// GGUF mapping (valid until Model.Close).
type Weights struct {
	TokEmbd   Matrix    // [NVocab, NEmbd]
	OutNorm   []float32 // [NEmbd]
	Output    Matrix    // [NVocab, NEmbd]; token_embd when tied
	RoPEFreqs []float32 // [RoPE.Dims/2] or nil (Llama 3 frequency divisors)
	Layers    []Layer
}

// binder reads tensors from one file and reports the first problem with the
// tensor's name, so a bad file fails at load rather than in Forward.
type binder struct {
	f *gguf.File
}

func (b binder) has(name string) bool {
	_, ok := b.f.Tensor(name)
	return ok
}

// matrix binds a 2-D tensor of shape [cols, rows] (ggml ne order).
func (b binder) matrix(name string, rows, cols int) (Matrix, error) {
	info, ok := b.f.Tensor(name)
	if !ok {
		return Matrix{}, fmt.Errorf("missing tensor %s", name)
	}
	var t native.Type
	switch info.Type {
	case gguf.TensorF32:
		t = native.F32
	case gguf.TensorF16:
		t = native.F16
	case gguf.TensorBF16:
		t = native.BF16
	case gguf.TensorQ8_0:
		t = native.Q8_0
	default:
		return Matrix{}, fmt.Errorf("tensor %s: unsupported type %v (want f32, f16, bf16 or q8_0)", name, info.Type)
	}
	if len(info.Shape) != 2 || info.Shape[0] != int64(cols) || (rows > 0 && info.Shape[1] != int64(rows)) {
		return Matrix{}, fmt.Errorf("tensor %s: shape %v, want [%d %d]", name, info.Shape, cols, rows)
	}
	if rows <= 0 {
		rows = int(info.Shape[1])
	}
	rs := native.RowSize(t, cols)
	if rs == 0 {
		return Matrix{}, fmt.Errorf("tensor %s: row length %d is invalid for type %v", name, cols, t)
	}
	data, err := b.f.TensorData(name)
	if err != nil {
		return Matrix{}, fmt.Errorf("tensor %s: %w", name, err)
	}
	if int64(len(data)) != int64(rows)*int64(rs) {
		return Matrix{}, fmt.Errorf("tensor %s: %d bytes, want %d", name, len(data), rows*rs)
	}
	return Matrix{Name: name, Type: t, Rows: rows, Cols: cols, Data: data}, nil
}

// vector binds a 1-D F32 tensor of n elements as a []float32 view.
func (b binder) vector(name string, n int) ([]float32, error) {
	info, ok := b.f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("missing tensor %s", name)
	}
	if info.Type != gguf.TensorF32 {
		return nil, fmt.Errorf("tensor %s: type %v, want f32", name, info.Type)
	}
	if len(info.Shape) != 1 || info.Shape[0] != int64(n) {
		return nil, fmt.Errorf("tensor %s: shape %v, want [%d]", name, info.Shape, n)
	}
	data, err := b.f.TensorData(name)
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	if len(data) != 4*n {
		return nil, fmt.Errorf("tensor %s: %d bytes, want %d", name, len(data), 4*n)
	}
	if uintptr(unsafe.Pointer(unsafe.SliceData(data)))%4 != 0 {
		return nil, fmt.Errorf("tensor %s: data is not 4-byte aligned", name)
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), n), nil
}

// bindWeights binds every tensor c needs from f and checks its shape.
func bindWeights(f *gguf.File, c *Config) (*Weights, error) {
	b := binder{f}
	w := &Weights{}
	var err error
	if w.TokEmbd, err = b.matrix("token_embd.weight", 0, c.NEmbd); err != nil {
		return nil, err
	}
	c.NVocab = w.TokEmbd.Rows
	if w.OutNorm, err = b.vector("output_norm.weight", c.NEmbd); err != nil {
		return nil, err
	}
	w.Output = w.TokEmbd
	if b.has("output.weight") {
		if w.Output, err = b.matrix("output.weight", c.NVocab, c.NEmbd); err != nil {
			return nil, err
		}
	}
	if b.has("rope_freqs.weight") {
		if w.RoPEFreqs, err = b.vector("rope_freqs.weight", c.RoPE.Dims/2); err != nil {
			return nil, err
		}
	}
	q, kv := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim
	w.Layers = make([]Layer, c.NLayer)
	for i := range w.Layers {
		if err := bindLayer(b, c, &w.Layers[i], i, q, kv); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func bindLayer(b binder, c *Config, l *Layer, i, q, kv int) error {
	name := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
	var err error
	mats := []struct {
		dst        *Matrix
		name       string
		rows, cols int
	}{
		{&l.Q, "attn_q.weight", q, c.NEmbd},
		{&l.K, "attn_k.weight", kv, c.NEmbd},
		{&l.V, "attn_v.weight", kv, c.NEmbd},
		{&l.O, "attn_output.weight", c.NEmbd, q},
		{&l.Gate, "ffn_gate.weight", c.NFF, c.NEmbd},
		{&l.Up, "ffn_up.weight", c.NFF, c.NEmbd},
		{&l.Down, "ffn_down.weight", c.NEmbd, c.NFF},
	}
	for _, m := range mats {
		if *m.dst, err = b.matrix(name(m.name), m.rows, m.cols); err != nil {
			return err
		}
	}
	vecs := []struct {
		dst  *[]float32
		name string
		n    int
	}{
		{&l.AttnNorm, "attn_norm.weight", c.NEmbd},
		{&l.FFNNorm, "ffn_norm.weight", c.NEmbd},
	}
	if c.HasBiases {
		vecs = append(vecs, []struct {
			dst  *[]float32
			name string
			n    int
		}{
			{&l.QBias, "attn_q.bias", q},
			{&l.KBias, "attn_k.bias", kv},
			{&l.VBias, "attn_v.bias", kv},
		}...)
	}
	for _, v := range vecs {
		if *v.dst, err = b.vector(name(v.name), v.n); err != nil {
			return err
		}
	}
	return nil
}
