package quantize

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// Report says what File did: the type each tensor was written in.
type Report struct {
	Types  map[string]native.Type // every tensor's type in the output
	Counts map[native.Type]int    // tensors per output type
}

// File writes a copy of the GGUF file in to out with its weight matrices
// quantized as llama-quantize's preset p does without an importance
// matrix: the same tensor types (llama_tensor_get_type: output and tied
// embeddings Q6_K, more bits for some attn_v and ffn_down layers, 32-element
// fallbacks for rows a K-quant block does not divide), the same tensor
// order (by layer, then name), the same metadata (general.quantization_version
// and general.file_type set last) and the same quantized bytes
// (native.Quantize). Tensors it does not quantize are copied. Inputs must
// hold F32, F16 or BF16 matrices: requantizing is refused, as
// llama-quantize refuses it by default. Matrices are converted a few rows at
// a time, so memory stays small.
func File(in, out string, p Preset) (Report, error) {
	rep := Report{Types: map[string]native.Type{}, Counts: map[native.Type]int{}}
	f, err := gguf.Open(in)
	if err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	defer f.Close()
	arch, _ := f.String(gguf.KeyArchitecture)
	nLayer, ok := f.Uint32(arch + ".block_count")
	if !ok {
		return rep, fmt.Errorf("quantize: %s: no %s.block_count", in, arch)
	}
	nHead, _ := f.Uint32(arch + ".attention.head_count")
	nHeadKV, _ := f.Uint32(arch + ".attention.head_count_kv")

	w := gguf.NewWriter()
	for _, e := range f.KVs() {
		if err := w.Set(e.Key, e.Value); err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
	}
	if err := SetFileMeta(w, p); err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	order, types, err := Plan(p, Shape{Arch: arch, NLayer: int(nLayer), NHead: int(nHead), NHeadKV: int(nHeadKV)}, f.Tensors())
	if err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	for i, idx := range order {
		t, target := f.Tensors()[idx], types[i]
		data, err := f.TensorDataAt(idx)
		if err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
		rep.Types[t.Name] = target
		rep.Counts[target]++
		if target == native.Type(t.Type) {
			if err := w.AddTensor(t.Name, t.Type, t.Shape, data); err != nil {
				return rep, fmt.Errorf("quantize: %w", err)
			}
			continue
		}
		r := &rowReader{src: data, from: native.Type(t.Type), to: target, cols: int(t.Shape[0])}
		if err := w.AddTensorReader(t.Name, gguf.TensorType(target), t.Shape, r); err != nil {
			return rep, fmt.Errorf("quantize: %w", err)
		}
	}
	if err := w.WriteFile(out); err != nil {
		return rep, fmt.Errorf("quantize: %w", err)
	}
	return rep, nil
}

// tensorOrder is the order llama.cpp's model loader keeps weights in
// (weight_name_comparer): by the layer number of "blk.N." names (others,
// as -1, first), then by name.
func tensorOrder(ts []gguf.TensorInfo) []int {
	layer := func(name string) int {
		rest, ok := strings.CutPrefix(name, "blk.")
		if !ok {
			return -1
		}
		end := 0
		for end < len(rest) && (rest[end] >= '0' && rest[end] <= '9' || end == 0 && (rest[0] == '-' || rest[0] == '+')) {
			end++
		}
		n, err := strconv.Atoi(rest[:end])
		if err != nil {
			return -1
		}
		return n
	}
	idx := make([]int, len(ts))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		la, lb := layer(ts[idx[a]].Name), layer(ts[idx[b]].Name)
		if la != lb {
			return la < lb
		}
		return ts[idx[a]].Name < ts[idx[b]].Name
	})
	return idx
}

// rowsPerChunk rows are converted per native call (one pool hand-off).
const rowsPerChunk = 64

// rowReader yields src (rows of type from, cols wide) converted to type to,
// rowsPerChunk rows at a time.
type rowReader struct {
	src      []byte
	from, to native.Type
	cols     int
	f32      []float32
	out, buf []byte
}

func (r *rowReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		in := native.RowSize(r.from, r.cols)
		rows := min(rowsPerChunk, len(r.src)/in)
		if rows == 0 {
			return 0, io.EOF
		}
		n := rows * r.cols
		if r.f32 == nil {
			r.f32 = make([]float32, rowsPerChunk*r.cols)
			r.out = make([]byte, rowsPerChunk*native.RowSize(r.to, r.cols))
		}
		x := r.f32[:n]
		if r.from == native.F32 {
			for i := range x {
				x[i] = math.Float32frombits(uint32(r.src[4*i]) | uint32(r.src[4*i+1])<<8 | uint32(r.src[4*i+2])<<16 | uint32(r.src[4*i+3])<<24)
			}
		} else if err := native.Dequantize(r.from, r.src[:rows*in], x); err != nil {
			return 0, fmt.Errorf("dequantize: %w", err)
		}
		outBytes := rows * native.RowSize(r.to, r.cols)
		if r.to == native.F16 {
			h := make([]uint16, n)
			if err := native.F32ToF16(x, h); err != nil {
				return 0, err
			}
			for i, v := range h {
				r.out[2*i], r.out[2*i+1] = byte(v), byte(v>>8)
			}
		} else if err := native.Quantize(r.to, x, r.out[:outBytes], rows, r.cols); err != nil {
			return 0, err
		}
		r.src = r.src[rows*in:]
		r.buf = r.out[:outBytes]
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
