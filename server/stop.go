package server

import (
	"encoding/json"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/openai"
)

// maxStops bounds the stop strings of a request.
const maxStops = 16

// parseStops reads what ends a generation besides max_tokens: stop
// strings, stop_token_ids and ignore_eos.
func parseStops(p *openai.Sampling, r *control.Request, vocab int) error {
	stops, err := parseStop(p.Stop, "stop")
	if err != nil {
		return err
	}
	r.StopStrings = stops
	for _, id := range p.StopTokenIDs {
		if id < 0 || int(id) >= vocab {
			return badParam("stop_token_ids", "stop_token_ids: %d is not a token id in [0, %d)", id, vocab)
		}
		r.StopTokens = append(r.StopTokens, id)
	}
	if p.IgnoreEOS != nil {
		r.IgnoreEOS = *p.IgnoreEOS
	}
	return nil
}

// parseStop reads stop: a string, an array of strings, or null.
func parseStop(raw json.RawMessage, param string) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	if err := checkNoNull(raw, param, "a string"); err != nil {
		return nil, err
	}
	var stops []string
	var one string
	if json.Unmarshal(raw, &one) == nil {
		stops = []string{one}
	} else if err := unmarshalParam(raw, &stops, param, "a string or an array of strings"); err != nil {
		return nil, err
	}
	if len(stops) > maxStops {
		return nil, badParam(param, "%s: %d stop sequences; at most %d", param, len(stops), maxStops)
	}
	for i, s := range stops {
		if s == "" {
			return nil, badParam(param, "%s: stop sequence %d is empty", param, i)
		}
	}
	return stops, nil
}
