package sample

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// TestFilters checks each filter, alone and chained, on hand-made
// distributions whose survivors are worked out in the comments.
func TestFilters(t *testing.T) {
	// Probabilities 0.5, 0.3, 0.15, 0.05 at ids 0..3.
	four := logOf(0.5, 0.3, 0.15, 0.05)
	// The same distribution scattered over ids 0..7 (others banned by -Inf):
	// id 6 = 0.5, id 1 = 0.3, id 4 = 0.15, id 3 = 0.05.
	negInf := float32(math.Inf(-1))
	scattered := []float32{negInf, four[1], negInf, four[3], four[2], negInf, four[0], negInf}
	// Typical-p on four: H = -Σ p ln p = 1.14212; |-ln p - H| is
	// id0 0.44897, id1 0.06185, id2 0.75500, id3 1.85361, so the
	// typicality order is 1, 0, 2, 3 with cumulative mass 0.3, 0.8, 0.95, 1.
	tests := []struct {
		name   string
		logits []float32
		p      func(*Params)
		want   []int32
	}{
		{"no filters keep all", four, func(*Params) {}, []int32{0, 1, 2, 3}},

		{"top-k 1", four, func(p *Params) { p.TopK = 1 }, []int32{0}},
		{"top-k 2", four, func(p *Params) { p.TopK = 2 }, []int32{0, 1}},
		{"top-k 3 scattered", scattered, func(p *Params) { p.TopK = 3 }, []int32{1, 4, 6}},
		{"top-k above size", four, func(p *Params) { p.TopK = 10 }, []int32{0, 1, 2, 3}},
		{"top-k ties lowest ids", []float32{1, 1, 1, 1}, func(p *Params) { p.TopK = 2 }, []int32{0, 1}},

		// Cumulative 0.5, 0.8, 0.95, 1.0.
		{"top-p 0.4 keeps first", four, func(p *Params) { p.TopP = 0.4 }, []int32{0}},
		{"top-p 0.7", four, func(p *Params) { p.TopP = 0.7 }, []int32{0, 1}},
		{"top-p 0.9", four, func(p *Params) { p.TopP = 0.9 }, []int32{0, 1, 2}},
		{"top-p 0.97", four, func(p *Params) { p.TopP = 0.97 }, []int32{0, 1, 2, 3}},
		{"top-p 0.9 scattered", scattered, func(p *Params) { p.TopP = 0.9 }, []int32{1, 4, 6}},
		{"top-p min_keep 3", four, func(p *Params) { p.TopP, p.MinKeep = 0.4, 3 }, []int32{0, 1, 2}},

		// Relative to max 0.5: thresholds 0.45, 0.25, 0.1, 0.025.
		{"min-p 0.9", four, func(p *Params) { p.MinP = 0.9 }, []int32{0}},
		{"min-p 0.5", four, func(p *Params) { p.MinP = 0.5 }, []int32{0, 1}},
		{"min-p 0.2", four, func(p *Params) { p.MinP = 0.2 }, []int32{0, 1, 2}},
		{"min-p 0.05", four, func(p *Params) { p.MinP = 0.05 }, []int32{0, 1, 2, 3}},
		{"min-p 0.2 scattered", scattered, func(p *Params) { p.MinP = 0.2 }, []int32{1, 4, 6}},
		{"min-p min_keep 2", four, func(p *Params) { p.MinP, p.MinKeep = 0.9, 2 }, []int32{0, 1}},

		// Typical: keep the shortest prefix with mass > p (strictly).
		{"typical 0.2 drops the mode", four, func(p *Params) { p.TypicalP = 0.2 }, []int32{1}},
		{"typical 0.5", four, func(p *Params) { p.TypicalP = 0.5 }, []int32{0, 1}},
		{"typical 0.9", four, func(p *Params) { p.TypicalP = 0.9 }, []int32{0, 1, 2}},
		{"typical 0.99", four, func(p *Params) { p.TypicalP = 0.99 }, []int32{0, 1, 2, 3}},
		{"typical min_keep 2", four, func(p *Params) { p.TypicalP, p.MinKeep = 0.2, 2 }, []int32{0, 1}},

		// Order matters: top-k 2 renormalizes to 0.625, 0.375 before top-p.
		{"top-k then top-p", four, func(p *Params) { p.TopK, p.TopP = 2, 0.6 }, []int32{0}},
		{"top-p alone at 0.6", four, func(p *Params) { p.TopP = 0.6 }, []int32{0, 1}},
		// Typical 0.5 keeps {1, 0}; top-p 0.6 on (0.625, 0.375) keeps {0}.
		{"typical then top-p", four, func(p *Params) { p.TypicalP, p.TopP = 0.5, 0.6 }, []int32{0}},
		// Top-p 0.9 keeps {0,1,2}; min-p 0.5 of max 0.5 keeps {0,1}.
		{"top-p then min-p", four, func(p *Params) { p.TopP, p.MinP = 0.9, 0.5 }, []int32{0, 1}},
		// Temperature does not change what the filters see.
		{"filters ignore temperature", four, func(p *Params) { p.Temperature, p.TopP = 5, 0.7 }, []int32{0, 1}},
		// Bias before filters: +3 on id 3 makes it the mode.
		{"bias before top-k", four, func(p *Params) { p.TopK, p.LogitBias = 1, map[int32]float32{3: 3} }, []int32{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.p(&p)
			s := newTest(t, p, len(tt.logits))
			if got := survivors(t, s, tt.logits); !slices.Equal(got, tt.want) {
				t.Fatalf("survivors = %v, want %v", got, tt.want)
			}
		})
	}
}

// refTopP is top-p by full sort, the reference for the chunked version.
func refTopP(logits []float32, p float64, minKeep int) []int32 {
	c := make([]candidate, len(logits))
	maxL := math.Inf(-1)
	for i, l := range logits {
		c[i] = candidate{id: int32(i), logit: l}
		maxL = max(maxL, float64(l))
	}
	slices.SortFunc(c, compareCand)
	var sum float64
	for _, x := range c {
		sum += math.Exp(float64(x.logit) - maxL)
	}
	var cum float64
	n := len(c)
	for i, x := range c {
		cum += float64(float32(math.Exp(float64(x.logit)-maxL) / sum))
		if cum >= p && i+1 >= minKeep {
			n = i + 1
			break
		}
	}
	ids := make([]int32, n)
	for i := range n {
		ids[i] = c[i].id
	}
	slices.Sort(ids)
	return ids
}

// TestTopPLargeVocab checks the chunked, partially sorted top-p against a
// full sort on vocabularies where the cut falls past several chunks.
func TestTopPLargeVocab(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		scale float64
		p     float32
	}{
		{"flat 0.9", 5000, 0.5, 0.9},
		{"peaked 0.95", 50000, 4, 0.95},
		{"peaked 0.5", 50000, 4, 0.5},
		{"flat 0.999", 3000, 0.1, 0.999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logits := randomLogits(tt.n, tt.scale, uint64(tt.n))
			p := DefaultParams()
			p.TopP = tt.p
			s := newTest(t, p, tt.n)
			got := survivors(t, s, logits)
			want := refTopP(logits, float64(tt.p), 1)
			if !slices.Equal(got, want) {
				t.Fatalf("kept %d tokens, reference keeps %d", len(got), len(want))
			}
		})
	}
}

// TestSelectTop checks the introselect against a full sort, including
// heavy ties and sorted or reversed inputs.
func TestSelectTop(t *testing.T) {
	gen := map[string]func(n int) []float32{
		"random": func(n int) []float32 { return randomLogits(n, 1, 3) },
		"ties": func(n int) []float32 {
			l := make([]float32, n)
			for i := range l {
				l[i] = float32(i % 3)
			}
			return l
		},
		"ascending": func(n int) []float32 {
			l := make([]float32, n)
			for i := range l {
				l[i] = float32(i)
			}
			return l
		},
		"descending": func(n int) []float32 {
			l := make([]float32, n)
			for i := range l {
				l[i] = float32(-i)
			}
			return l
		},
	}
	for name, g := range gen {
		for _, n := range []int{1, 5, 13, 100, 1000} {
			for _, k := range []int{1, 2, 7, n / 2, n - 1} {
				if k < 1 || k > n {
					continue
				}
				t.Run(fmt.Sprintf("%s/n=%d/k=%d", name, n, k), func(t *testing.T) {
					logits := g(n)
					c := make([]candidate, n)
					for i, l := range logits {
						c[i] = candidate{id: int32(i), logit: l}
					}
					ref := slices.Clone(c)
					slices.SortFunc(ref, compareCand)
					selectTop(c, k)
					top := slices.Clone(c[:k])
					slices.SortFunc(top, compareCand)
					if !slices.Equal(top, ref[:k]) {
						t.Fatalf("n=%d k=%d: top differs from full sort", n, k)
					}
				})
			}
		}
	}
}

// TestTopKPaths checks the heap top-k (k <= heapTopKMax) against the
// gather-and-introselect path on rows with ties, NaN, -Inf and +Inf.
func TestTopKPaths(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negInf := float32(math.Inf(-1))
	ties := randomLogits(5000, 1, 21)
	for i := range ties {
		ties[i] = float32(math.Round(float64(ties[i]) * 4)) // many equal logits
	}
	special := randomLogits(3000, 2, 22)
	for i := 0; i < len(special); i += 7 {
		special[i] = []float32{nan, negInf, inf}[i%3]
	}
	sparse := make([]float32, 2000)
	for i := range sparse {
		sparse[i] = negInf
	}
	sparse[5], sparse[1500], sparse[77] = 1, 3, 2
	tests := []struct {
		name   string
		logits []float32
		k      int
	}{
		{"random k=1", randomLogits(10000, 3, 20), 1},
		{"random k=40", randomLogits(10000, 3, 20), 40},
		{"ties k=100", ties, 100},
		{"ties k=1024", ties, 1024},
		{"special k=50", special, 50},
		{"fewer finite than k", sparse, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			heapC := gatherTopK(nil, tt.logits, tt.k)
			f := filter{cand: gatherAll(nil, tt.logits), minKeep: 1}
			f.topK(tt.k)
			ref := slices.Clone(f.cand)
			slices.SortFunc(ref, compareCand)
			if !slices.Equal(heapC, ref) {
				t.Fatalf("heap top-k differs from introselect top-k (%d vs %d entries)", len(heapC), len(ref))
			}
		})
	}
}
