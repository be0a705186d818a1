package sample

import (
	"fmt"
	"math"
)

// Params are one request's sampling settings. The zero value is not
// usable (top_p, typical_p and repetition_penalty of 0 are out of range):
// start from DefaultParams and override what the request sets.
//
// Validation messages name parameters by their snake_case field names
// (top_p, penalty_last_n, ...), which the server maps from its protocol.
type Params struct {
	// Temperature divides the logits before the final softmax; 0 (or less)
	// means greedy: argmax after logit bias and penalties, lowest id on ties.
	Temperature float32
	// TopK keeps the K most likely tokens; 0 turns it off.
	TopK int
	// TopP keeps the smallest most-likely prefix whose probability mass is
	// at least TopP; 1 turns it off.
	TopP float32
	// MinP drops tokens whose probability is below MinP times the largest
	// probability; 0 turns it off.
	MinP float32
	// TypicalP is locally typical sampling (llama.cpp's typ_p); 1 turns it off.
	TypicalP float32
	// RepetitionPenalty divides positive and multiplies non-positive logits
	// of tokens seen in the penalty window (llama.cpp's repeat_penalty);
	// 1 turns it off.
	RepetitionPenalty float32
	// PresencePenalty is subtracted once from the logit of every generated
	// token in the penalty window (OpenAI semantics; see
	// Sampler.AcceptPrompt); 0 turns it off.
	PresencePenalty float32
	// FrequencyPenalty is subtracted from a token's logit once per
	// generated occurrence in the penalty window (OpenAI semantics); 0 turns
	// it off.
	FrequencyPenalty float32
	// PenaltyLastN is the penalty window: the last N accepted tokens, prompt
	// and generated; -1 means every accepted token, 0 disables all three
	// penalties.
	PenaltyLastN int
	// LogitBias is added to the raw logits before anything else, as in
	// OpenAI's logit_bias (-100 all but bans, +100 all but forces); a bias
	// of -Inf bans the token outright.
	LogitBias map[int32]float32
	// Seed seeds the request's RNG; the server picks one when the request
	// does not, so a request can always be replayed.
	Seed uint64
	// MinKeep is the fewest tokens top-p, min-p and typical-p may leave;
	// 0 is treated as 1.
	MinKeep int
}

// DefaultParams returns llama.cpp's defaults with every filter that
// changes the distribution turned off: temperature 1, no top-k/top-p/min-p/
// typical-p, no penalties, a 64-token penalty window, min_keep 1.
func DefaultParams() Params {
	return Params{
		Temperature:       1,
		TopK:              0,
		TopP:              1,
		MinP:              0,
		TypicalP:          1,
		RepetitionPenalty: 1,
		PenaltyLastN:      64,
		MinKeep:           1,
	}
}

// finite reports whether f is neither NaN nor infinite.
func finite(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// Validate checks every parameter's range, so a bad request fails before
// it is queued, with a message that names the offending parameter.
func (p Params) Validate() error {
	switch {
	case !finite(p.Temperature) || p.Temperature < 0:
		return fmt.Errorf("temperature must be a finite number >= 0, got %g", p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("top_k must be >= 0 (0 = off), got %d", p.TopK)
	case !(p.TopP > 0 && p.TopP <= 1):
		return fmt.Errorf("top_p must be in (0, 1], got %g", p.TopP)
	case !(p.MinP >= 0 && p.MinP <= 1):
		return fmt.Errorf("min_p must be in [0, 1], got %g", p.MinP)
	case !(p.TypicalP > 0 && p.TypicalP <= 1):
		return fmt.Errorf("typical_p must be in (0, 1], got %g", p.TypicalP)
	case !finite(p.RepetitionPenalty) || p.RepetitionPenalty <= 0:
		return fmt.Errorf("repetition_penalty must be a finite number > 0, got %g", p.RepetitionPenalty)
	case !finite(p.PresencePenalty):
		return fmt.Errorf("presence_penalty must be finite, got %g", p.PresencePenalty)
	case !finite(p.FrequencyPenalty):
		return fmt.Errorf("frequency_penalty must be finite, got %g", p.FrequencyPenalty)
	case p.PenaltyLastN < -1:
		return fmt.Errorf("penalty_last_n must be >= -1 (-1 = whole context, 0 = off), got %d", p.PenaltyLastN)
	case p.MinKeep < 0:
		return fmt.Errorf("min_keep must be >= 0, got %d", p.MinKeep)
	}
	// Report the lowest bad id, so the message does not depend on map order.
	bad, found := int32(0), false
	for id, b := range p.LogitBias {
		if id < 0 || math.IsNaN(float64(b)) || math.IsInf(float64(b), 1) {
			if !found || id < bad {
				bad, found = id, true
			}
		}
	}
	if found {
		if bad < 0 {
			return fmt.Errorf("logit_bias token id must be >= 0, got %d", bad)
		}
		return fmt.Errorf("logit_bias for token %d must be a number or -Inf, got %g", bad, p.LogitBias[bad])
	}
	return nil
}

// penaltiesOn reports whether any penalty changes logits.
func (p Params) penaltiesOn() bool {
	return p.PenaltyLastN != 0 &&
		(p.RepetitionPenalty != 1 || p.PresencePenalty != 0 || p.FrequencyPenalty != 0)
}
