package server

import (
	"encoding/json"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/openai"
)

// parseBeamSearch reads use_beam_search, length_penalty and early_stopping
// (vLLM's extras) into g. The beam width is best_of, or n without it. As in
// vLLM, length_penalty and early_stopping only mean something with beam
// search and are refused otherwise; a streamed beam search is refused
// because no token is settled before the search ends.
func parseBeamSearch(p *openai.Sampling, g *genParams) error {
	if err := inRange("length_penalty", p.LengthPenalty, -10, 10, false); err != nil {
		return err
	}
	b := control.BeamSearch{LengthPenalty: 1}
	if p.LengthPenalty != nil {
		b.LengthPenalty = *p.LengthPenalty
	}
	esSet := false
	if !isNull(p.EarlyStopping) {
		var on bool
		var s string
		switch {
		case json.Unmarshal(p.EarlyStopping, &on) == nil:
			if on {
				b.EarlyStopping = control.EarlyStopTrue
			}
			esSet = on
		case json.Unmarshal(p.EarlyStopping, &s) == nil && s == "never":
			b.EarlyStopping, esSet = control.EarlyStopNever, true
		default:
			return badParam("early_stopping", `early_stopping: want true, false or "never"`)
		}
	}
	if p.UseBeamSearch == nil || !*p.UseBeamSearch {
		switch {
		case b.LengthPenalty != 1:
			return badParam("length_penalty", "length_penalty: only used by beam search; set use_beam_search to true or leave it at 1")
		case esSet:
			return badParam("early_stopping", "early_stopping: only used by beam search; set use_beam_search to true or leave it false")
		}
		return nil
	}
	if g.stream {
		return badParam("use_beam_search", "use_beam_search: beam search cannot be streamed (no token is final before the search ends); set stream to false")
	}
	g.req.Beam = &b
	return nil
}
