package native

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// naiveWindow is float64 attention of one query row (all heads) at position
// pos of sequence s over tokens max(0, pos-window+1)..pos, scores soft-capped.
func (c *pagedCase) naiveWindow(q []float32, s, pos, window int, softcap float64) []float64 {
	l := c.l
	lo := 0
	if window > 0 {
		lo = max(0, pos-window+1)
	}
	out := make([]float64, l.NHead*l.HeadDim)
	scale := 1 / math.Sqrt(float64(l.HeadDim))
	for h := 0; h < l.NHead; h++ {
		kh := h / (l.NHead / l.NHeadKV)
		var scores []float64
		mx := math.Inf(-1)
		for tok := lo; tok <= pos; tok++ {
			var dot float64
			for d := 0; d < l.HeadDim; d++ {
				dot += float64(q[h*l.HeadDim+d]) * float64(c.k[s][(tok*l.NHeadKV+kh)*l.HeadDim+d])
			}
			v := dot * scale
			if softcap > 0 {
				v = softcap * math.Tanh(v/softcap)
			}
			scores = append(scores, v)
			mx = math.Max(mx, v)
		}
		var sum float64
		for i := range scores {
			scores[i] = math.Exp(scores[i] - mx)
			sum += scores[i]
		}
		for i, tok := 0, lo; tok <= pos; i, tok = i+1, tok+1 {
			for d := 0; d < l.HeadDim; d++ {
				out[h*l.HeadDim+d] += scores[i] / sum * float64(c.v[s][(tok*l.NHeadKV+kh)*l.HeadDim+d])
			}
		}
	}
	return out
}

// TestAttnWindow checks the windowed, soft-capped attention against
// float64 for windows shorter than, across and longer than the blocks and
// the contexts, and that every query's bits are those of the same query
// decoded alone.
func TestAttnWindow(t *testing.T) {
	forEachISA(t, testAttnWindow)
}

func testAttnWindow(t *testing.T, _ ISA) {
	r := newRNG(t)
	for _, kvType := range []Type{F32, F16, Q8_0} {
		for _, tc := range []struct {
			name    string
			window  int
			softcap float32
		}{
			{"window1", 1, 0}, {"window5", 5, 0}, {"window7-cap", 7, 1.5},
			{"no-window-cap", 0, 0.8}, {"window-past-context", 100, 0},
		} {
			t.Run(kvType.String()+"/"+tc.name, func(t *testing.T) {
				lens := []int32{13, 1, 30}
				// head_dim 40: one whole Q8_0 block and a padded one
				c := newPagedCaseDim(t, r, kvType, 40, 4, lens)
				nq := []int32{13, 1, 6} // full prefill, a decode, a chunk
				qStart := []int32{0, 13, 14, 20}
				row := c.l.NHead * c.l.HeadDim
				q := randSlice(r, int(qStart[3])*row, -1, 1)
				out := poisoned(len(q))
				if err := AttnWindow(c.l, q, out, qStart, lens, c.tables, c.maxBlk, tc.window, tc.softcap); err != nil {
					t.Fatal(err)
				}
				for s := range lens {
					for j := range int(nq[s]) {
						i := int(qStart[s]) + j
						pos := int(lens[s]) - int(nq[s]) + j
						want := c.naiveWindow(q[i*row:(i+1)*row], s, pos, tc.window, float64(tc.softcap))
						got := out[i*row : (i+1)*row]
						for d := range want {
							if math.Abs(float64(got[d])-want[d]) > tolAttn {
								t.Fatalf("seq %d query %d dim %d: got %v, want %v", s, j, d, got[d], want[d])
							}
						}
						// The same query alone, as a decode of a context ending at pos.
						one := poisoned(row)
						table := c.tables[s*c.maxBlk : (s+1)*c.maxBlk]
						if err := AttnWindow(c.l, q[i*row:(i+1)*row], one, []int32{0, 1}, []int32{int32(pos + 1)}, table, c.maxBlk, tc.window, tc.softcap); err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(one, got) {
							t.Fatalf("seq %d query %d: decode alone differs from the batched prefill", s, j)
						}
					}
				}
			})
		}
	}
}

func TestTanhActivations(t *testing.T) {
	r := newRNG(t)
	const n = 1000
	gate, up, x := randSlice(r, n, -12, 12), randSlice(r, n, -2, 2), randSlice(r, n, -40, 40)
	y := poisoned(n)
	if err := GeGLUTanh(y, gate, up); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		g := float64(gate[i])
		want := 0.5 * g * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(g+0.044715*g*g*g))) * float64(up[i])
		if d := math.Abs(float64(y[i]) - want); d > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("geglu[%d](%v, %v) = %v, want %v", i, gate[i], up[i], y[i], want)
		}
	}
	y = poisoned(n)
	if err := Softcap(y, x, 5); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		want := 5 * math.Tanh(float64(x[i])/5)
		if d := math.Abs(float64(y[i]) - want); d > 1e-6 {
			t.Fatalf("softcap(%v) = %v, want %v", x[i], y[i], want)
		}
	}
	z := slices.Clone(x)
	if err := ScaleStrided(z, 10, 100, 30, 2); err != nil {
		t.Fatal(err)
	}
	for i := range z {
		want := x[i]
		if i%100 < 30 {
			want *= 2
		}
		if z[i] != want {
			t.Fatalf("scale_strided[%d] = %v, want %v", i, z[i], want)
		}
	}
}

func TestArchOpsBadArguments(t *testing.T) {
	c := newPagedCase(t, newRNG(t), F32, 4, []int32{5})
	row := c.l.NHead * c.l.HeadDim
	q, out := make([]float32, 5*row), make([]float32, 5*row)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"softcap zero", Softcap(make([]float32, 4), make([]float32, 4), 0)},
		{"softcap short x", Softcap(make([]float32, 4), make([]float32, 3), 1)},
		{"geglu short up", GeGLUTanh(make([]float32, 4), make([]float32, 4), make([]float32, 3))},
		{"strided past end", ScaleStrided(make([]float32, 10), 2, 8, 4, 2)},
		{"strided n > stride", ScaleStrided(make([]float32, 10), 1, 2, 4, 2)},
		{"window context past table", AttnWindow(c.l, q, out, []int32{0, 5}, []int32{int32(c.maxBlk*4 + 1)}, c.tables, c.maxBlk, 2, 0)},
		{"window more queries than context", AttnWindow(c.l, q, out, []int32{0, 5}, []int32{4}, c.tables, c.maxBlk, 2, 0)},
		{"window negative cap", AttnWindow(c.l, q, out, []int32{0, 5}, []int32{5}, c.tables, c.maxBlk, 2, -1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, ErrSize) {
				t.Fatalf("got %v, want ErrSize", tc.err)
			}
		})
	}
	bad := slices.Clone(c.tables)
	bad[0] = int32(c.l.NBlocks)
	if err := AttnWindow(c.l, q, out, []int32{0, 5}, []int32{5}, bad, c.maxBlk, 2, 0); !errors.Is(err, ErrIndex) {
		t.Fatalf("block outside the pool: got %v, want ErrIndex", err)
	}
}
