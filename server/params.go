package server

import (
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/openai"
)

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
	// maxTokensParam names the limit the client set (max_tokens or
	// max_completion_tokens), "" for the endpoint's default.
	maxTokensParam string
}

// checkModel answers 404 for a model id the server does not serve. The
// one served model answers any id (furiosa-llm's and LMDeploy's examples
// send "EMPTY" or a placeholder), unless m.StrictName asks for vLLM's
// strictness: then only its ID and Aliases match. An empty id is always
// the served model.
func checkModel(id string, m *Model) error {
	if id == "" || !m.StrictName || m.AnswersTo(id) {
		return nil
	}
	return modelNotFound(id)
}

// parseSampling validates the parameters completions and chat share and
// turns them into a control.Request template. defaultMax is the max_tokens
// used when the request sets none (0: until the context is full).
func parseSampling(p *openai.Sampling, m *Model, defaultMax int) (genParams, error) {
	var g genParams
	if err := checkModel(p.Model, m); err != nil {
		return g, err
	}
	if err := applyHFNames(p); err != nil {
		return g, err
	}
	if err := parseCounts(p, &g); err != nil {
		return g, err
	}
	if err := parseLimits(p, &g, defaultMax); err != nil {
		return g, err
	}
	sp, err := parseSamplerParams(p, m.Tokenizer.VocabSize())
	if err != nil {
		return g, err
	}
	g.req.Sample = sp
	if err := parseStops(p, &g.req, m.Tokenizer.VocabSize()); err != nil {
		return g, err
	}
	if err := parseStreaming(p, &g); err != nil {
		return g, err
	}
	if err := parseBeamSearch(p, &g); err != nil {
		return g, err
	}
	// Structured outputs parse guided_choice as strings, which a null
	// element would pass as "".
	if err := checkNoNull(p.GuidedChoice, "guided_choice", "a string"); err != nil {
		return g, err
	}
	return g, checkStructured(p)
}

// parseCounts reads n (the choices per prompt) and best_of (the sequences
// generated, the n likeliest answered).
func parseCounts(p *openai.Sampling, g *genParams) error {
	g.n = 1
	if p.N != nil {
		if *p.N < 1 || *p.N > maxN {
			return badParam("n", "n: %d; want 1..%d", *p.N, maxN)
		}
		g.n = *p.N
	}
	g.bestOf = g.n
	if p.BestOf != nil {
		if *p.BestOf < g.n || *p.BestOf > maxN {
			return badParam("best_of", "best_of: %d; want n (%d) to %d", *p.BestOf, g.n, maxN)
		}
		g.bestOf = *p.BestOf
	}
	return nil
}

// parseLimits reads max_tokens (or its newer name max_completion_tokens)
// and min_tokens.
func parseLimits(p *openai.Sampling, g *genParams, defaultMax int) error {
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
			return badParam(mt.name, "%s: %d; want >= 1", mt.name, *mt.v)
		}
		r.MaxTokens, g.maxTokensParam = *mt.v, mt.name
	}
	if p.MinTokens != nil {
		switch {
		case *p.MinTokens < 0:
			return badParam("min_tokens", "min_tokens: %d; want >= 0", *p.MinTokens)
		case r.MaxTokens > 0 && *p.MinTokens > r.MaxTokens:
			limit := g.maxTokensParam
			if limit == "" {
				limit = "the default max_tokens"
			}
			return badParam("min_tokens", "min_tokens: %d exceeds %s %d", *p.MinTokens, limit, r.MaxTokens)
		}
		r.MinTokens = *p.MinTokens
	}
	if p.Priority != nil {
		// vLLM's priority scheduling: lower first; bounded so that the
		// scheduler's comparisons cannot overflow.
		if *p.Priority < -1<<30 || *p.Priority > 1<<30 {
			return badParam("priority", "priority: %d; want a value in [-2^30, 2^30] (lower is served first)", *p.Priority)
		}
		r.Priority = *p.Priority
	}
	return nil
}

// parseStreaming reads stream and stream_options; best_of beyond n cannot
// be streamed (the best are known only at the end).
func parseStreaming(p *openai.Sampling, g *genParams) error {
	g.stream = p.Stream != nil && *p.Stream
	if p.StreamOptions != nil {
		if !g.stream {
			return badParam("stream_options", "stream_options: only allowed when stream is true")
		}
		g.includeUsage = p.StreamOptions.IncludeUsage != nil && *p.StreamOptions.IncludeUsage
	}
	if g.stream && g.bestOf > g.n {
		return badParam("best_of", "best_of: %d > n cannot be streamed (the best are known only at the end)", g.bestOf)
	}
	return nil
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

// usages are the usages of the results (the engine already kept the n
// best of best_of), in order.
func usages(res []result) []control.Usage {
	us := make([]control.Usage, len(res))
	for i := range res {
		us[i] = res[i].usage
	}
	return us
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
	if g.maxTokensParam != "" && nPrompt+g.req.MaxTokens > m.ContextLen {
		return badParam(g.maxTokensParam, "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d in the completion). Please reduce the length of the prompt or completion.",
			m.ContextLen, nPrompt+g.req.MaxTokens, nPrompt, g.req.MaxTokens)
	}
	return nil
}
