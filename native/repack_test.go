package native

import (
	"errors"
	"fmt"
	"testing"
)

// TestRepackSameBits checks that Q8_0R16 weights give the Q8_0 weights'
// bits on every variant, for decode (m = 1) and batches (the GEMM), alone and
// beside another output in MatMulMulti.
func TestRepackSameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, sh := range []struct{ m, n, k int }{{1, 16, 64}, {1, 48, 576}, {3, 32, 1088}, {5, 64, 2048}, {17, 16, 128}} {
			t.Run(fmt.Sprintf("m%d_n%d_k%d", sh.m, sh.n, sh.k), func(t *testing.T) {
				w := encodeWeights(t, Q8_0, randSlice(r, sh.n*sh.k, -1, 1))
				packed := make([]byte, len(w))
				if err := Repack(Q8_0, w, sh.n, sh.k, packed); err != nil {
					t.Fatal(err)
				}
				x := randSlice(r, sh.m*sh.k, -1, 1)
				want, got := poisoned(sh.m*sh.n), poisoned(sh.m*sh.n)
				if err := MatMul(Q8_0, w, x, want, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				if err := MatMul(Q8_0R16, packed, x, got, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				sameBits(t, "matmul q8_0_r16 vs q8_0", want, got)
				other := encodeWeights(t, Q8_0, randSlice(r, 16*sh.k, -1, 1))
				wantO, gotR, gotO := poisoned(sh.m*16), poisoned(sh.m*sh.n), poisoned(sh.m*16)
				if err := MatMul(Q8_0, other, x, wantO, sh.m, 16, sh.k); err != nil {
					t.Fatal(err)
				}
				if err := MatMulMulti(x, sh.m, sh.k, MatOut{Q8_0R16, packed, gotR, sh.n}, MatOut{Q8_0, other, gotO, 16}); err != nil {
					t.Fatal(err)
				}
				sameBits(t, "multi q8_0_r16", want, gotR)
				sameBits(t, "multi q8_0 beside it", wantO, gotO)
			})
		}
	})
}

func TestRepackBadArguments(t *testing.T) {
	w := make([]byte, RowSize(Q8_0, 128)*32)
	out := make([]byte, len(w))
	for _, tc := range []struct {
		name    string
		typ     Type
		n, k    int
		w, out  []byte
		wantErr error
	}{
		{"n not a multiple of 16", Q8_0, 24, 128, w, out, ErrAlign},
		{"k not a multiple of 64", Q8_0, 32, 96, w, out, ErrAlign},
		{"type without a layout", F32, 32, 128, w, out, ErrType},
		{"short output", Q8_0, 32, 128, w, out[:100], ErrSize},
		{"zero rows", Q8_0, 0, 128, w, out, ErrSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Repack(tc.typ, tc.w, tc.n, tc.k, tc.out); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Repack: %v, want %v", err, tc.wantErr)
			}
		})
	}
	y := poisoned(24)
	if err := MatMul(Q8_0R16, w, make([]float32, 128), y, 1, 24, 128); !errors.Is(err, ErrAlign) {
		t.Fatalf("MatMul q8_0_r16 n=24: %v, want %v", err, ErrAlign)
	}
	for _, typ := range Types() {
		if typ == Q8_0R16 {
			t.Fatal("Types lists q8_0_r16: GGUF files must not be read as it")
		}
	}
	if rt, ok := RepackType(F16); ok {
		t.Fatalf("RepackType(f16) = %v, want none", rt)
	}
}
