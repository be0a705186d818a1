package native

import (
	"fmt"
	"testing"
)

// TestRepackQ4KSameBits checks that Q4_KR16 weights give the Q4_K weights'
// bits on every variant, for decode (m = 1..3, the direct GEMVs) and
// batches (the GEMM of the unpacked rows), alone and beside another output
// in MatMulMulti.
func TestRepackQ4KSameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, sh := range []struct{ m, n, k int }{{1, 16, 256}, {1, 48, 768}, {2, 32, 2304}, {3, 64, 2048}, {5, 32, 512}, {17, 16, 256}} {
			t.Run(fmt.Sprintf("m%d_n%d_k%d", sh.m, sh.n, sh.k), func(t *testing.T) {
				w := make([]byte, sh.n*RowSize(Q4_K, sh.k))
				if err := Quantize(Q4_K, randSlice(r, sh.n*sh.k, -1, 1), w, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				other := encodeWeights(t, Q8_0, randSlice(r, 16*sh.k, -1, 1))
				checkRepackedSameBits(t, Q4_K, Q4_KR16, w, randSlice(r, sh.m*sh.k, -1, 1), sh.m, sh.n, sh.k, Q8_0, other)
			})
		}
	})
}

// TestRepackQ4KType checks which variants repack Q4_K: every SIMD one (it
// reads the groups directly), never the scalar one.
func TestRepackQ4KType(t *testing.T) {
	forEachISA(t, func(t *testing.T, isa ISA) {
		rt, ok := RepackType(Q4_K)
		if isa == Scalar {
			if ok {
				t.Fatalf("RepackType(q4_k) on scalar = %v, want none", rt)
			}
			return
		}
		if !ok || rt != Q4_KR16 {
			t.Fatalf("RepackType(q4_k) on %v = %v %v, want q4_k_r16", isa, rt, ok)
		}
	})
	if _, err := ParseKernelType("q4_k_r16"); err != nil {
		t.Fatal(err)
	}
	for _, typ := range Types() {
		if typ == Q4_KR16 {
			t.Fatal("Types lists q4_k_r16: GGUF files must not be read as it")
		}
	}
}
