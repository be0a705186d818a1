package native

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// randomLegacy returns n rows of k weights of a 32-element type whose block
// starts with its f16 scale (Q4_0, Q5_0): any other byte (quants, fifth
// bits) and finite scales of either sign (magnitudes 2^-5 .. 2^-1).
func randomLegacy(r *rand.Rand, typ Type, n, k int) []byte {
	bs := RowSize(typ, 32)
	b := make([]byte, n*RowSize(typ, k))
	for off := 0; off < len(b); off += bs {
		d := uint16(r.IntN(2))<<15 | uint16(10+r.IntN(5))<<10 | uint16(r.IntN(1024))
		binary.LittleEndian.PutUint16(b[off:], d)
		for i := off + 2; i < off+bs; i++ {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

// legacyRepacks are the 32-element types with a repacked layout.
var legacyRepacks = []struct{ src, r16 Type }{{Q4_0, Q4_0R16}, {Q5_0, Q5_0R16}}

// TestRepackQ4_0SameBits checks that Q4_0R16 (Q5_0R16) weights give the
// Q4_0 (Q5_0) weights' bits on every variant, for decode (m = 1..3, the
// direct GEMVs) and batches (the GEMM), alone and beside another output in
// MatMulMulti.
func TestRepackQ4_0SameBits(t *testing.T) {
	r := newRNG(t)
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, lt := range legacyRepacks {
			for _, sh := range []struct{ m, n, k int }{{1, 16, 64}, {1, 48, 576}, {2, 32, 1088}, {3, 32, 2048}, {5, 64, 2048}, {17, 16, 128}} {
				t.Run(fmt.Sprintf("%v_m%d_n%d_k%d", lt.r16, sh.m, sh.n, sh.k), func(t *testing.T) {
					w, other := randomLegacy(r, lt.src, sh.n, sh.k), randomLegacy(r, lt.src, 16, sh.k)
					checkRepackedSameBits(t, lt.src, lt.r16, w, randSlice(r, sh.m*sh.k, -1, 1), sh.m, sh.n, sh.k, lt.src, other)
				})
			}
			if rt, ok := RepackType(lt.src); ok != (isa != Scalar) || (ok && rt != lt.r16) {
				t.Fatalf("RepackType(%v) on %v = %v, %v", lt.src, isa, rt, ok)
			}
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
		if typ == Q4_0R16 || typ == Q5_0R16 {
			t.Fatalf("Types lists %v: GGUF files must not be read as it", typ)
		}
	}
	for name, want := range map[string]Type{"q4_0_r16": Q4_0R16, "q5_0_r16": Q5_0R16} {
		if typ, err := ParseKernelType(name); err != nil || typ != want {
			t.Fatalf("ParseKernelType(%s) = %v, %v", name, typ, err)
		}
	}
	if src, ok := RepackSource(Q5_0R16); !ok || src != Q5_0 {
		t.Fatalf("RepackSource(q5_0_r16) = %v, %v", src, ok)
	}
}
