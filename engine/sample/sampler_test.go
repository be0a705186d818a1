package sample

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negInf := float32(math.Inf(-1))
	tests := []struct {
		name    string
		logits  []float32
		want    int32
		wantErr error
	}{
		{"single max", []float32{0.1, 3, -1, 2.9}, 1, nil},
		{"tie takes lowest id", []float32{1, 3, 3, 3}, 1, nil},
		{"all equal", []float32{7, 7, 7}, 0, nil},
		{"NaN never chosen", []float32{nan, 1, 2, nan}, 2, nil},
		{"NaN first then negatives", []float32{nan, -5, -3}, 2, nil},
		{"-Inf skipped", []float32{negInf, -1e30, negInf}, 1, nil},
		{"+Inf wins", []float32{1, inf, 3}, 1, nil},
		{"all -Inf", []float32{negInf, negInf}, -1, ErrNoCandidates},
		{"all NaN", []float32{nan, nan}, -1, ErrNoCandidates},
		{"NaN and -Inf", []float32{nan, negInf}, -1, ErrNoCandidates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature = 0
			s := newTest(t, p, len(tt.logits))
			in := slices.Clone(tt.logits)
			got, err := s.Sample(in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sample error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("Sample = %d, want %d", got, tt.want)
			}
			for i := range in { // NaN-aware equality: the input is untouched
				if math.Float32bits(in[i]) != math.Float32bits(tt.logits[i]) {
					t.Fatalf("caller's logits modified at %d", i)
				}
			}
		})
	}
}

func TestSampleBadInput(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negInf := float32(math.Inf(-1))
	tests := []struct {
		name    string
		p       func(*Params)
		logits  []float32
		allowed []int32
		wantErr error
	}{
		{"wrong length", func(*Params) {}, []float32{1, 2}, nil, ErrLogitsSize},
		{"all -Inf", func(*Params) {}, []float32{negInf, negInf, negInf}, nil, ErrNoCandidates},
		{"all NaN with filters", func(p *Params) { p.TopK, p.TopP = 2, 0.5 }, []float32{nan, nan, nan}, nil, ErrNoCandidates},
		{"NaN never drawn", func(*Params) {}, []float32{nan, 0, nan}, []int32{1}, nil},
		{"+Inf takes all mass", func(*Params) {}, []float32{0, inf, 5}, []int32{1}, nil},
		{"two +Inf share", func(p *Params) { p.Temperature = 0.01 }, []float32{inf, 0, inf}, []int32{0, 2}, nil},
		{"denormal temperature acts greedy", func(p *Params) { p.Temperature = 1e-45 }, []float32{1, 2, 1.5}, []int32{1}, nil},
		{"huge logits, tiny temperature", func(p *Params) { p.Temperature = 1e-6 }, []float32{3e38, 2e38, -3e38}, []int32{0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.p(&p)
			s := newTest(t, p, 3)
			for range 200 {
				got, err := s.Sample(tt.logits)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Sample error = %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					return
				}
				if !slices.Contains(tt.allowed, got) {
					t.Fatalf("Sample = %d, want one of %v", got, tt.allowed)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	logits := randomLogits(1000, 2, 7)
	run := func(seed uint64) []int32 {
		p := DefaultParams()
		p.Seed, p.TopK, p.TopP, p.MinP, p.Temperature = seed, 50, 0.95, 0.01, 0.9
		s := newTest(t, p, len(logits))
		out := make([]int32, 1000)
		for i := range out {
			tok, err := s.Sample(logits)
			if err != nil {
				t.Fatalf("Sample: %v", err)
			}
			out[i] = tok
		}
		return out
	}
	tests := []struct {
		name         string
		seedA, seedB uint64
		same         bool
	}{
		{"same seed", 1234, 1234, true},
		{"seed zero twice", 0, 0, true},
		{"different seeds", 1234, 1235, false},
		{"far seeds", 1, 1 << 63, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := run(tt.seedA), run(tt.seedB)
			if slices.Equal(a, b) != tt.same {
				t.Fatalf("sequences equal = %v, want %v", slices.Equal(a, b), tt.same)
			}
		})
	}
}

// TestDistribution checks that draws follow the softmax: with a fixed seed
// the test is deterministic, and each count must lie within 4 standard
// deviations of its expectation.
func TestDistribution(t *testing.T) {
	const n = 20000
	tests := []struct {
		name  string
		temp  float32
		topK  int
		probs []float64 // the distribution at temperature 1
		want  []float64 // the expected distribution after temperature
	}{
		{"temperature 1", 1, 0, []float64{0.1, 0.2, 0.3, 0.4}, []float64{0.1, 0.2, 0.3, 0.4}},
		// p^(1/T) renormalized: T=0.5 squares: .01,.04,.09,.16 / .30
		{"temperature 0.5", 0.5, 0, []float64{0.1, 0.2, 0.3, 0.4}, []float64{1. / 30, 4. / 30, 9. / 30, 16. / 30}},
		{"skewed", 1, 0, []float64{0.01, 0.09, 0.5, 0.4}, []float64{0.01, 0.09, 0.5, 0.4}},
		// Top-k 2 keeps .3 and .4, renormalized to 3/7 and 4/7.
		{"top-k 2 renormalizes", 1, 2, []float64{0.1, 0.2, 0.3, 0.4}, []float64{0, 0, 3. / 7, 4. / 7}},
		// Top-k 2, then T=0.5 squares: .09 and .16 over .25.
		{"top-k 2 then temperature 0.5", 0.5, 2, []float64{0.1, 0.2, 0.3, 0.4}, []float64{0, 0, 0.36, 0.64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature, p.TopK, p.Seed = tt.temp, tt.topK, 99
			logits := logOf(tt.probs...)
			s := newTest(t, p, len(logits))
			counts := make([]int, len(logits))
			for range n {
				tok, err := s.Sample(logits)
				if err != nil {
					t.Fatalf("Sample: %v", err)
				}
				counts[tok]++
			}
			for i, q := range tt.want {
				mean := n * q
				sd := math.Sqrt(n * q * (1 - q))
				if q == 0 && counts[i] != 0 || math.Abs(float64(counts[i])-mean) > 4*sd {
					t.Errorf("token %d: %d draws, want %.0f ± %.0f (4σ)", i, counts[i], mean, 4*sd)
				}
			}
		})
	}
}

func TestSampleNoAllocs(t *testing.T) {
	logits := randomLogits(32000, 3, 1)
	tests := []struct {
		name string
		p    func(*Params)
	}{
		{"greedy", func(p *Params) { p.Temperature = 0 }},
		{"top-k top-p", func(p *Params) { p.TopK, p.TopP = 40, 0.95 }},
		{"top-p min-p", func(p *Params) { p.TopP, p.MinP = 0.9, 0.05 }},
		{"typical", func(p *Params) { p.TypicalP = 0.9 }},
		{"penalties", func(p *Params) { p.RepetitionPenalty, p.PresencePenalty = 1.1, 0.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.p(&p)
			s := newTest(t, p, len(logits))
			for i := range 64 {
				s.Accept(int32(i * 7))
			}
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := s.Sample(logits); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("Sample allocates %.1f times per call", allocs)
			}
		})
	}
}

func TestParamsNotAliased(t *testing.T) {
	bias := map[int32]float32{0: float32(math.Inf(-1))}
	p := DefaultParams()
	p.Temperature, p.LogitBias = 0, bias
	s := newTest(t, p, 3)
	bias[1] = float32(math.Inf(-1)) // the caller reuses its map
	if got, err := s.Sample([]float32{3, 2, 1}); err != nil || got != 1 {
		t.Fatalf("Sample = %d, %v; want 1 (only token 0 banned)", got, err)
	}
	if n := len(s.Params().LogitBias); n != 1 {
		t.Fatalf("Params().LogitBias has %d entries, want 1", n)
	}
}
