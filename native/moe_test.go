package native

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// moeCase is a random set of stacked experts of one weight-type mix.
type moeCase struct {
	w MoEExperts
}

func newMoECase(t *testing.T, r *rand.Rand, gate, up, down Type, nExpert, d, f int) moeCase {
	t.Helper()
	enc := func(typ Type, rows, cols int) []byte {
		b := make([]byte, rows*RowSize(typ, cols))
		if err := Quantize(typ, randSlice(r, rows*cols, -1, 1), b, rows, cols); err != nil {
			t.Fatal(err)
		}
		return b
	}
	return moeCase{MoEExperts{GateType: gate, UpType: up, DownType: down,
		Gate: enc(gate, nExpert*f, d), Up: enc(up, nExpert*f, d), Down: enc(down, nExpert*d, f),
		NExpert: nExpert, D: d, F: f}}
}

// perExpert is the reference: each (row, slot) through MatMulMulti (gate,
// up), SwiGLU, MatMul (down), then Scale and Add in slot order, with the
// rows of one expert batched together as the model's per-expert path does.
func (c moeCase) perExpert(t *testing.T, x []float32, pick []int32, weight []float32, n, k int) []float32 {
	t.Helper()
	w := &c.w
	d, f := w.D, w.F
	out := make([]float32, n*k*d)
	for e := range w.NExpert {
		var idx []int
		for i, p := range pick[:n*k] {
			if int(p) == e {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		cnt := len(idx)
		xg := make([]float32, cnt*d)
		for j, i := range idx {
			copy(xg[j*d:(j+1)*d], x[(i/k)*d:(i/k+1)*d])
		}
		gate, up, yg := make([]float32, cnt*f), make([]float32, cnt*f), make([]float32, cnt*d)
		gs, us, ds := f*RowSize(w.GateType, d), f*RowSize(w.UpType, d), d*RowSize(w.DownType, f)
		if err := MatMulMulti(xg, cnt, d, MatOut{Type: w.GateType, W: w.Gate[e*gs : (e+1)*gs], Y: gate, N: f},
			MatOut{Type: w.UpType, W: w.Up[e*us : (e+1)*us], Y: up, N: f}); err != nil {
			t.Fatal(err)
		}
		if err := SwiGLU(gate, gate, up); err != nil {
			t.Fatal(err)
		}
		if err := MatMul(w.DownType, w.Down[e*ds:(e+1)*ds], gate, yg, cnt, d, f); err != nil {
			t.Fatal(err)
		}
		for j, i := range idx {
			copy(out[i*d:(i+1)*d], yg[j*d:(j+1)*d])
		}
	}
	y := make([]float32, n*d)
	for i := range n {
		yt := y[i*d : (i+1)*d]
		for j := range k {
			r := out[(i*k+j)*d : (i*k+j+1)*d]
			if err := Scale(r, r, weight[i*k+j]); err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				copy(yt, r)
			} else if err := Add(yt, yt, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return y
}

// randomRouting picks k distinct experts per row (some experts chosen by
// several rows, some by none) and weights that sum to about 1.
func randomRouting(r *rand.Rand, n, k, nExpert int) ([]int32, []float32) {
	pick, weight := make([]int32, n*k), make([]float32, n*k)
	for i := range n {
		perm := r.Perm(nExpert)
		for j := range k {
			pick[i*k+j] = int32(perm[j])
			weight[i*k+j] = 0.05 + r.Float32()/float32(k)
		}
	}
	return pick, weight
}

// TestMoEFFNBitIdentical: MoEFFN equals the per-expert calls bit for bit
// for every variant, K-quant mix (Q4_K_M's Q4_K gate/up with a Q4_K or Q6_K
// down, Q5_K, Q6_K, IQ4_XS, Q2_K/Q3_K), batch sizes from decode (one row) to
// experts with a GEMM's worth of rows, and 1 or 2 threads; and each row's
// result is the one it gets alone (batch invariance).
func TestMoEFFNBitIdentical(t *testing.T) {
	r := newRNG(t)
	defer Init(0)
	cases := []struct {
		gate, up, down Type
		nExpert, k     int
		d, f           int
	}{
		{Q4_K, Q4_K, Q6_K, 8, 3, 512, 256},
		{Q4_K, Q4_K, Q4_K, 6, 2, 256, 512},
		{Q5_K, Q5_K, Q6_K, 4, 2, 256, 256},
		{Q6_K, Q6_K, Q6_K, 4, 4, 256, 256},
		{IQ4_XS, IQ4_XS, IQ4_XS, 5, 2, 256, 256},
		{Q2_K, Q3_K, Q4_K, 4, 2, 256, 256},
	}
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, c := range cases {
			mc := newMoECase(t, r, c.gate, c.up, c.down, c.nExpert, c.d, c.f)
			for _, n := range []int{1, 2, 5, 13, 40} { // 40 rows of 2-4 slots: experts with more rows than MoEFFN's GEMV takes (GEMM)
				x := randSlice(r, n*c.d, -2, 2)
				pick, weight := randomRouting(r, n, c.k, c.nExpert)
				name := fmt.Sprintf("%v/%v/%v n=%d k=%d", c.gate, c.up, c.down, n, c.k)
				for _, threads := range []int{1, 2} {
					if err := Init(threads); err != nil {
						t.Fatal(err)
					}
					if err := SetISA(isa); err != nil {
						t.Fatal(err)
					}
					want := mc.perExpert(t, x, pick, weight, n, c.k)
					got := poisoned(n * c.d)
					if err := MoEFFN(&mc.w, x, pick, weight, got, n, c.k); err != nil {
						t.Fatal(err)
					}
					sameBits(t, fmt.Sprintf("%s threads=%d", name, threads), got, want)
					for _, i := range []int{0, n - 1} { // a row alone
						alone := poisoned(c.d)
						if err := MoEFFN(&mc.w, x[i*c.d:(i+1)*c.d], pick[i*c.k:(i+1)*c.k], weight[i*c.k:(i+1)*c.k], alone, 1, c.k); err != nil {
							t.Fatal(err)
						}
						sameBits(t, fmt.Sprintf("%s threads=%d row %d alone", name, threads, i), alone, got[i*c.d:(i+1)*c.d])
					}
				}
			}
		}
	})
}

func TestMoEFFNBadArguments(t *testing.T) {
	r := newRNG(t)
	good := newMoECase(t, r, Q4_K, Q4_K, Q6_K, 4, 256, 256).w
	x, y := make([]float32, 2*256), make([]float32, 2*256)
	pick, weight := []int32{0, 1, 2, 3}, []float32{0.5, 0.5, 0.5, 0.5}
	with := func(f func(w *MoEExperts)) *MoEExperts {
		w := good
		f(&w)
		return &w
	}
	cases := []struct {
		name string
		err  error
		w    *MoEExperts
		pick []int32
		n, k int
	}{
		{"nil experts", ErrNull, nil, pick, 2, 2},
		{"zero rows", ErrSize, &good, pick, 0, 2},
		{"k above n_expert", ErrSize, &good, pick, 1, 5},
		{"d not a multiple of 256", ErrAlign, with(func(w *MoEExperts) { w.D = 128 }), pick, 2, 2},
		{"q8_0 weights", ErrType, with(func(w *MoEExperts) { w.DownType = Q8_0 }), pick, 2, 2},
		{"f16 weights", ErrType, with(func(w *MoEExperts) { w.GateType = F16 }), pick, 2, 2},
		{"short gate", ErrSize, with(func(w *MoEExperts) { w.Gate = w.Gate[:len(w.Gate)-1] }), pick, 2, 2},
		{"short pick", ErrSize, &good, pick[:3], 2, 2},
		{"expert id too large", ErrIndex, &good, []int32{0, 1, 2, 4}, 2, 2},
		{"negative expert id", ErrIndex, &good, []int32{0, -1, 2, 3}, 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := append([]float32(nil), y...)
			if err := MoEFFN(c.w, x, c.pick, weight, y, c.n, c.k); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			for i, v := range y {
				if v != 0 {
					t.Fatalf("y[%d] = %v written on error", i, v)
				}
			}
		})
	}
}
