package server

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/server/openai"
)

// parseSamplerParams reads the sampler's settings: temperature, the
// truncations (top_p, top_k, min_p, typical_p), the penalties, seed and
// logit_bias, on sample's defaults.
func parseSamplerParams(p *openai.Sampling, vocab int) (sample.Params, error) {
	sp := sample.DefaultParams()
	sp.PenaltyLastN = -1 // OpenAI and vLLM penalise over the whole sequence
	for _, c := range []error{
		inRange("temperature", p.Temperature, 0, 2, false),
		inRange("top_p", p.TopP, 0, 1, true),
		inRange("min_p", p.MinP, 0, 1, false),
		inRange("typical_p", p.TypicalP, 0, 1, true),
		inRange("presence_penalty", p.PresencePenalty, -2, 2, false),
		inRange("frequency_penalty", p.FrequencyPenalty, -2, 2, false),
		inRange("repetition_penalty", p.RepetitionPenalty, 0, 10, true),
	} {
		if c != nil {
			return sp, c
		}
	}
	set := func(dst *float32, v *float64) {
		if v != nil {
			*dst = float32(*v)
		}
	}
	set(&sp.Temperature, p.Temperature)
	set(&sp.TopP, p.TopP)
	set(&sp.MinP, p.MinP)
	set(&sp.TypicalP, p.TypicalP)
	set(&sp.PresencePenalty, p.PresencePenalty)
	set(&sp.FrequencyPenalty, p.FrequencyPenalty)
	set(&sp.RepetitionPenalty, p.RepetitionPenalty)
	if p.TopK != nil {
		switch {
		case *p.TopK == -1:
			sp.TopK = 0 // vLLM's "off"
		case *p.TopK < 0:
			return sp, badParam("top_k", "top_k: %d; want -1 or 0 (off) or a positive count", *p.TopK)
		case *p.TopK > vocab:
			sp.TopK = 0 // keeping more than the vocabulary keeps everything
		default:
			sp.TopK = *p.TopK
		}
	}
	if p.Seed != nil {
		sp.Seed = uint64(*p.Seed)
	} else {
		sp.Seed = rand.Uint64()
	}
	bias, err := parseLogitBias(p.LogitBias, vocab)
	if err != nil {
		return sp, err
	}
	sp.LogitBias = bias
	if err := sp.Validate(); err != nil {
		return sp, badParam("", "%v", err)
	}
	return sp, nil
}

// parseLogitBias reads logit_bias: token id (as a string key) to a bias
// in [-100, 100]; nil when empty.
func parseLogitBias(lb map[string]float64, vocab int) (map[int32]float32, error) {
	if len(lb) == 0 {
		return nil, nil
	}
	out := make(map[int32]float32, len(lb))
	for k, v := range lb {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 || int(id) >= vocab {
			return nil, badParam("logit_bias", "logit_bias: key %q is not a token id in [0, %d)", k, vocab)
		}
		if math.IsNaN(v) || v < -100 || v > 100 {
			return nil, badParam("logit_bias", "logit_bias: %g for token %d is out of range; want [-100, 100]", v, id)
		}
		out[int32(id)] = float32(v)
	}
	return out, nil
}

// inRange checks lo <= *v <= hi (or lo < *v when openLo) for a set value.
func inRange(param string, v *float64, lo, hi float64, openLo bool) error {
	if v == nil {
		return nil
	}
	if math.IsNaN(*v) || *v > hi || *v < lo || (openLo && *v == lo) {
		lb := "["
		if openLo {
			lb = "("
		}
		return badParam(param, "%s: %g is out of range; want %s%g, %g]", param, *v, lb, lo, hi)
	}
	return nil
}
