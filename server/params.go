package server

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/server/openai"
)

// maxStops bounds the stop strings of a request.
const maxStops = 16

// maxN bounds n and best_of, the sequences per prompt (they fork the
// prompt's K/V copy-on-write; the engine's max_num_seqs bounds them too).
const maxN = 16

// genParams are a parsed request's generation settings; Prompt is filled
// in per prompt by the endpoint.
type genParams struct {
	req          control.Request
	n            int // choices per prompt
	bestOf       int // sequences generated per prompt (>= n): the n likeliest are answered
	stream       bool
	includeUsage bool
	maxTokensSet bool
}

// isNull reports whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// unmarshalParam decodes raw into v, naming param on a type error.
func unmarshalParam(raw json.RawMessage, v any, param, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return badParam(param, "%s: wrong type: want %s", param, want)
	}
	return nil
}

// checkModel answers 404 for a model id other than the served one; an
// empty id means the served model.
func checkModel(id string, m *Model) error {
	if id != "" && id != m.ID {
		return modelNotFound(id)
	}
	return nil
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

// parseSampling validates the parameters completions and chat share and
// turns them into a control.Request template. defaultMax is the max_tokens
// used when the request sets none (0: until the context is full).
func parseSampling(p *openai.Sampling, m *Model, defaultMax int) (genParams, error) {
	var g genParams
	if err := checkModel(p.Model, m); err != nil {
		return g, err
	}
	g.n = 1
	if p.N != nil {
		if *p.N < 1 || *p.N > maxN {
			return g, badParam("n", "n: %d; want 1..%d", *p.N, maxN)
		}
		g.n = *p.N
	}
	g.bestOf = g.n
	if p.BestOf != nil {
		if *p.BestOf < g.n || *p.BestOf > maxN {
			return g, badParam("best_of", "best_of: %d; want n (%d) to %d", *p.BestOf, g.n, maxN)
		}
		g.bestOf = *p.BestOf
	}
	r := &g.req
	r.MaxTokens = defaultMax
	for _, mt := range []struct {
		name string
		v    *int
	}{{"max_tokens", p.MaxTokens}, {"max_completion_tokens", p.MaxCompletionTokens}} {
		if mt.v == nil {
			continue
		}
		if *mt.v < 1 {
			return g, badParam(mt.name, "%s: %d; want >= 1", mt.name, *mt.v)
		}
		r.MaxTokens, g.maxTokensSet = *mt.v, true
	}
	if p.MinTokens != nil {
		switch {
		case *p.MinTokens < 0:
			return g, badParam("min_tokens", "min_tokens: %d; want >= 0", *p.MinTokens)
		case r.MaxTokens > 0 && *p.MinTokens > r.MaxTokens:
			return g, badParam("min_tokens", "min_tokens: %d exceeds max_tokens %d", *p.MinTokens, r.MaxTokens)
		}
		r.MinTokens = *p.MinTokens
	}

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
			return g, c
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
			return g, badParam("top_k", "top_k: %d; want -1 or 0 (off) or a positive count", *p.TopK)
		case *p.TopK > m.Tokenizer.VocabSize():
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
	vocab := m.Tokenizer.VocabSize()
	if len(p.LogitBias) > 0 {
		sp.LogitBias = make(map[int32]float32, len(p.LogitBias))
		for k, v := range p.LogitBias {
			id, err := strconv.ParseInt(k, 10, 32)
			if err != nil || id < 0 || int(id) >= vocab {
				return g, badParam("logit_bias", "logit_bias: key %q is not a token id in [0, %d)", k, vocab)
			}
			if math.IsNaN(v) || v < -100 || v > 100 {
				return g, badParam("logit_bias", "logit_bias: %g for token %d is out of range; want [-100, 100]", v, id)
			}
			sp.LogitBias[int32(id)] = float32(v)
		}
	}
	if err := sp.Validate(); err != nil {
		return g, badParam("", "%v", err)
	}
	r.Sample = sp

	stops, err := parseStop(p.Stop, "stop")
	if err != nil {
		return g, err
	}
	r.StopStrings = stops
	for _, id := range p.StopTokenIDs {
		if id < 0 || int(id) >= vocab {
			return g, badParam("stop_token_ids", "stop_token_ids: %d is not a token id in [0, %d)", id, vocab)
		}
		r.StopTokens = append(r.StopTokens, id)
	}
	if p.IgnoreEOS != nil {
		r.IgnoreEOS = *p.IgnoreEOS
	}
	g.stream = p.Stream != nil && *p.Stream
	if p.StreamOptions != nil {
		if !g.stream {
			return g, badParam("stream_options", "stream_options: only allowed when stream is true")
		}
		g.includeUsage = p.StreamOptions.IncludeUsage != nil && *p.StreamOptions.IncludeUsage
	}
	if g.stream && g.bestOf > g.n {
		return g, badParam("best_of", "best_of: %d > n cannot be streamed (the best are known only at the end)", g.bestOf)
	}
	if err := parseBeamSearch(p, &g); err != nil {
		return g, err
	}
	return g, checkStructured(p)
}

// expand makes one request per prompt with n choices and best_of (or the
// beam width): the engine prefills the prompt once and forks the choices,
// choice j sampling with seed+j so a seeded request stays reproducible.
func (g *genParams) expand(prompts [][]int32, id string) []control.Request {
	reqs := make([]control.Request, 0, len(prompts))
	for _, p := range prompts {
		r := g.req
		r.Prompt, r.ID = p, id
		r.N, r.BestOf = g.n, g.bestOf
		reqs = append(reqs, r)
	}
	return reqs
}

// best returns the results (the engine already kept the n best of best_of)
// and their usages.
func (g *genParams) best(res []result) ([]result, []control.Usage) {
	usages := make([]control.Usage, len(res))
	for i := range res {
		usages[i] = res[i].usage
	}
	return res, usages
}

// parseStop reads stop: a string, an array of strings, or null.
func parseStop(raw json.RawMessage, param string) ([]string, error) {
	if isNull(raw) {
		return nil, nil
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

// checkContext rejects a prompt that leaves no room in the context, or a
// max_tokens that the context cannot hold, as vLLM does.
func checkContext(g *genParams, nPrompt int, m *Model, promptParam string) error {
	if nPrompt == 0 {
		return badParam(promptParam, "%s: the prompt is empty", promptParam)
	}
	if nPrompt >= m.ContextLen {
		return badParam(promptParam, "This model's maximum context length is %d tokens. However, your prompt has %d tokens, which leaves no room for a completion.", m.ContextLen, nPrompt)
	}
	if g.maxTokensSet && nPrompt+g.req.MaxTokens > m.ContextLen {
		return badParam("max_tokens", "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d in the completion). Please reduce the length of the prompt or completion.",
			m.ContextLen, nPrompt+g.req.MaxTokens, nPrompt, g.req.MaxTokens)
	}
	return nil
}

// decodeBody unmarshals the JSON body into v with errors naming the field.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badParam("", "the request body is empty; want a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}
