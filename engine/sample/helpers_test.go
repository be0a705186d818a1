package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// logOf returns the natural logs of probs, as logits of that distribution.
func logOf(probs ...float64) []float32 {
	out := make([]float32, len(probs))
	for i, p := range probs {
		out[i] = float32(math.Log(p))
	}
	return out
}

// newTest builds a Sampler or fails the test.
func newTest(t testing.TB, p Params, vocab int) *Sampler {
	t.Helper()
	s, err := New(p, vocab)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// survivors runs bias, penalties and the filters and returns the surviving
// ids in ascending order.
func survivors(t testing.TB, s *Sampler, logits []float32) []int32 {
	t.Helper()
	s.adjust(logits)
	if err := s.filter(); err != nil {
		t.Fatalf("filter: %v", err)
	}
	ids := make([]int32, len(s.f.cand))
	for i, c := range s.f.cand {
		ids[i] = c.id
	}
	slices.Sort(ids)
	return ids
}

// randomLogits returns n logits drawn from N(0, scale²) with a fixed seed.
func randomLogits(n int, scale float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * scale)
	}
	return out
}
