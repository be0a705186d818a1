package native

import (
	"errors"
	"fmt"
	"testing"
)

// TestMatMulMultiBitIdentical: every output of MatMulMulti equals a MatMul
// of its own bit for bit, for every variant, weight type (mixed in one call
// too), batch size and 1 or 2 threads.
func TestMatMulMultiBitIdentical(t *testing.T) {
	r := newRNG(t)
	defer Init(0)
	cases := []struct {
		types []Type
		ns    []int
		k     int
	}{
		{[]Type{Q8_0, Q8_0, Q8_0}, []int{576, 192, 192}, 576}, // attention Q, K, V
		{[]Type{Q8_0, Q8_0}, []int{160, 160}, 576},            // FFN gate, up
		{[]Type{F32, F32, F32}, []int{40, 8, 8}, 96},
		{[]Type{F16, F16}, []int{33, 33}, 64},
		{[]Type{BF16, BF16}, []int{17, 5}, 64},
		{[]Type{Q8_0, F16, BF16, F32}, []int{33, 17, 16, 5}, 96},
	}
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, c := range cases {
			for _, m := range []int{1, 3, 4, 16, 17} {
				x := randSlice(r, m*c.k, -2, 2)
				outs := make([]MatOut, len(c.types))
				for i, typ := range c.types {
					outs[i] = MatOut{Type: typ, W: encodeWeights(t, typ, randSlice(r, c.ns[i]*c.k, -1, 1)), N: c.ns[i]}
				}
				for _, threads := range []int{1, 2} {
					if err := Init(threads); err != nil {
						t.Fatal(err)
					}
					if err := SetISA(isa); err != nil {
						t.Fatal(err)
					}
					for i := range outs {
						outs[i].Y = poisoned(m * outs[i].N)
					}
					if err := MatMulMulti(x, m, c.k, outs...); err != nil {
						t.Fatal(err)
					}
					for i, o := range outs {
						want := poisoned(m * o.N)
						if err := MatMul(o.Type, o.W, x, want, m, o.N, c.k); err != nil {
							t.Fatal(err)
						}
						sameBits(t, fmt.Sprintf("%v m=%d threads=%d output %d (%v)", c.types, m, threads, i, o.Type), o.Y, want)
					}
				}
			}
		}
	})
}

func TestMatMulMultiBadArguments(t *testing.T) {
	w := make([]byte, 34*4)
	x := make([]float32, 64)
	y := make([]float32, 4)
	good := MatOut{Type: Q8_0, W: w, Y: y, N: 2}
	cases := []struct {
		name string
		err  error
		outs []MatOut
		k    int
	}{
		{"no outputs", ErrSize, nil, 64},
		{"too many outputs", ErrSize, []MatOut{good, good, good, good, good}, 64},
		{"zero n", ErrSize, []MatOut{good, {Type: Q8_0, W: w, Y: y}}, 64},
		{"k not multiple of 32", ErrAlign, []MatOut{good}, 33},
		{"unknown type", ErrType, []MatOut{good, {Type: Type(77), W: w, Y: y, N: 1}}, 64},
		{"short weights", ErrSize, []MatOut{good, {Type: Q8_0, W: w[:10], Y: y, N: 2}}, 64},
		{"short output", ErrSize, []MatOut{good, {Type: Q8_0, W: w, Y: y[:1], N: 2}}, 64},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := MatMulMulti(x, 1, c.k, c.outs...); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
}
