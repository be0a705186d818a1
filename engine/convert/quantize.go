package convert

import (
	"fmt"
	"io"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// QuantizeReport says what Quantize did with each tensor.
type QuantizeReport struct {
	Quantized []string
	// Kept lists tensors left as they were, with the reason.
	Kept map[string]string
}

// Quantize writes a copy of the GGUF file in with every 2-D F32/F16/BF16
// weight whose row length is a multiple of 32 converted to Q8_0, as
// llama.cpp's quantize does for Q8_0 (token_embd included, 1-D tensors kept
// F32). All metadata is copied; general.file_type becomes 7 (MOSTLY_Q8_0).
// Converted tensors are streamed a row at a time, so memory stays small.
func Quantize(in, out string, typ native.Type) (QuantizeReport, error) {
	rep := QuantizeReport{Kept: map[string]string{}}
	if typ != native.Q8_0 {
		return rep, fmt.Errorf("quantize: type %v: only q8_0 is supported", typ)
	}
	f, err := gguf.Open(in)
	if err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, e := range f.KVs() {
		if err := w.Set(e.Key, e.Value); err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
	}
	for _, e := range []struct {
		key string
		v   uint32
	}{{"general.file_type", 7}, {"general.quantization_version", 2}} {
		if err := w.Set(e.key, e.v); err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
	}
	for i, t := range f.Tensors() {
		data, err := f.TensorDataAt(i)
		if err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
		why := keepReason(t)
		if why != "" {
			rep.Kept[t.Name] = why
			if err := w.AddTensor(t.Name, t.Type, t.Shape, data); err != nil {
				return rep, fmt.Errorf("quantize: %w", err)
			}
			continue
		}
		r := &q8Reader{src: data, from: native.Type(t.Type), cols: int(t.Shape[0])}
		if err := w.AddTensorReader(t.Name, gguf.TensorQ8_0, t.Shape, r); err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
		rep.Quantized = append(rep.Quantized, t.Name)
	}
	if err := w.WriteFile(out); err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	return rep, nil
}

// keepReason is why tensor t is not quantized, or "" if it will be.
func keepReason(t gguf.TensorInfo) string {
	switch {
	case len(t.Shape) < 2:
		return "1-D (kept as in llama.cpp)"
	case t.Type == gguf.TensorQ8_0:
		return "already q8_0"
	case t.Type != gguf.TensorF32 && t.Type != gguf.TensorF16 && t.Type != gguf.TensorBF16:
		return fmt.Sprintf("type %v is not f32/f16/bf16", t.Type)
	case t.Shape[0]%native.QK8_0 != 0:
		return fmt.Sprintf("row length %d is not a multiple of %d", t.Shape[0], native.QK8_0)
	}
	return ""
}

// q8Reader yields src (rows of type from, cols wide) converted to Q8_0, one
// row at a time.
type q8Reader struct {
	src  []byte
	from native.Type
	cols int
	f32  []float32
	out  []byte
	buf  []byte
}

func (r *q8Reader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		rs := native.RowSize(r.from, r.cols)
		if len(r.src) < rs || rs == 0 {
			return 0, io.EOF
		}
		if r.f32 == nil {
			r.f32 = make([]float32, r.cols)
			r.out = make([]byte, native.RowSize(native.Q8_0, r.cols))
		}
		if err := native.Dequantize(r.from, r.src[:rs], r.f32); err != nil {
			return 0, fmt.Errorf("dequantize: %w", err)
		}
		if err := native.QuantizeQ8_0(r.f32, r.out); err != nil {
			return 0, fmt.Errorf("quantize: %w", err)
		}
		r.src = r.src[rs:]
		r.buf = r.out
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
