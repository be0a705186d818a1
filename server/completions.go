package server

import (
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/server/openai"
)

// maxPrompts bounds the prompts of one completions request (a batch).
const maxPrompts = 64

// maxCompletionLogprobs bounds completions' logprobs (OpenAI allows 5;
// vLLM, like kiln, up to 20).
const maxCompletionLogprobs = 20

// completionDefaultMax is the legacy completions endpoint's max_tokens
// default, as OpenAI documents it.
const completionDefaultMax = 16

// prompt is one parsed prompt: its tokens and its text (for echo).
type prompt struct {
	tokens []int32
	text   string
}

// parsePrompts reads param (prompt, or embeddings' input): a string, an
// array of strings, an array of token ids, or an array of such arrays.
func parsePrompts(raw json.RawMessage, tok *tokenizer.Tokenizer, param string) ([]prompt, error) {
	if isNull(raw) {
		return nil, badParam(param, "%s: required", param)
	}
	if err := checkNoNull(raw, param, "a string or a token id"); err != nil {
		return nil, err
	}
	encode := func(s string) prompt { return prompt{tokens: tok.Encode(s, true, true), text: s} }
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []prompt{encode(one)}, nil
	}
	var ids []int32
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return []prompt{{tokens: ids, text: tok.Decode(ids)}}, nil
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil {
		return nil, badParam(param, "%s: wrong type: want a string, an array of strings, an array of token ids or an array of such arrays", param)
	}
	if len(many) == 0 {
		return nil, badParam(param, "%s: empty array", param)
	}
	if len(many) > maxPrompts {
		return nil, badParam(param, "%s: %d %ss; at most %d per request", param, len(many), param, maxPrompts)
	}
	out := make([]prompt, 0, len(many))
	for i, el := range many {
		if json.Unmarshal(el, &one) == nil {
			out = append(out, encode(one))
		} else if json.Unmarshal(el, &ids) == nil {
			out = append(out, prompt{tokens: ids, text: tok.Decode(ids)})
		} else {
			return nil, badParam(param, "%s[%d]: wrong type: want a string or an array of token ids", param, i)
		}
	}
	return out, nil
}

// handleCompletions is POST /v1/completions.
func (s *Server) handleCompletions(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	var req openai.CompletionRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	g, err := parseSampling(&req.Sampling, m, completionDefaultMax)
	if err != nil {
		return err
	}
	if req.Suffix != nil && *req.Suffix != "" {
		return notImplemented("suffix", "suffix (fill-in-the-middle)")
	}
	if len(req.Tools) > 0 || !isNull(req.ToolChoice) {
		param := "tools"
		if len(req.Tools) == 0 {
			param = "tool_choice"
		}
		return badParam(param, "%s: tool calling is only available on /v1/chat/completions", param)
	}
	echo := req.Echo != nil && *req.Echo
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > maxCompletionLogprobs {
			return badParam("logprobs", "logprobs: %d; want 0..%d", *req.Logprobs, maxCompletionLogprobs)
		}
		if echo {
			return notImplemented("echo", "echo with logprobs (prompt logprobs)")
		}
		g.req.Logprobs, g.req.TopLogprobs = true, *req.Logprobs
	}
	prompts, err := parsePrompts(req.Prompt, m.Tokenizer, "prompt")
	if err != nil {
		return err
	}
	if len(prompts)*g.bestOf > maxPrompts {
		return badParam("n", "n: %d sequences for each of %d prompts; at most %d per request", g.bestOf, len(prompts), maxPrompts)
	}
	toks := make([][]int32, len(prompts))
	for i, p := range prompts {
		if err := checkContext(&g, len(p.tokens), m, "prompt"); err != nil {
			return err
		}
		toks[i] = p.tokens
	}
	og, err := s.outputGrammar(&req.Sampling)
	if err != nil {
		return err
	}
	reqs := g.expand(toks, c.GetRespHeader(RequestIDHeader))
	s.constrain(reqs, m, og)
	r, err := s.start(m.Backend, reqs, "prompt")
	if err != nil {
		return err
	}
	base := openai.Completion{ID: newID("cmpl-"), Object: "text_completion", Created: time.Now().Unix(), Model: m.ID}
	if g.stream {
		s.streamCompletion(c, r, base, prompts, g.n, echo, g.includeUsage, m.Tokenizer)
		return nil
	}
	defer r.finish()
	defer watchDisconnect(c, r)()
	res, err := s.collect(r, r.n)
	if err != nil {
		return err
	}
	us := usages(res)
	for i := range res {
		text := res[i].text.String()
		offset := 0
		if echo {
			p := prompts[i/g.n].text
			text = p + text
			offset = len(p)
		}
		ch := openai.CompletionChoice{Index: i, Text: text, FinishReason: finishReason(res[i].finish)}
		if g.req.Logprobs {
			ch.Logprobs = completionLogprobs(res[i].logprobs, m.Tokenizer, &offset)
		}
		base.Choices = append(base.Choices, ch)
	}
	base.Usage = usage(g.n, us...)
	return c.JSON(base)
}

// streamCompletion streams a completions answer, one chunk per event.
func (s *Server) streamCompletion(c *fiber.Ctx, r *run, base openai.Completion, prompts []prompt, n int, echo, includeUsage bool, tok *tokenizer.Tokenizer) {
	offsets := make([]int, r.n)
	us := make([]control.Usage, r.n)
	chunk := func(i int, text string) openai.Completion {
		ch := base
		ch.Choices = []openai.CompletionChoice{{Index: i, Text: text}}
		return ch
	}
	echoed := make([]bool, r.n)
	s.streamRun(c, r, func(out *sse, ie indexedEvent) {
		text := ie.ev.Text
		if echo && !echoed[ie.i] {
			echoed[ie.i] = true
			p := prompts[ie.i/n].text
			text = p + text
			offsets[ie.i] = len(p)
		}
		ch := chunk(ie.i, text)
		if len(ie.ev.Logprobs) > 0 {
			ch.Choices[0].Logprobs = completionLogprobs(ie.ev.Logprobs, tok, &offsets[ie.i])
		}
		if ie.ev.Finish != "" {
			ch.Choices[0].FinishReason = finishReason(ie.ev.Finish)
			if ie.ev.Usage != nil {
				us[ie.i] = *ie.ev.Usage
			}
		}
		if text != "" || ch.Choices[0].Logprobs != nil || ie.ev.Finish != "" {
			out.send(ch)
		}
	}, func(out *sse) {
		if includeUsage {
			ch := base
			ch.Choices = []openai.CompletionChoice{}
			ch.Usage = usage(n, us...)
			out.send(ch)
		}
	})
}

// completionLogprobs is the legacy logprobs object for lps; offset is the
// text offset of the first token and advances past them.
func completionLogprobs(lps []control.TokenLogprob, tok *tokenizer.Tokenizer, offset *int) *openai.CompletionLogprobs {
	out := &openai.CompletionLogprobs{
		Tokens: []string{}, TokenLogprobs: []float32{}, TopLogprobs: []map[string]float32{}, TextOffset: []int{},
	}
	for _, lp := range lps {
		piece := tok.TokenToPiece(lp.ID)
		out.Tokens = append(out.Tokens, piece)
		out.TokenLogprobs = append(out.TokenLogprobs, lp.Logprob)
		top := make(map[string]float32, len(lp.Top))
		for _, t := range lp.Top {
			top[tok.TokenToPiece(t.ID)] = t.Logprob
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, *offset)
		*offset += len(piece)
	}
	return out
}
