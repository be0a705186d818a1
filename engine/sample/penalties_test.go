package sample

import (
	"math"
	"slices"
	"testing"
)

func TestPenalties(t *testing.T) {
	base := []float32{2, -2, 0, 1, 3}
	tests := []struct {
		name   string
		modify func(*Params)
		accept []int32
		want   []float32
		prompt []int32 // through AcceptPrompt, before accept
	}{
		{"off by default", func(*Params) {}, []int32{0, 1, 2}, []float32{2, -2, 0, 1, 3}, nil},
		{"repetition divides positive, multiplies negative and zero",
			func(p *Params) { p.RepetitionPenalty = 2 }, []int32{0, 1, 2, 0},
			[]float32{1, -4, 0, 1, 3}, nil},
		{"repetition below one boosts",
			func(p *Params) { p.RepetitionPenalty = 0.5 }, []int32{0, 1},
			[]float32{4, -1, 0, 1, 3}, nil},
		{"presence once per seen token",
			func(p *Params) { p.PresencePenalty = 0.5 }, []int32{0, 0, 0, 1},
			[]float32{1.5, -2.5, 0, 1, 3}, nil},
		{"frequency per occurrence",
			func(p *Params) { p.FrequencyPenalty = 0.25 }, []int32{0, 0, 0, 1},
			[]float32{1.25, -2.25, 0, 1, 3}, nil},
		{"presence and frequency together (OpenAI)",
			func(p *Params) { p.PresencePenalty, p.FrequencyPenalty = 0.5, 0.25 }, []int32{0, 0, 0, 1},
			[]float32{0.75, -2.75, 0, 1, 3}, nil},
		{"repetition then subtraction",
			func(p *Params) { p.RepetitionPenalty, p.FrequencyPenalty = 2, 1 }, []int32{0, 0, 1},
			[]float32{-1, -5, 0, 1, 3}, nil},
		{"window keeps the last N",
			func(p *Params) { p.PenaltyLastN, p.PresencePenalty = 2, 1 }, []int32{0, 1, 2, 3},
			[]float32{2, -2, -1, 0, 3}, nil},
		{"window counts repeats inside it",
			func(p *Params) { p.PenaltyLastN, p.FrequencyPenalty = 3, 1 }, []int32{4, 0, 0, 1, 0},
			[]float32{0, -3, 0, 1, 3}, nil},
		{"whole context with -1",
			func(p *Params) { p.PenaltyLastN, p.PresencePenalty = -1, 1 }, []int32{0, 1, 2, 3, 4},
			[]float32{1, -3, -1, 0, 2}, nil},
		{"window 0 disables",
			func(p *Params) { p.PenaltyLastN, p.PresencePenalty, p.RepetitionPenalty = 0, 1, 2 }, []int32{0, 1},
			[]float32{2, -2, 0, 1, 3}, nil},
		{"out-of-range accepts ignored",
			func(p *Params) { p.PresencePenalty = 1 }, []int32{-1, 5, 99},
			[]float32{2, -2, 0, 1, 3}, nil},
		{"prompt tokens: repetition only",
			func(p *Params) { p.RepetitionPenalty, p.PresencePenalty, p.FrequencyPenalty = 2, 1, 1 },
			[]int32{4}, []float32{1, -4, 0, 1, -0.5}, []int32{0, 1, 0}},
		{"prompt and generated occurrences of one token",
			func(p *Params) { p.RepetitionPenalty, p.FrequencyPenalty = 2, 1 },
			[]int32{0}, []float32{0, -2, 0, 1, 3}, []int32{0, 0, 0}},
		{"prompt tokens take window slots",
			func(p *Params) { p.PenaltyLastN, p.RepetitionPenalty, p.PresencePenalty = 2, 2, 1 },
			[]int32{0, 2}, []float32{0, -2, -1, 1, 3}, []int32{4, 1}},
		{"evicted generated token leaves both counts",
			func(p *Params) { p.PenaltyLastN, p.RepetitionPenalty, p.PresencePenalty = 2, 2, 1 },
			[]int32{0, 1, 3}, []float32{2, -5, 0, -0.5, 3}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.modify(&p)
			s := newTest(t, p, len(base))
			for _, tok := range tt.prompt {
				s.AcceptPrompt(tok)
			}
			for _, tok := range tt.accept {
				s.Accept(tok)
			}
			in := slices.Clone(base)
			s.adjust(in)
			if !slices.Equal(in, base) {
				t.Fatalf("caller's logits modified: %v", in)
			}
			if !slices.Equal(s.work, tt.want) {
				t.Fatalf("penalized logits = %v, want %v", s.work, tt.want)
			}
		})
	}
}

func TestPenaltyChangesGreedyAndReset(t *testing.T) {
	p := DefaultParams()
	p.Temperature = 0
	p.RepetitionPenalty = 4
	s := newTest(t, p, 3)
	logits := []float32{2, 1, 0}
	s.Accept(0)
	if got, _ := s.Sample(logits); got != 1 {
		t.Fatalf("with token 0 penalized, Sample = %d, want 1", got)
	}
	s.Reset()
	if got, _ := s.Sample(logits); got != 0 {
		t.Fatalf("after Reset, Sample = %d, want 0", got)
	}
}

func TestLogitBias(t *testing.T) {
	negInf := float32(math.Inf(-1))
	logits := []float32{5, 4, 3, 2}
	tests := []struct {
		name    string
		temp    float32
		bias    map[int32]float32
		want    []int32 // tokens allowed to appear
		wantErr error
	}{
		{"ban the argmax (greedy)", 0, map[int32]float32{0: negInf}, []int32{1}, nil},
		{"-100 all but bans (greedy)", 0, map[int32]float32{0: -100}, []int32{1}, nil},
		{"+100 forces (greedy)", 0, map[int32]float32{3: 100}, []int32{3}, nil},
		{"+100 forces (sampled)", 1, map[int32]float32{2: 100}, []int32{2}, nil},
		{"banned never drawn", 1, map[int32]float32{0: negInf, 1: negInf}, []int32{2, 3}, nil},
		{"all banned (greedy)", 0, map[int32]float32{0: negInf, 1: negInf, 2: negInf, 3: negInf}, nil, ErrNoCandidates},
		{"all banned (sampled)", 1, map[int32]float32{0: negInf, 1: negInf, 2: negInf, 3: negInf}, nil, ErrNoCandidates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature, p.LogitBias = tt.temp, tt.bias
			s := newTest(t, p, len(logits))
			seen := map[int32]bool{}
			for range 500 {
				tok, err := s.Sample(logits)
				if tt.wantErr != nil {
					if err != tt.wantErr {
						t.Fatalf("Sample error = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Sample: %v", err)
				}
				if !slices.Contains(tt.want, tok) {
					t.Fatalf("Sample = %d, want one of %v", tok, tt.want)
				}
				seen[tok] = true
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("saw %v in 500 draws, want all of %v", seen, tt.want)
			}
		})
	}
}
