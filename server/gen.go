package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/openai"
)

// indexedEvent is an event of the i-th choice of a run: the choices of its
// requests in order (prompt p's choice j is p*n+j).
type indexedEvent struct {
	i  int
	ev control.Event
}

// run is one HTTP request's generations in flight: the requests of a batch
// (completions may carry several prompts) merged onto one channel.
type run struct {
	ctx    context.Context
	cancel context.CancelFunc
	events <-chan indexedEvent
	n      int           // choices, over all requests
	stop   chan struct{} // closed when the reader stops reading
	done   func()        // releases the server's in-flight count
}

// start submits reqs under a fresh request context. On a Submit error the
// ones already submitted are cancelled and the error (mapped to a status)
// is returned. The caller must call r.finish when it stops reading.
func (s *Server) start(b control.Backend, reqs []control.Request, promptParam string) (*run, error) {
	ctx, cancel := s.requestContext()
	s.inflight.Add()
	var once sync.Once
	r := &run{ctx: ctx, cancel: cancel, stop: make(chan struct{})}
	r.done = func() {
		once.Do(func() {
			close(r.stop)
			s.inflight.Done()
		})
	}
	chans := make([]<-chan control.Event, 0, len(reqs))
	first := make([]int, 0, len(reqs))
	for _, req := range reqs {
		ch, err := b.Submit(ctx, req)
		if err != nil {
			r.finish()
			return nil, submitError(err, promptParam)
		}
		chans = append(chans, ch)
		first = append(first, r.n)
		r.n += max(req.N, 1)
	}
	r.events = merge(r.stop, chans, first)
	return r, nil
}

// finish cancels whatever still runs (freeing its K/V) and releases the
// in-flight count.
func (r *run) finish() {
	r.cancel()
	r.done()
}

// merge fans the channels into one until stop is closed (the reader has
// gone; the engine never blocks on a channel nobody reads). Cancellation
// does not stop it: the final abort events must still reach the reader.
func merge(stop <-chan struct{}, chans []<-chan control.Event, first []int) <-chan indexedEvent {
	out := make(chan indexedEvent, 8*len(chans))
	var wg sync.WaitGroup
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range ch {
				select {
				case out <- indexedEvent{first[i] + ev.Index, ev}:
				case <-stop:
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(out) }()
	return out
}

// result accumulates one request's events for a non-streamed answer.
type result struct {
	text     strings.Builder
	tokens   []int32
	logprobs []control.TokenLogprob
	finish   control.FinishReason
	usage    control.Usage
	err      error
}

// collect reads every event of r into one result per request; an abort or
// engine error becomes the APIError to answer with (the partial results
// are returned with it).
func (s *Server) collect(r *run, n int) ([]result, error) {
	res := make([]result, n)
	for ie := range r.events {
		x := &res[ie.i]
		x.text.WriteString(ie.ev.Text)
		x.tokens = append(x.tokens, ie.ev.Tokens...)
		x.logprobs = append(x.logprobs, ie.ev.Logprobs...)
		if ie.ev.Finish != "" {
			x.finish, x.err = ie.ev.Finish, ie.ev.Err
			if ie.ev.Usage != nil {
				x.usage = *ie.ev.Usage
			}
		}
	}
	for i := range res {
		if f := res[i].finish; f != control.FinishStop && f != control.FinishLength {
			return res, finishError(r.ctx, s.base, res[i].err)
		}
	}
	return res, nil
}

// usage sums the usage of finished requests in OpenAI's shape; us holds
// perPrompt consecutive entries (the choices) for each prompt, whose prompt
// (and cached) tokens count once, as OpenAI counts n > 1; tokens generated
// for best_of candidates that were not returned count as completion tokens.
func usage(perPrompt int, us ...control.Usage) *openai.Usage {
	var u openai.Usage
	cached, accepted, rejected := 0, 0, 0
	for i, x := range us {
		if i%perPrompt == 0 {
			u.PromptTokens += x.PromptTokens
			cached += x.CachedTokens
		}
		u.CompletionTokens += x.CompletionTokens + x.DiscardedTokens
		accepted += x.AcceptedPredictionTokens
		rejected += x.RejectedPredictionTokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	u.PromptTokensDetails = &openai.PromptTokensDetails{CachedTokens: cached}
	if accepted+rejected > 0 {
		u.CompletionTokensDetails = &openai.CompletionTokensDetails{AcceptedPredictionTokens: accepted, RejectedPredictionTokens: rejected}
	}
	return &u
}

// finishReason is OpenAI's finish_reason for a normal finish.
func finishReason(f control.FinishReason) *string {
	s := string(f)
	return &s
}

// newID is a response id: prefix plus 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// sse writes server-sent events as OpenAI streams them: `data: JSON\n\n`
// per chunk, `data: [DONE]\n\n` at the end. The first failure sticks in
// err; broken says it was a write (the client went away).
type sse struct {
	w      *bufio.Writer
	err    error
	broken bool
}

func (s *sse) send(v any) {
	if s.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.err = err
		return
	}
	s.raw(b)
}

func (s *sse) raw(b []byte) {
	if s.err != nil {
		return
	}
	_, s.err = s.w.WriteString("data: ")
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
	if s.err == nil {
		_, s.err = s.w.WriteString("\n\n")
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	s.broken = s.err != nil
}

// done ends the stream.
func (s *sse) done() { s.raw([]byte("[DONE]")) }

// event writes a named event, `event: name` before its data, as
// Anthropic's and the Responses API's streams do.
func (s *sse) event(name string, v any) {
	if s.err != nil {
		return
	}
	if _, s.err = s.w.WriteString("event: " + name + "\n"); s.err != nil {
		s.broken = true
		return
	}
	s.send(v)
}

// setSSEHeaders prepares c for an event stream.
func setSSEHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
}

// streamRun streams r's events through onEvent, which writes chunks; when
// a request ends abnormally an error event is sent; at the end onEnd writes
// any trailing chunk and [DONE] follows. A failed write cancels the run.
func (s *Server) streamRun(c *fiber.Ctx, r *run, onEvent func(*sse, indexedEvent), onEnd func(*sse)) {
	s.streamEvents(c, r, onEvent,
		func(out *sse, ae *APIError) { out.send(ae.body()); out.done() },
		func(out *sse) { onEnd(out); out.done() })
}

// streamEvents is streamRun for any protocol: fail writes the error that
// ends a stream abnormally, onEnd the end of a complete one.
func (s *Server) streamEvents(c *fiber.Ctx, r *run, onEvent func(*sse, indexedEvent), fail func(*sse, *APIError), onEnd func(*sse)) {
	setSSEHeaders(c)
	unwatch := watchDisconnect(c, r)
	reportGone := s.streamDisconnects(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer r.finish()
		defer unwatch()
		defer reportGone(r.ctx)
		out := &sse{w: w}
		failed := false
		finished := 0
		for ie := range r.events {
			if ie.ev.Finish != "" {
				finished++
			}
			if f := ie.ev.Finish; f == control.FinishAbort || f == control.FinishError {
				if !failed {
					failed = true
					fail(out, finishError(r.ctx, s.base, ie.ev.Err))
				}
				r.cancel() // the rest of a batch cannot complete the answer
				continue
			}
			if !failed {
				onEvent(out, ie)
			}
			if out.broken {
				hangUp(r.ctx) // the client is gone: abort and free the K/V
				return
			}
			if out.err != nil {
				r.cancel()
				return
			}
		}
		switch {
		case failed:
		case finished < r.n: // cannot happen: the engine always ends with a finish
			fail(out, finishError(r.ctx, s.base, nil))
		default:
			onEnd(out)
		}
	})
}
