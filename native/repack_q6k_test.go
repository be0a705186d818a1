package native

import (
	"fmt"
	"testing"
)

// TestRepackQ6KSameBits checks that Q6_KR16 weights give the Q6_K weights'
// bits on every variant, for decode (m = 1..3, the direct GEMVs) and
// batches (the GEMM), alone and beside another output in MatMulMulti.
func TestRepackQ6KSameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, sh := range []struct{ m, n, k int }{{1, 16, 256}, {1, 48, 768}, {2, 32, 2048}, {3, 16, 8192}, {5, 64, 1024}, {17, 16, 256}} {
			t.Run(fmt.Sprintf("m%d_n%d_k%d", sh.m, sh.n, sh.k), func(t *testing.T) {
				w := make([]byte, sh.n*RowSize(Q6_K, sh.k))
				if err := Quantize(Q6_K, randSlice(r, sh.n*sh.k, -1, 1), w, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				other := encodeWeights(t, Q8_0, randSlice(r, 16*sh.k, -1, 1))
				checkRepackedSameBits(t, Q6_K, Q6_KR16, w, randSlice(r, sh.m*sh.k, -1, 1), sh.m, sh.n, sh.k, Q8_0, other)
			})
		}
	})
}

// TestRepackQ6KTraits: the Go side sizes Q6_KR16 as the C library does and
// names it for benchmarks; it is no GGUF type.
func TestRepackQ6KTraits(t *testing.T) {
	if got := RowSize(Q6_KR16, 2048); got != 8*212 {
		t.Fatalf("RowSize(q6_k_r16, 2048) = %d, want %d", got, 8*212)
	}
	if src, ok := RepackSource(Q6_KR16); !ok || src != Q6_K {
		t.Fatalf("RepackSource(q6_k_r16) = %v, %v", src, ok)
	}
	if typ, err := ParseKernelType("q6_k_r16"); err != nil || typ != Q6_KR16 {
		t.Fatalf("ParseKernelType(q6_k_r16) = %v, %v", typ, err)
	}
	for _, typ := range Types() {
		if typ == Q6_KR16 {
			t.Fatal("Types lists q6_k_r16: GGUF files must not be read as it")
		}
	}
}
