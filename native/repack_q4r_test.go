package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// randomQ4_0 returns n rows of k Q4_0 weights: any quant byte and finite
// f16 scales of either sign (magnitudes 2^-5 .. 2^-1).
func randomQ4_0(r *rand.Rand, n, k int) []byte {
	b := make([]byte, n*RowSize(Q4_0, k))
	for off := 0; off < len(b); off += 18 {
		d := uint16(r.IntN(2))<<15 | uint16(10+r.IntN(5))<<10 | uint16(r.IntN(1024))
		binary.LittleEndian.PutUint16(b[off:], d)
		for i := off + 2; i < off+18; i++ {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

// TestRepackQ4_0SameBits checks that Q4_0R16 weights give the Q4_0 weights'
// bits on every variant, for decode (m = 1..3, the direct GEMVs) and batches
// (the GEMM), alone and beside another output in MatMulMulti.
func TestRepackQ4_0SameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, sh := range []struct{ m, n, k int }{{1, 16, 64}, {1, 48, 576}, {2, 32, 1088}, {3, 32, 2048}, {5, 64, 2048}, {17, 16, 128}} {
			t.Run(fmt.Sprintf("m%d_n%d_k%d", sh.m, sh.n, sh.k), func(t *testing.T) {
				w := randomQ4_0(r, sh.n, sh.k)
				packed := make([]byte, len(w))
				if err := Repack(Q4_0, w, sh.n, sh.k, packed); err != nil {
					t.Fatal(err)
				}
				x := randSlice(r, sh.m*sh.k, -1, 1)
				want, got := poisoned(sh.m*sh.n), poisoned(sh.m*sh.n)
				if err := MatMul(Q4_0, w, x, want, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				if err := MatMul(Q4_0R16, packed, x, got, sh.m, sh.n, sh.k); err != nil {
					t.Fatal(err)
				}
				sameBits(t, "matmul q4_0_r16 vs q4_0", want, got)
				other := randomQ4_0(r, 16, sh.k)
				wantO, gotR, gotO := poisoned(sh.m*16), poisoned(sh.m*sh.n), poisoned(sh.m*16)
				if err := MatMul(Q4_0, other, x, wantO, sh.m, 16, sh.k); err != nil {
					t.Fatal(err)
				}
				if err := MatMulMulti(x, sh.m, sh.k, MatOut{Q4_0R16, packed, gotR, sh.n}, MatOut{Q4_0, other, gotO, 16}); err != nil {
					t.Fatal(err)
				}
				sameBits(t, "multi q4_0_r16", want, gotR)
				sameBits(t, "multi q4_0 beside it", wantO, gotO)
			})
		}
		if rt, ok := RepackType(Q4_0); ok != (isa != Scalar) || (ok && rt != Q4_0R16) {
			t.Fatalf("RepackType(q4_0) on %v = %v, %v", isa, rt, ok)
		}
	})
}

func TestRepackQ4_0BadArguments(t *testing.T) {
	w := make([]byte, RowSize(Q4_0, 128)*32)
	out := make([]byte, len(w))
	for _, tc := range []struct {
		name    string
		n, k    int
		out     []byte
		wantErr error
	}{
		{"n not a multiple of 16", 24, 128, out, ErrAlign},
		{"k not a multiple of 64", 32, 96, out, ErrAlign},
		{"short output", 32, 128, out[:100], ErrSize},
		{"zero rows", 0, 128, out, ErrSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Repack(Q4_0, w, tc.n, tc.k, tc.out); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Repack: %v, want %v", err, tc.wantErr)
			}
		})
	}
	y := poisoned(24)
	if err := MatMul(Q4_0R16, w, make([]float32, 128), y, 1, 24, 128); !errors.Is(err, ErrAlign) {
		t.Fatalf("MatMul q4_0_r16 n=24: %v, want %v", err, ErrAlign)
	}
	for _, typ := range Types() {
		if typ == Q4_0R16 {
			t.Fatal("Types lists q4_0_r16: GGUF files must not be read as it")
		}
	}
	if typ, err := ParseKernelType("q4_0_r16"); err != nil || typ != Q4_0R16 {
		t.Fatalf("ParseKernelType(q4_0_r16) = %v, %v", typ, err)
	}
}
