package server

import (
	"github.com/kiln-llm/kiln/server/openai"
)

// messageAlias makes a message's "message" key its content: the
// Chinese-LLaMA-Alpaca-2 demo's chat examples send
// {"role": "user", "message": "..."}. Both keys at once is ambiguous and
// answered with a 400 naming the alias.
func messageAlias(m *openai.Message, p string) error {
	if isNull(m.Message) {
		return nil
	}
	if !isNull(m.Content) {
		return badParam(p+".message", "%s.message: an alias of content; give content or message, not both", p)
	}
	m.Content = m.Message
	return nil
}

// applyHFNames maps HF transformers' generation names, which the
// Chinese-LLaMA-Alpaca-2 demo server passes to GenerationConfig, onto the
// vLLM parameters kiln implements:
//   - num_beams N > 1 is a beam search of width N (use_beam_search with
//     best_of N); 1 is ordinary decoding. It must agree with
//     use_beam_search and best_of when those are given too.
//   - do_sample false is greedy decoding (temperature 0), as in HF.
func applyHFNames(p *openai.Sampling) error {
	if p.NumBeams != nil {
		nb := *p.NumBeams
		switch {
		case nb < 1 || nb > maxN:
			return badParam("num_beams", "num_beams: %d; want 1..%d", nb, maxN)
		case nb == 1:
			if p.UseBeamSearch != nil && *p.UseBeamSearch {
				return badParam("num_beams", "num_beams: 1 means no beam search, but use_beam_search is true")
			}
		default:
			if p.UseBeamSearch != nil && !*p.UseBeamSearch {
				return badParam("num_beams", "num_beams: %d asks for beam search, but use_beam_search is false", nb)
			}
			if p.Stream != nil && *p.Stream {
				return badParam("num_beams", "num_beams: %d is a beam search, which cannot be streamed (no token is final before the search ends); set stream to false", nb)
			}
			if p.BestOf != nil && *p.BestOf != nb {
				return badParam("num_beams", "num_beams: %d disagrees with best_of %d (both are the beam width)", nb, *p.BestOf)
			}
			on := true
			p.UseBeamSearch, p.BestOf = &on, &nb
		}
	}
	if p.DoSample != nil && !*p.DoSample {
		zero := 0.0
		p.Temperature = &zero
	}
	return nil
}
