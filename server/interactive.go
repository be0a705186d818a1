package server

import (
	"bufio"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// interactiveTurn is a parsed LMDeploy /v1/chat/interactive request.
type interactiveTurn struct {
	id          int64 // the session; -1 for none
	interactive bool  // keep the history after this turn; false ends the session
	cancel      bool  // abort the session's turn in flight
	stream      bool
	msgs        []chat.Message // none: an empty prompt
	gen         genParams
}

// handleInteractive is LMDeploy's POST /v1/chat/interactive, with its
// semantics: session_id (-1: no session) names a conversation whose
// history (and K/V) the server keeps while interactive_mode is true;
// interactive_mode false answers the turn and then ends the session, and
// with an empty prompt it only ends it (and frees its K/V); cancel aborts
// the session's turn in flight. A busy session answers 409. Errors name
// the fields as LMDeploy calls them (request_output_len, min_new_tokens,
// prompt). The stream is newline-delimited JSON, as LMDeploy sends it.
func (s *Server) handleInteractive(c *fiber.Ctx) error {
	m, err := s.defaultModel(c)
	if err != nil {
		return err
	}
	if err := checkJSONBody(c); err != nil {
		return err
	}
	t, err := parseInteractive(c.Body(), m)
	if err != nil {
		return lmdeployError(err)
	}
	if t.cancel {
		if t.id < 0 {
			return badParam("session_id", "session_id: -1 has no turn to cancel; give the session's id")
		}
		s.sessions.cancelTurn(t.id)
		return c.JSON(interactiveDone(0))
	}
	ss, history, err := s.sessions.claim(t.id)
	if err != nil {
		return submitError(err, "prompt")
	}
	if len(t.msgs) == 0 {
		if !t.interactive {
			s.sessions.end(t.id, m.Backend) // LMDeploy's end of a session
			history = nil
		}
		s.sessions.release(ss, nil)
		return c.JSON(interactiveDone(len(history)))
	}
	r, turn, err := s.startTurn(c, m, &t, history)
	if errors.Is(err, errSessionFull) {
		s.sessions.release(ss, nil) // kept: interactive_mode false restarts it
		return answerSessionFull(c, t.stream, len(turn), len(history))
	}
	if err != nil {
		s.sessions.release(ss, nil)
		return lmdeployError(err)
	}
	s.sessions.submitted(ss, r.cancel)
	// after records the turn: the history grows by it, or the session ends
	// (a failed or cancelled turn ends it: its K/V is gone). It reports
	// whether the turn was cancelled through the API.
	after := func(generated []int32, ok bool) (cancelled bool) {
		if t.id < 0 {
			return false
		}
		if !t.interactive || !ok {
			s.sessions.end(t.id, m.Backend)
			return s.sessions.release(ss, nil)
		}
		return s.sessions.release(ss, append(slices.Clone(t.gen.req.Prompt), generated...))
	}
	resp := openai.InteractiveResponse{InputTokens: len(turn), HistoryTokens: len(history)}
	if t.stream {
		s.streamInteractive(c, r, resp, after)
		return nil
	}
	return s.answerInteractive(c, r, resp, after)
}

// interactiveDone is the answer to a request that generates nothing.
func interactiveDone(history int) openai.InteractiveResponse {
	return openai.InteractiveResponse{HistoryTokens: history, FinishReason: finishReason(control.FinishStop)}
}

// parseInteractive reads and validates an interactive request; its
// sampling parameters map onto the OpenAI ones.
func parseInteractive(body []byte, m *Model) (interactiveTurn, error) {
	t := interactiveTurn{id: -1}
	var req openai.InteractiveRequest
	if err := decodeJSON(body, &req); err != nil {
		return t, err
	}
	if req.SessionID != nil {
		t.id = *req.SessionID
	}
	if t.id < -1 {
		return t, badParam("session_id", "session_id: %d; want -1 (no session) or >= 0", t.id)
	}
	t.interactive = req.InteractiveMode != nil && *req.InteractiveMode
	t.cancel = req.Cancel != nil && *req.Cancel
	t.stream = req.Stream != nil && *req.Stream
	msgs, err := parseInteractivePrompt(req.Prompt)
	if err != nil {
		return t, err
	}
	t.msgs = msgs
	if n := req.RequestOutputLen; n != nil && *n == 0 {
		if len(msgs) > 0 || t.interactive {
			return t, badParam("request_output_len", "request_output_len: 0 generates nothing; want >= 1 (0 is only LMDeploy's end of a session: an empty prompt with interactive_mode false)")
		}
		req.RequestOutputLen = nil
	}
	t.gen, err = parseSampling(openaiSamplingOf(&req), m, 0)
	return t, err
}

// parseInteractivePrompt reads prompt: a string (one user message) or an
// array of OpenAI messages; "", [] and null are the empty prompt.
func parseInteractivePrompt(raw json.RawMessage) ([]chat.Message, error) {
	if isNull(raw) {
		return nil, nil
	}
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if text == "" {
			return nil, nil
		}
		return []chat.Message{{Role: "user", Content: text}}, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) == nil && len(items) == 0 {
		return nil, nil
	}
	if items == nil {
		return nil, badParam("prompt", "prompt: wrong type: want a string or an array of messages")
	}
	return parseMessages(raw)
}

// openaiSamplingOf maps LMDeploy's parameter names onto the shared ones.
func openaiSamplingOf(r *openai.InteractiveRequest) *openai.Sampling {
	return &openai.Sampling{
		MaxTokens: r.RequestOutputLen, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, MinP: r.MinP,
		MinTokens: r.MinNewTokens, RepetitionPenalty: r.RepetitionPenalty, IgnoreEOS: r.IgnoreEOS, Seed: r.Seed, Stop: r.Stop,
	}
}

// lmdeployName is the name LMDeploy's interactive request gives a
// parameter the shared parsers name in OpenAI's words.
func lmdeployName(param string) string {
	switch {
	case param == "max_tokens":
		return "request_output_len"
	case param == "min_tokens":
		return "min_new_tokens"
	case strings.HasPrefix(param, "messages"):
		return "prompt" + strings.TrimPrefix(param, "messages")
	}
	return param
}

// lmdeployError is err naming the parameter (in its param and its
// message) the way the interactive client sent it.
func lmdeployError(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	out := *ae // the shared errors stay as they are
	out.Param = lmdeployName(ae.Param)
	out.Message = strings.NewReplacer(
		"max_tokens", "request_output_len", "min_tokens", "min_new_tokens",
		"messages[", "prompt[", "messages:", "prompt:", // the parameter, not the word
	).Replace(ae.Message)
	return &out
}

// startTurn renders and tokenizes t's messages to follow history and
// submits the whole conversation; the engine keeps the session's K/V, so
// only the new tokens are prefilled. It returns the run and the turn's
// own tokens.
func (s *Server) startTurn(c *fiber.Ctx, m *Model, t *interactiveTurn, history []int32) (*run, []int32, error) {
	tmpl, err := m.template()
	if err != nil {
		return nil, nil, err
	}
	text, err := renderChat(tmpl, t.msgs, nil, true)
	if err != nil {
		return nil, nil, err
	}
	var turn []int32
	if len(history) == 0 {
		turn = m.encodeChat(text, tmpl)
	} else {
		if bos := tmpl.BOS(); bos != "" {
			text = strings.TrimPrefix(text, bos) // a later turn continues the first one's sequence
		}
		if tmpl.EndOfTurn() == "<|im_end|>" {
			text = "\n" + text // after the last reply's <|im_end|>
		}
		turn = m.Tokenizer.Encode(text, false, true)
	}
	g := &t.gen
	g.req.ID = c.GetRespHeader(RequestIDHeader)
	g.req.Prompt = append(history, turn...)
	if err := fitTurn(g, len(history), len(g.req.Prompt), m); err != nil {
		return nil, turn, err
	}
	m.endOfTurn(&g.req, tmpl)
	if t.id >= 0 {
		g.req.SessionID = engineSessionID(t.id)
	}
	r, err := s.start(m.Backend, []control.Request{g.req}, "prompt")
	return r, turn, err
}

// answerInteractive writes a turn's whole answer; a turn cancelled through
// the API answers its text so far with finish_reason abort, as LMDeploy.
func (s *Server) answerInteractive(c *fiber.Ctx, r *run, resp openai.InteractiveResponse, after func([]int32, bool) bool) error {
	defer r.finish()
	defer watchDisconnect(c, r)()
	res, err := s.collect(r, 1)
	if err != nil {
		if !after(nil, false) {
			return err
		}
		resp.Text, resp.Tokens, resp.FinishReason = res[0].text.String(), len(res[0].tokens), finishReason(control.FinishAbort)
		return c.JSON(resp)
	}
	after(res[0].tokens, true)
	resp.Text, resp.Tokens, resp.FinishReason = res[0].text.String(), len(res[0].tokens), finishReason(res[0].finish)
	return c.JSON(resp)
}

// streamInteractive streams a turn as newline-delimited JSON, one line per
// event, the last with its finish_reason.
func (s *Server) streamInteractive(c *fiber.Ctx, r *run, resp openai.InteractiveResponse, after func([]int32, bool) bool) {
	c.Set(fiber.HeaderContentType, "application/x-ndjson")
	unwatch := watchDisconnect(c, r)
	reportGone := s.streamDisconnects(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer r.finish()
		defer unwatch()
		defer reportGone(r.ctx)
		var generated []int32
		ok := false
		for ie := range r.events {
			generated = append(generated, ie.ev.Tokens...)
			line := resp
			line.Text, line.Tokens = ie.ev.Text, len(generated)
			if f := ie.ev.Finish; f != "" {
				ok = f == control.FinishStop || f == control.FinishLength
				line.FinishReason = finishReason(f)
			}
			b, _ := json.Marshal(line)
			if _, err := w.Write(append(b, '\n')); err != nil || w.Flush() != nil {
				hangUp(r.ctx)
				break
			}
		}
		after(generated, ok)
	})
}
