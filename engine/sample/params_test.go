package sample

import (
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		modify func(*Params)
		want   string // substring of the error; "" = valid
	}{
		{"defaults", func(*Params) {}, ""},
		{"greedy", func(p *Params) { p.Temperature = 0 }, ""},
		{"all on", func(p *Params) {
			p.TopK, p.TopP, p.MinP, p.TypicalP = 40, 0.9, 0.05, 0.95
			p.RepetitionPenalty, p.PresencePenalty, p.FrequencyPenalty = 1.1, 0.5, -0.5
			p.PenaltyLastN, p.MinKeep = -1, 0
			p.LogitBias = map[int32]float32{3: -100, 4: float32(math.Inf(-1)), 5: 100}
		}, ""},
		{"temperature negative", func(p *Params) { p.Temperature = -0.1 }, "temperature"},
		{"temperature NaN", func(p *Params) { p.Temperature = nan }, "temperature"},
		{"temperature Inf", func(p *Params) { p.Temperature = inf }, "temperature"},
		{"top_k negative", func(p *Params) { p.TopK = -1 }, "top_k"},
		{"top_p zero", func(p *Params) { p.TopP = 0 }, "top_p"},
		{"top_p above one", func(p *Params) { p.TopP = 1.5 }, "top_p must be in (0, 1], got 1.5"},
		{"top_p NaN", func(p *Params) { p.TopP = nan }, "top_p"},
		{"min_p negative", func(p *Params) { p.MinP = -0.01 }, "min_p"},
		{"min_p above one", func(p *Params) { p.MinP = 1.01 }, "min_p"},
		{"typical_p zero", func(p *Params) { p.TypicalP = 0 }, "typical_p"},
		{"typical_p above one", func(p *Params) { p.TypicalP = 2 }, "typical_p"},
		{"repetition_penalty zero", func(p *Params) { p.RepetitionPenalty = 0 }, "repetition_penalty"},
		{"repetition_penalty Inf", func(p *Params) { p.RepetitionPenalty = inf }, "repetition_penalty"},
		{"presence_penalty NaN", func(p *Params) { p.PresencePenalty = nan }, "presence_penalty"},
		{"frequency_penalty Inf", func(p *Params) { p.FrequencyPenalty = -inf }, "frequency_penalty"},
		{"penalty_last_n below -1", func(p *Params) { p.PenaltyLastN = -2 }, "penalty_last_n"},
		{"min_keep negative", func(p *Params) { p.MinKeep = -1 }, "min_keep"},
		{"logit_bias negative id", func(p *Params) { p.LogitBias = map[int32]float32{-1: 1} }, "logit_bias"},
		{"logit_bias NaN", func(p *Params) { p.LogitBias = map[int32]float32{1: nan} }, "logit_bias"},
		{"logit_bias +Inf", func(p *Params) { p.LogitBias = map[int32]float32{1: inf} }, "logit_bias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultParams()
			tt.modify(&p)
			err := p.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if _, err := New(p, 10); err == nil {
				t.Fatalf("New accepted invalid params")
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		p     Params
		vocab int
		want  string
	}{
		{"zero vocabulary", DefaultParams(), 0, "vocabulary"},
		{"bias id out of range", func() Params {
			p := DefaultParams()
			p.LogitBias = map[int32]float32{10: 1}
			return p
		}(), 10, "logit_bias token id 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.p, tt.vocab)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}
