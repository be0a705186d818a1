package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/openai"
)

// interactiveSessions keeps LMDeploy-style sessions: each session's token
// history lives here, its K/V in the engine (control's SessionID), so a
// follow-up turn prefills only its new tokens.
type interactiveSessions struct {
	mu sync.Mutex
	m  map[int64]*iaSession
}

type iaSession struct {
	history   []int32 // every token of the conversation so far
	busy      bool    // a turn is in flight
	cancel    func()  // the in-flight turn's cancel, once it is submitted
	cancelled bool    // the turn in flight was cancelled by request
}

// claim marks session id busy and returns it with a copy of its history
// (nil, nil for id -1); ErrSessionBusy if a turn is in flight.
func (is *interactiveSessions) claim(id int64) (*iaSession, []int32, error) {
	if id < 0 {
		return nil, nil, nil
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	ss := is.m[id]
	if ss == nil {
		ss = &iaSession{}
		is.m[id] = ss
	}
	if ss.busy {
		return nil, nil, control.ErrSessionBusy
	}
	ss.busy, ss.cancelled, ss.cancel = true, false, nil
	return ss, slices.Clone(ss.history), nil
}

// submitted records the turn's cancel; a cancel that came first applies now.
func (is *interactiveSessions) submitted(ss *iaSession, cancel func()) {
	if ss == nil {
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	ss.cancel = cancel
	if ss.cancelled {
		cancel()
	}
}

// cancelTurn aborts session id's turn in flight, if any.
func (is *interactiveSessions) cancelTurn(id int64) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if ss := is.m[id]; ss != nil && ss.busy {
		ss.cancelled = true
		if ss.cancel != nil {
			ss.cancel()
		}
	}
}

// release ends a turn: the history becomes history (nil: unchanged).
func (is *interactiveSessions) release(ss *iaSession, history []int32) (cancelled bool) {
	if ss == nil {
		return false
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if history != nil {
		ss.history = history
	}
	cancelled = ss.cancelled
	ss.busy, ss.cancel, ss.cancelled = false, nil, false
	return cancelled
}

func newInteractiveSessions() *interactiveSessions {
	return &interactiveSessions{m: map[int64]*iaSession{}}
}

// engineSessionID is the control.Request.SessionID of session id.
func engineSessionID(id int64) string { return fmt.Sprintf("interactive-%d", id) }

// handleInteractive is LMDeploy's POST /v1/chat/interactive: session_id
// (-1: no session), interactive_mode (keep the history after this turn;
// false ends the session), cancel (abort the session's turn in flight).
// A busy session answers 409. The stream is newline-delimited JSON, as
// LMDeploy sends it.
func (s *Server) handleInteractive(c *fiber.Ctx) error {
	m, err := s.ready()
	if err != nil {
		return err
	}
	var req openai.InteractiveRequest
	if err := decodeBody(c.Body(), &req); err != nil {
		return err
	}
	id := int64(-1)
	if req.SessionID != nil {
		id = *req.SessionID
	}
	if id < -1 {
		return badParam("session_id", "session_id: %d; want -1 (no session) or >= 0", id)
	}
	interactive := req.InteractiveMode != nil && *req.InteractiveMode
	if req.Cancel != nil && *req.Cancel {
		s.sessions.cancelTurn(id)
		return c.JSON(openai.InteractiveResponse{FinishReason: finishReason("abort")})
	}
	var msgs []ChatMessage
	if !isNull(req.Prompt) {
		if msgs, err = parseMessages(req.Prompt); err != nil {
			if ae, ok := err.(*APIError); ok {
				ae.Param = "prompt"
			}
			return err
		}
	}

	// Parameters map onto the OpenAI ones.
	sp := openaiSamplingOf(&req)
	g, err := parseSampling(sp, m, 0)
	if err != nil {
		return err
	}
	g.req.ID = c.GetRespHeader(RequestIDHeader)

	ss, history, err := s.sessions.claim(id)
	if err != nil {
		return submitError(err, "")
	}
	submittedOK := false
	defer func() {
		if !submittedOK {
			s.sessions.release(ss, nil)
		}
	}()
	// end forgets the session and its K/V.
	end := func() {
		if id < 0 {
			return
		}
		s.sessions.mu.Lock()
		delete(s.sessions.m, id)
		s.sessions.mu.Unlock()
		m.Backend.EndSession(engineSessionID(id))
	}
	if len(msgs) == 0 {
		if !interactive {
			end() // LMDeploy: an empty prompt without interactive_mode ends the session
		}
		return c.JSON(openai.InteractiveResponse{HistoryTokens: len(history), FinishReason: finishReason(control.FinishStop)})
	}
	tmpl := m.chatTemplate()
	text, err := tmpl.Render(msgs, s.opts.ResponseRole, true)
	if err != nil {
		return badParam("prompt", "prompt: the chat template failed: %v", err)
	}
	var turn []int32
	if len(history) == 0 {
		turn = m.encodeChat(text)
	} else {
		if j, ok := tmpl.(*JinjaTemplate); ok && j.BOS() != "" {
			text = strings.TrimPrefix(text, j.BOS()) // a later turn continues the first one's sequence
		}
		if tmpl.EndOfTurn() == "<|im_end|>" {
			text = "\n" + text // after the last reply's <|im_end|>
		}
		turn = m.Tokenizer.Encode(text, false, true)
	}
	g.req.Prompt = append(history, turn...)
	if err := checkContext(&g, len(g.req.Prompt), m, "prompt"); err != nil {
		return err
	}
	m.endOfTurn(&g.req)
	if id >= 0 {
		g.req.SessionID = engineSessionID(id)
	}
	r, err := s.start(m.Backend, []control.Request{g.req}, "prompt")
	if err != nil {
		return err
	}
	submittedOK = true
	s.sessions.submitted(ss, r.cancel)
	// after records the turn: the history grows by it, or the session ends
	// (a failed or cancelled turn ends it: its K/V is gone). It reports
	// whether the turn was cancelled through the API.
	after := func(generated []int32, ok bool) (cancelled bool) {
		if id < 0 {
			return false
		}
		if !interactive || !ok {
			cancelled = s.sessions.release(ss, nil)
			end()
			return cancelled
		}
		return s.sessions.release(ss, append(slices.Clone(g.req.Prompt), generated...))
	}
	resp := openai.InteractiveResponse{InputTokens: len(turn), HistoryTokens: len(history)}
	if req.Stream == nil || !*req.Stream {
		defer r.finish()
		defer watchDisconnect(c, r)()
		res, err := s.collect(r, 1)
		if err != nil {
			if !after(nil, false) {
				return err
			}
			// Cancelled through the API: the text so far, as LMDeploy answers.
			resp.Text, resp.Tokens, resp.FinishReason = res[0].text.String(), len(res[0].tokens), finishReason(control.FinishAbort)
			return c.JSON(resp)
		}
		after(res[0].tokens, true)
		resp.Text, resp.Tokens, resp.FinishReason = res[0].text.String(), len(res[0].tokens), finishReason(res[0].finish)
		return c.JSON(resp)
	}
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
	return nil
}

// openaiSamplingOf maps LMDeploy's parameter names onto the shared ones.
func openaiSamplingOf(r *openai.InteractiveRequest) *openai.Sampling {
	return &openai.Sampling{
		MaxTokens: r.RequestOutputLen, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK, MinP: r.MinP,
		MinTokens: r.MinNewTokens, RepetitionPenalty: r.RepetitionPenalty, IgnoreEOS: r.IgnoreEOS, Seed: r.Seed, Stop: r.Stop,
	}
}
