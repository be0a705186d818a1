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
				other := encodeWeights(t, Q8_0, randSlice(r, 16*sh.k, -1, 1))
				checkRepackedSameBits(t, Q8_0, Q8_0R16, w, randSlice(r, sh.m*sh.k, -1, 1), sh.m, sh.n, sh.k, Q8_0, other)
			})
		}
	})
}

// checkRepackedSameBits repacks w (n rows of k of type src) into to and
// checks that the repacked weights give src's bits for x (m rows), alone
// and beside other (16 rows of type otherType) in one MatMulMulti.
func checkRepackedSameBits(t *testing.T, src, to Type, w []byte, x []float32, m, n, k int, otherType Type, other []byte) {
	t.Helper()
	packed := make([]byte, n*RowSize(to, k))
	if err := Repack(src, w, n, k, packed); err != nil {
		t.Fatal(err)
	}
	want, got := poisoned(m*n), poisoned(m*n)
	if err := MatMul(src, w, x, want, m, n, k); err != nil {
		t.Fatal(err)
	}
	if err := MatMul(to, packed, x, got, m, n, k); err != nil {
		t.Fatal(err)
	}
	sameBits(t, fmt.Sprintf("matmul %v vs %v", to, src), want, got)
	wantO, gotR, gotO := poisoned(m*16), poisoned(m*n), poisoned(m*16)
	if err := MatMul(otherType, other, x, wantO, m, 16, k); err != nil {
		t.Fatal(err)
	}
	if err := MatMulMulti(x, m, k, MatOut{to, packed, gotR, n}, MatOut{otherType, other, gotO, 16}); err != nil {
		t.Fatal(err)
	}
	sameBits(t, fmt.Sprintf("multi %v", to), want, gotR)
	sameBits(t, fmt.Sprintf("multi %v beside it", otherType), wantO, gotO)
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
