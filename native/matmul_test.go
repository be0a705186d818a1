package native

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// Named tolerances for MatMul against float64 references of the same
// (already rounded) weights. f32 accumulation over k <= 1024 of products in
// [-1,1] loses well under 1e-4 relative to the sum of |terms|.
const (
	tolMatMulFloatAtol = 2e-4
	tolMatMulFloatRtol = 1e-4
	// Q8_0 also quantizes x: per element error <= amax/254, over k terms.
	tolQ8AtolPerSqrtK = 0.02
)

// roundBF16 rounds a finite float to bfloat16 (nearest even), as the
// AVX512_BF16 variant does with x before its products.
func roundBF16(v float32) float64 {
	u := math.Float32bits(v)
	u += 0x7fff + (u>>16)&1
	return float64(math.Float32frombits(u &^ 0xffff))
}

// bf16DotActive reports whether the active variant runs BF16 weights on
// VDPBF16PS (x rounded to bf16 first).
func bf16DotActive() bool {
	for _, k := range Kernels() {
		if k.Name == "gemv bf16" {
			return strings.HasPrefix(k.Variant, "avx512-bf16")
		}
	}
	return false
}

func TestMatMulMatchesGorgonia(t *testing.T) {
	r := newRNG(t)
	for _, c := range []struct{ m, n, k int }{{1, 17, 33}, {5, 64, 100}, {16, 33, 576}, {130, 24, 31}} {
		x := randSlice(r, c.m*c.k, -1, 1)
		w := randSlice(r, c.n*c.k, -1, 1)
		y := poisoned(c.m * c.n)
		if err := MatMul(F32, encodeWeights(t, F32, w), x, y, c.m, c.n, c.k); err != nil {
			t.Fatal(err)
		}
		X := tensor.New(tensor.WithShape(c.m, c.k), tensor.WithBacking(x))
		W := tensor.New(tensor.WithShape(c.n, c.k), tensor.WithBacking(append([]float32(nil), w...)))
		if err := W.T(); err != nil {
			t.Fatal(err)
		}
		if err := W.Transpose(); err != nil {
			t.Fatal(err)
		}
		Y, err := tensor.MatMul(X, W)
		if err != nil {
			t.Fatal(err)
		}
		ref := Y.Data().([]float32)
		want := make([]float64, len(ref))
		for i, v := range ref {
			want[i] = float64(v)
		}
		closeTo(t, "matmul vs gorgonia", y, want, tolMatMulFloatAtol, tolMatMulFloatRtol)
	}
}

func TestMatMulAllTypesAgainstFloat64(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, typ := range []Type{F32, F16, BF16, Q8_0} {
			for _, c := range []struct{ m, n, k int }{{1, 7, 64}, {3, 33, 96}, {17, 5, 160}, {64, 40, 576}} {
				x := randSlice(r, c.m*c.k, -1, 1)
				wb := encodeWeights(t, typ, randSlice(r, c.n*c.k, -1, 1))
				wd := dequantizeRef(typ, wb, c.n*c.k)
				y := poisoned(c.m * c.n)
				if err := MatMul(typ, wb, x, y, c.m, c.n, c.k); err != nil {
					t.Fatal(err)
				}
				xv := func(v float32) float64 { return float64(v) }
				if typ == BF16 && bf16DotActive() {
					xv = roundBF16 // the variant's rule rounds x first (matmul_bf16_avx512.c)
				}
				want := make([]float64, c.m*c.n)
				for i := 0; i < c.m; i++ {
					for j := 0; j < c.n; j++ {
						var s float64
						for l := 0; l < c.k; l++ {
							s += xv(x[i*c.k+l]) * wd[j*c.k+l]
						}
						want[i*c.n+j] = s
					}
				}
				atol := tolMatMulFloatAtol
				if typ == Q8_0 {
					atol = tolQ8AtolPerSqrtK * float64(c.k) / 32
				}
				closeTo(t, typ.String(), y, want, atol, tolMatMulFloatRtol)
			}
		}
	})
}

// TestMatMulDeterminism: the serving core relies on a row's result not
// depending on the thread count or the other rows in the batch.
func TestMatMulDeterminism(t *testing.T) {
	r := newRNG(t)
	defer Init(0)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, typ := range []Type{F32, F16, BF16, Q8_0} {
			const m, n, k = 16, 77, 320
			x := randSlice(r, m*k, -2, 2)
			w := encodeWeights(t, typ, randSlice(r, n*k, -1, 1))
			run := func(threads, rows int, xs []float32) []float32 {
				if err := Init(threads); err != nil {
					t.Fatal(err)
				}
				if err := SetISA(isa); err != nil {
					t.Fatal(err)
				}
				y := poisoned(rows * n)
				if err := MatMul(typ, w, xs, y, rows, n, k); err != nil {
					t.Fatal(err)
				}
				return y
			}
			one, two := run(1, m, x), run(2, m, x)
			sameBits(t, typ.String()+" 1 vs 2 threads", one, two)
			for _, row := range []int{0, 7, 15} {
				alone := run(2, 1, x[row*k:(row+1)*k])
				sameBits(t, typ.String()+" row alone vs in batch", alone, one[row*n:(row+1)*n])
			}
		}
	})
}

func TestMatMulBadArguments(t *testing.T) {
	w := make([]byte, 34*4)
	x := make([]float32, 64)
	y := make([]float32, 4)
	cases := []struct {
		name string
		err  error
		call func() error
	}{
		{"zero m", ErrSize, func() error { return MatMul(F32, w, x, y, 0, 1, 1) }},
		{"q8_0 k not multiple of 32", ErrAlign, func() error { return MatMul(Q8_0, w, x, y, 1, 1, 33) }},
		{"unknown type", ErrType, func() error { return MatMul(Type(77), w, x, y, 1, 1, 32) }},
		{"short weights", ErrSize, func() error { return MatMul(Q8_0, w[:10], x, y, 1, 2, 64) }},
		{"short output", ErrSize, func() error { return MatMul(F32, w, x, y[:1], 1, 2, 8) }},
		{"quantize short", ErrAlign, func() error { return QuantizeQ8_0(x[:31], w) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
}

// TestMatMulQ8VariantsAgree: every x86 variant computes Q8_0 by one rule
// (one f32 accumulator per output, one fma per block over exact int32 block
// dots), so AVX2 and AVX-512 (VNNI or not) give the same bits, for GEMV
// and GEMM batches alike.
func TestMatMulQ8VariantsAgree(t *testing.T) {
	if !Supported(AVX2) || !Supported(AVX512) {
		t.Skip("needs both avx2 and avx512")
	}
	r := newRNG(t)
	defer SetISA(CurrentISA())
	for _, c := range []struct{ m, n, k int }{{1, 37, 1056}, {3, 203, 96}, {4, 33, 8192}, {16, 77, 320}, {61, 19, 64}} {
		t.Run(fmt.Sprintf("m%d_n%d_k%d", c.m, c.n, c.k), func(t *testing.T) {
			x := randSlice(r, c.m*c.k, -2, 2)
			w := encodeWeights(t, Q8_0, randSlice(r, c.n*c.k, -1, 1))
			var got [2][]float32
			for i, isa := range []ISA{AVX2, AVX512} {
				if err := SetISA(isa); err != nil {
					t.Fatal(err)
				}
				got[i] = poisoned(c.m * c.n)
				if err := MatMul(Q8_0, w, x, got[i], c.m, c.n, c.k); err != nil {
					t.Fatal(err)
				}
			}
			sameBits(t, "q8_0 avx2 vs avx512", got[0], got[1])
		})
	}
}
