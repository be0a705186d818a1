package server

import (
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
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

// errSessionFull is an interactive turn that does not fit in what is left
// of its session's context.
var errSessionFull = errors.New("the session is full")

// fitTurn fits an interactive turn into the context as LMDeploy does once
// a session has history: request_output_len is cut to the room left (the
// answer then ends with finish_reason "length"), and a turn with no room
// at all is errSessionFull, which LMDeploy answers with an empty text and
// finish_reason "length" (its FAQ: "the session is too long to be
// continued"; interactive_mode false restarts it). A first turn, and an
// output length beyond the whole context, are checked as any request.
func fitTurn(g *genParams, nHistory, nPrompt int, m *Model) error {
	if nHistory > 0 && nPrompt > nHistory {
		room := m.ContextLen - nPrompt
		if room <= 0 {
			return errSessionFull
		}
		if g.maxTokensParam != "" && g.req.MaxTokens > room && g.req.MaxTokens < m.ContextLen {
			g.req.MaxTokens = room
			g.req.MinTokens = min(g.req.MinTokens, room)
		}
	}
	return checkContext(g, nPrompt, m, "prompt")
}

// answerSessionFull is LMDeploy's answer to a turn that does not fit its
// session: no text, finish_reason "length" (one line when streamed).
func answerSessionFull(c *fiber.Ctx, stream bool, input, history int) error {
	resp := openai.InteractiveResponse{InputTokens: input, HistoryTokens: history, FinishReason: finishReason(control.FinishLength)}
	if !stream {
		return c.JSON(resp)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	return c.Send(append(b, '\n'))
}
