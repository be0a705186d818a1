package native

import (
	"fmt"
	"testing"
)

// repackedTypes are Q5_K, IQ4_XS, IQ4_NL, Q4_1 and Q5_1, which keep their
// byte size when repacked, with the traits Go must agree on with the C
// library.
var repackedTypes = []struct {
	src, to  Type
	name     string
	rowBytes int // bytes of a 2048-element row
}{
	{Q5_K, Q5_KR16, "q5_k_r16", 8 * 176},
	{IQ4_XS, IQ4_XSR16, "iq4_xs_r16", 8 * 136},
	{IQ4_NL, IQ4_NLR16, "iq4_nl_r16", 64 * 18},
	{Q4_1, Q4_1R16, "q4_1_r16", 64 * 20},
	{Q5_1, Q5_1R16, "q5_1_r16", 64 * 24},
}

// TestRepackTypesSameBits checks that Q5_KR16, IQ4_XSR16, IQ4_NLR16,
// Q4_1R16 and Q5_1R16 weights give their source weights' bits on every variant, for decode (m = 1..3, the
// direct GEMVs) and batches (the GEMM of the unpacked rows), alone and
// beside another output in MatMulMulti.
func TestRepackTypesSameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, tc := range repackedTypes {
			for _, sh := range []struct{ m, n, k int }{{1, 16, 256}, {1, 48, 768}, {2, 32, 2304}, {3, 64, 2048}, {3, 16, 8192}, {5, 32, 512}, {17, 16, 256}} {
				t.Run(fmt.Sprintf("%v_m%d_n%d_k%d", tc.src, sh.m, sh.n, sh.k), func(t *testing.T) {
					w := make([]byte, sh.n*RowSize(tc.src, sh.k))
					if err := Quantize(tc.src, randSlice(r, sh.n*sh.k, -1, 1), w, sh.n, sh.k); err != nil {
						t.Fatal(err)
					}
					other := encodeWeights(t, Q8_0, randSlice(r, 16*sh.k, -1, 1))
					checkRepackedSameBits(t, tc.src, tc.to, w, randSlice(r, sh.m*sh.k, -1, 1), sh.m, sh.n, sh.k, Q8_0, other)
				})
			}
		}
	})
}

// TestRepackTypesTraits: the Go side sizes the repacked types as the C
// library does, names them for benchmarks, repacks into them on every SIMD
// variant (never on the scalar one), and never lists them as GGUF types.
func TestRepackTypesTraits(t *testing.T) {
	for _, tc := range repackedTypes {
		if got := RowSize(tc.to, 2048); got != tc.rowBytes {
			t.Fatalf("RowSize(%s, 2048) = %d, want %d", tc.name, got, tc.rowBytes)
		}
		if src, ok := RepackSource(tc.to); !ok || src != tc.src {
			t.Fatalf("RepackSource(%s) = %v, %v", tc.name, src, ok)
		}
		if typ, err := ParseKernelType(tc.name); err != nil || typ != tc.to {
			t.Fatalf("ParseKernelType(%s) = %v, %v", tc.name, typ, err)
		}
		for _, typ := range Types() {
			if typ == tc.to {
				t.Fatalf("Types lists %s: GGUF files must not be read as it", tc.name)
			}
		}
	}
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, tc := range repackedTypes {
			rt, ok := RepackType(tc.src)
			if isa == Scalar {
				if ok {
					t.Fatalf("RepackType(%v) on scalar = %v, want none", tc.src, rt)
				}
				continue
			}
			if !ok || rt != tc.to {
				t.Fatalf("RepackType(%v) on %v = %v %v, want %s", tc.src, isa, rt, ok, tc.name)
			}
		}
	})
}
