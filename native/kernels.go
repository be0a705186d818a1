package native

import "runtime"

// MatMul computes y[m,n] = x[m,k] · w[n,k]ᵀ. w holds n rows of k elements of
// type t in GGUF's layout (F32, F16, BF16, Q8_0 or a quantized type of
// Types; used in place, e.g. from an mmap). For Q8_0 and the 32-element
// types x is quantized to Q8_0 on the fly, for the 256-element K-quants and
// IQ4_XS to Q8_K, and the products are int8 dot products; k must be a
// multiple of the type's block.
func MatMul(t Type, w []byte, x, y []float32, m, n, k int) error {
	const op = "matmul"
	if m <= 0 || n <= 0 || k <= 0 {
		return argError(op, ErrSize, "m=%d n=%d k=%d must be positive", m, n, k)
	}
	if bs := t.BlockSize(); bs > 1 && k%bs != 0 {
		return argError(op, ErrAlign, "k=%d is not a multiple of %v's block of %d", k, t, bs)
	}
	rs := RowSize(t, k)
	if rs == 0 {
		return argError(op, ErrType, "weight type %v", t)
	}
	if len(w) < n*rs || len(x) < m*k || len(y) < m*n {
		return argError(op, ErrSize, "len(w)=%d len(x)=%d len(y)=%d, want >= %d, %d, %d", len(w), len(x), len(y), n*rs, m*k, m*n)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bMatmul(int32(t), ptr(w), ptr(x), ptr(y), int64(m), int64(n), int64(k))
	runtime.KeepAlive(w)
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	return check(op, rc)
}

// MatOut is one output of MatMulMulti: Y[m, N] = x[m, k] · W[N, k]ᵀ, W holding
// N rows of type Type (as for MatMul).
type MatOut struct {
	Type Type
	W    []byte
	Y    []float32
	N    int
}

// MaxMatOuts is the most outputs one MatMulMulti call takes.
const MaxMatOuts = 4

// MatMulMulti computes several matmuls over the same x (attention Q, K, V;
// FFN gate and up) in one native call: bit-identical to one MatMul per
// output, but x is quantized once and one pool hand-off covers every
// output's columns. A bad output is an error before anything is written.
func MatMulMulti(x []float32, m, k int, outs ...MatOut) error {
	const op = "matmul_multi"
	if len(outs) == 0 || len(outs) > MaxMatOuts {
		return argError(op, ErrSize, "%d outputs, want 1..%d", len(outs), MaxMatOuts)
	}
	if m <= 0 || k <= 0 || len(x) < m*k {
		return argError(op, ErrSize, "m=%d k=%d len(x)=%d", m, k, len(x))
	}
	for i, o := range outs {
		if o.N <= 0 {
			return argError(op, ErrSize, "output %d: n=%d must be positive", i, o.N)
		}
		if bs := o.Type.BlockSize(); bs > 1 && k%bs != 0 {
			return argError(op, ErrAlign, "output %d: k=%d is not a multiple of %v's block of %d", i, k, o.Type, bs)
		}
		rs := RowSize(o.Type, k)
		if rs == 0 {
			return argError(op, ErrType, "output %d: weight type %v", i, o.Type)
		}
		if len(o.W) < o.N*rs || len(o.Y) < m*o.N {
			return argError(op, ErrSize, "output %d: len(w)=%d len(y)=%d, want >= %d, %d", i, len(o.W), len(o.Y), o.N*rs, m*o.N)
		}
	}
	if err := load(); err != nil {
		return err
	}
	rc := bMatmulMulti(ptr(x), int64(m), int64(k), outs)
	runtime.KeepAlive(x)
	runtime.KeepAlive(outs)
	return check(op, rc)
}

// QuantizeQ8_0 writes len(x)/32 Q8_0 blocks of x into y (34 bytes each).
func QuantizeQ8_0(x []float32, y []byte) error {
	const op = "quantize_q8_0"
	n := len(x)
	if n == 0 || n%QK8_0 != 0 {
		return argError(op, ErrAlign, "len(x)=%d is not a positive multiple of %d", n, QK8_0)
	}
	if len(y) < RowSize(Q8_0, n) {
		return argError(op, ErrSize, "len(y)=%d < %d", len(y), RowSize(Q8_0, n))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bQuantizeQ8(ptr(x), ptr(y), int64(n))
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	return check(op, rc)
}

// QuantizeSupported reports whether Quantize writes type t.
func QuantizeSupported(t Type) bool {
	if load() != nil {
		return false
	}
	return bQuantizeSupported(int32(t))
}

// Quantize writes rows×perRow floats of x as rows of type t (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) into y, RowSize(t, perRow) bytes per
// row: the bytes llama.cpp's reference quantizers write for the same floats
// (no importance matrix).
func Quantize(t Type, x []float32, y []byte, rows, perRow int) error {
	const op = "quantize"
	if rows <= 0 || perRow <= 0 {
		return argError(op, ErrSize, "rows=%d per_row=%d must be positive", rows, perRow)
	}
	if bs := t.BlockSize(); bs > 1 && perRow%bs != 0 {
		return argError(op, ErrAlign, "row length %d is not a multiple of %v's block of %d", perRow, t, bs)
	}
	rs := RowSize(t, perRow)
	if rs == 0 || !QuantizeSupported(t) {
		return argError(op, ErrType, "cannot quantize to %v", t)
	}
	if len(x) < rows*perRow || len(y) < rows*rs {
		return argError(op, ErrSize, "len(x)=%d len(y)=%d, want >= %d, %d", len(x), len(y), rows*perRow, rows*rs)
	}
	rc := bQuantize(int32(t), ptr(x), ptr(y), int64(rows), int64(perRow))
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	return check(op, rc)
}

// Dequantize expands len(y) elements of type t from x into y.
func Dequantize(t Type, x []byte, y []float32) error {
	const op = "dequantize"
	n := len(y)
	if n == 0 {
		return argError(op, ErrSize, "empty output")
	}
	rs := RowSize(t, n)
	if rs == 0 {
		if bs := t.BlockSize(); bs > 1 {
			return argError(op, ErrAlign, "n=%d is not a multiple of %v's block of %d", n, t, bs)
		}
		return argError(op, ErrType, "type %v", t)
	}
	if len(x) < rs {
		return argError(op, ErrSize, "len(x)=%d < %d bytes", len(x), rs)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bDequantize(int32(t), ptr(x), ptr(y), int64(n))
	runtime.KeepAlive(x)
	runtime.KeepAlive(y)
	return check(op, rc)
}

// F16ToF32, BF16ToF32, F32ToF16 and F32ToBF16 convert min(len(x), len(y))
// elements; halves round to nearest even.
func F16ToF32(x []uint16, y []float32) error {
	n := min(len(x), len(y))
	return convert("f16_to_f32", n, func() int32 { return bF16ToF32(ptr(x), ptr(y), int64(n)) })
}

func BF16ToF32(x []uint16, y []float32) error {
	n := min(len(x), len(y))
	return convert("bf16_to_f32", n, func() int32 { return bBF16ToF32(ptr(x), ptr(y), int64(n)) })
}

func F32ToF16(x []float32, y []uint16) error {
	n := min(len(x), len(y))
	return convert("f32_to_f16", n, func() int32 { return bF32ToF16(ptr(x), ptr(y), int64(n)) })
}

func F32ToBF16(x []float32, y []uint16) error {
	n := min(len(x), len(y))
	return convert("f32_to_bf16", n, func() int32 { return bF32ToBF16(ptr(x), ptr(y), int64(n)) })
}

func convert(op string, n int, call func() int32) error {
	if n == 0 {
		return argError(op, ErrSize, "empty input or output")
	}
	if err := load(); err != nil {
		return err
	}
	return check(op, call())
}

// RMSNorm sets each of the m rows of y[m,n] to x / sqrt(mean(x²) + eps) * w
// (w nil = ones). y and x may be the same slice.
func RMSNorm(y, x, w []float32, m, n int, eps float32) error {
	const op = "rmsnorm"
	if m <= 0 || n <= 0 {
		return argError(op, ErrSize, "m=%d n=%d must be positive", m, n)
	}
	if len(x) < m*n || len(y) < m*n || (w != nil && len(w) < n) {
		return argError(op, ErrSize, "len(y)=%d len(x)=%d len(w)=%d for m=%d n=%d", len(y), len(x), len(w), m, n)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bRMSNorm(ptr(y), ptr(x), ptr(w), int64(m), int64(n), eps)
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	return check(op, rc)
}

// Softmax sets each of the m rows of y[m,n] to softmax(x row).
func Softmax(y, x []float32, m, n int) error {
	const op = "softmax"
	if m <= 0 || n <= 0 {
		return argError(op, ErrSize, "m=%d n=%d must be positive", m, n)
	}
	if len(x) < m*n || len(y) < m*n {
		return argError(op, ErrSize, "len(y)=%d len(x)=%d < m*n=%d", len(y), len(x), m*n)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bSoftmax(ptr(y), ptr(x), int64(m), int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	return check(op, rc)
}

// SwiGLU sets y = silu(gate) * up over len(y) elements.
func SwiGLU(y, gate, up []float32) error {
	const op = "swiglu"
	n := len(y)
	if n == 0 || len(gate) < n || len(up) < n {
		return argError(op, ErrSize, "len(y)=%d len(gate)=%d len(up)=%d", n, len(gate), len(up))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bSwiGLU(ptr(y), ptr(gate), ptr(up), int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(gate)
	runtime.KeepAlive(up)
	return check(op, rc)
}

// Add sets y = a + b over len(y) elements.
func Add(y, a, b []float32) error {
	const op = "add"
	n := len(y)
	if n == 0 || len(a) < n || len(b) < n {
		return argError(op, ErrSize, "len(y)=%d len(a)=%d len(b)=%d", n, len(a), len(b))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bAdd(ptr(y), ptr(a), ptr(b), int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return check(op, rc)
}

// Scale sets y = x * s over len(y) elements.
func Scale(y, x []float32, s float32) error {
	const op = "scale"
	n := len(y)
	if n == 0 || len(x) < n {
		return argError(op, ErrSize, "len(y)=%d len(x)=%d", n, len(x))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bScale(ptr(y), ptr(x), s, int64(n))
	runtime.KeepAlive(y)
	runtime.KeepAlive(x)
	return check(op, rc)
}

// RoPEParams describe a rotary embedding (see kiln_rope in kiln.h).
type RoPEParams struct {
	NHeads, HeadDim int
	Dims            int // rotated dimensions per head (even, <= HeadDim)
	Mode            RoPEMode
	FreqBase        float32
	FreqScale       float32
	FreqFactors     []float32 // nil or Dims/2 divisors (Llama 3 rope_freqs)
}

// RoPE rotates x[len(pos), NHeads, HeadDim] in place; token i is at pos[i].
func RoPE(x []float32, pos []int32, p RoPEParams) error {
	const op = "rope"
	m := len(pos)
	if m == 0 || p.NHeads <= 0 || p.HeadDim <= 0 {
		return argError(op, ErrSize, "tokens=%d heads=%d head_dim=%d", m, p.NHeads, p.HeadDim)
	}
	if len(x) < m*p.NHeads*p.HeadDim {
		return argError(op, ErrSize, "len(x)=%d < %d", len(x), m*p.NHeads*p.HeadDim)
	}
	if p.FreqFactors != nil && len(p.FreqFactors) < p.Dims/2 {
		return argError(op, ErrSize, "len(freq_factors)=%d < dims/2=%d", len(p.FreqFactors), p.Dims/2)
	}
	if err := load(); err != nil {
		return err
	}
	rc := bRoPE(ptr(x), ptr(pos), int64(m), int32(p.NHeads), int32(p.HeadDim), int32(p.Dims), int32(p.Mode),
		p.FreqBase, p.FreqScale, ptr(p.FreqFactors))
	runtime.KeepAlive(x)
	runtime.KeepAlive(pos)
	runtime.KeepAlive(p.FreqFactors)
	return check(op, rc)
}

// GetRows writes float rows table[ids[i]] into y[len(ids), k]; table holds
// nRows rows of k elements of type t. An id out of range writes nothing.
func GetRows(t Type, table []byte, nRows, k int, ids []int32, y []float32) error {
	const op = "get_rows"
	if nRows <= 0 || k <= 0 || len(ids) == 0 {
		return argError(op, ErrSize, "rows=%d k=%d ids=%d", nRows, k, len(ids))
	}
	rs := RowSize(t, k)
	if rs == 0 {
		return argError(op, ErrType, "type %v with k=%d", t, k)
	}
	if len(table) < nRows*rs || len(y) < len(ids)*k {
		return argError(op, ErrSize, "len(table)=%d len(y)=%d", len(table), len(y))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bGetRows(int32(t), ptr(table), int64(nRows), int64(k), ptr(ids), int64(len(ids)), ptr(y))
	runtime.KeepAlive(table)
	runtime.KeepAlive(ids)
	runtime.KeepAlive(y)
	return check(op, rc)
}
