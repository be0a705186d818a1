package grammar

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkMask measures Mask on the 128k-token Llama 3 vocabulary while
// replaying a generation of the nested schema: one op is one whole
// generation (Mask then Advance per token); us/mask is the figure to set
// against a decode step.
func BenchmarkMask(b *testing.B) {
	m, _ := sharedMasker(b, "testdata/tiny-llama3-q8_0.gguf")
	g, err := CompileSchema([]byte(walkSchemas[1].schema))
	if err != nil {
		b.Fatal(err)
	}
	// A fixed token sequence: a seeded random walk that prefers short
	// tokens, so that strings, numbers and structure all take several steps.
	ids := recordWalk(b, m, g, rand.New(rand.NewPCG(1, 2)))
	allowed := NewBitset(m.VocabSize())
	var maskTime, worst time.Duration
	b.ResetTimer()
	for range b.N {
		s := m.NewState(g)
		for _, id := range ids {
			t0 := time.Now()
			s.Mask(allowed)
			d := time.Since(t0)
			maskTime += d
			worst = max(worst, d)
			if !allowed.Has(id) {
				b.Fatalf("token %d not allowed on replay", id)
			}
			if err := s.Advance(id); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(maskTime.Microseconds())/float64(b.N*len(ids)), "us/mask")
	b.ReportMetric(float64(worst.Microseconds()), "us/worst-mask")
	b.ReportMetric(float64(len(ids)), "tokens/gen")
	b.ReportMetric(float64(m.VocabSize()), "vocab")
}

// recordWalk returns the tokens of one random generation, EOG included.
func recordWalk(tb testing.TB, m *Masker, g *Grammar, rng *rand.Rand) []int32 {
	s := m.NewState(g)
	allowed := NewBitset(m.VocabSize())
	var ids, cands []int32
	for len(ids) < 5000 {
		s.Mask(allowed)
		cands = cands[:0]
		for id := int32(0); id < int32(m.VocabSize()); id++ {
			if allowed.Has(id) && (m.pieces[id] == nil || len(m.pieces[id]) <= 3) {
				cands = append(cands, id)
			}
		}
		if s.Accepting() {
			ids = append(ids, m.eog[0])
			return ids
		}
		id := cands[rng.IntN(len(cands))]
		if err := s.Advance(id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	tb.Fatal("walk did not end")
	return nil
}

// BenchmarkNewMasker measures the once-per-vocabulary precomputation.
func BenchmarkNewMasker(b *testing.B) {
	_, tok := sharedMasker(b, "testdata/tiny-llama3-q8_0.gguf")
	b.ResetTimer()
	for range b.N {
		NewMasker(tok)
	}
}
