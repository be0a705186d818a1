// Package loadgentest is a fake OpenAI-compatible streaming server on
// 127.0.0.1 with scripted timing and failures, so the load generator (and
// the command that wraps it) can be tested against known chunk counts,
// delays, usage and errors without a model.
package loadgentest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config scripts the server's answers. Zero values give a well-behaved
// server: one text chunk, no delays, a usage chunk.
type Config struct {
	Chunks         int           // text chunks per response (at least 1)
	TokensPerChunk int           // usage completion_tokens = Chunks·TokensPerChunk (default 1)
	FirstDelay     time.Duration // before the first text chunk
	Gap            time.Duration // between text chunks
	NoUsage        bool          // send no usage chunk
	// AcceptedDrafts and RejectedDrafts, when set, go in each usage's
	// completion_tokens_details, as a speculating server reports them.
	AcceptedDrafts, RejectedDrafts int
	// PredictedN adds llama-server's timings.predicted_n (tokens generated
	// so far) to every text chunk: TokensPerChunk more each time.
	PredictedN bool
	// Fail, if set, is asked for each generation request in arrival order
	// (from 0); a non-zero status answers with it and an OpenAI error body
	// holding message.
	Fail func(i int) (status int, message string)
	// CutAfter > 0 ends each stream after that many text chunks: with
	// StreamError, as a data: {"error":...} event; without, by dropping the
	// connection mid-body. Either way no [DONE] follows.
	CutAfter    int
	StreamError string
	// DropReused closes a connection without an answer when a generation
	// request comes as its second request: a keep-alive server hanging up
	// just as the client reuses the connection.
	DropReused bool
	Models     []string // GET /v1/models; default ["fake-model"]
	APIKey     string   // if set, requests must carry "Bearer APIKey"
}

// Server is a running fake; close it with Close.
type Server struct {
	*httptest.Server
	cfg                           Config
	seq, inFlight, maxSeen, conns atomic.Int64

	mu     sync.Mutex
	bodies []map[string]any
}

// New starts a fake server on 127.0.0.1.
func New(cfg Config) *Server {
	cfg.Chunks = max(cfg.Chunks, 1)
	cfg.TokensPerChunk = max(cfg.TokensPerChunk, 1)
	if cfg.Models == nil {
		cfg.Models = []string{"fake-model"}
	}
	s := &Server{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { s.generate(w, r, true) })
	s.Server = httptest.NewUnstartedServer(s.auth(mux))
	s.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connRequests{}, new(atomic.Int64))
	}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	return s
}

// Conns is the number of TCP connections clients opened: with keep-alive,
// no more than the client's concurrency.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// MaxInFlight is the most generation requests the server held at once.
func (s *Server) MaxInFlight() int { return int(s.maxSeen.Load()) }

// Requests is the number of generation requests received.
func (s *Server) Requests() int { return int(s.seq.Load()) }

// Bodies returns the decoded generation request bodies, in arrival order.
func (s *Server) Bodies() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.bodies...)
}

// PromptTokens is what the fake reports as a prompt's token count: its
// words plus one (a BOS), so tests can tell usage from the word fallback.
func PromptTokens(prompt string) int { return len(strings.Fields(prompt)) + 1 }

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.APIKey {
			writeError(w, http.StatusUnauthorized, "invalid api key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	type model struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, id := range s.cfg.Models {
		list.Data = append(list.Data, model{ID: id, Object: "model"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error","code":%d}}`, msg, status)
}

// connRequests keys a connection's request counter in its context.
type connRequests struct{}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	if n, ok := r.Context().Value(connRequests{}).(*atomic.Int64); ok && n.Add(1) == 2 && s.cfg.DropReused {
		panic(http.ErrAbortHandler) // closes the connection, answering nothing
	}
	i := int(s.seq.Add(1) - 1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxSeen.Load(); n > m && !s.maxSeen.CompareAndSwap(m, n); m = s.maxSeen.Load() {
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
	if s.cfg.Fail != nil {
		if status, msg := s.cfg.Fail(i); status != 0 {
			writeError(w, status, msg)
			return
		}
	}
	prompt, _ := body["prompt"].(string)
	ids, isIDs := body["prompt"].([]any)
	if chat {
		if msgs, ok := body["messages"].([]any); ok && len(msgs) > 0 {
			if m, ok := msgs[0].(map[string]any); ok {
				prompt, _ = m["content"].(string)
			}
		}
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		_ = rc.Flush()
	}
	if chat { // a role-only first delta, which carries no token
		send(map[string]any{"object": "chat.completion.chunk", "choices": []any{
			map[string]any{"index": 0, "delta": map[string]any{"role": "assistant", "content": ""}, "finish_reason": nil}}})
	}
	for k := range s.cfg.Chunks {
		d := s.cfg.Gap
		if k == 0 {
			d = s.cfg.FirstDelay
		}
		if !sleep(r, d) {
			return
		}
		if s.cfg.CutAfter > 0 && k == s.cfg.CutAfter {
			if s.cfg.StreamError != "" {
				send(map[string]any{"error": map[string]any{"message": s.cfg.StreamError, "type": "server_error"}})
				return
			}
			panic(http.ErrAbortHandler) // drops the connection mid-body
		}
		text := fmt.Sprintf(" tok%d", k)
		var c map[string]any
		if chat {
			c = map[string]any{"object": "chat.completion.chunk", "choices": []any{
				map[string]any{"index": 0, "delta": map[string]any{"content": text}, "finish_reason": nil}}}
		} else {
			c = map[string]any{"object": "text_completion", "choices": []any{
				map[string]any{"index": 0, "text": text, "finish_reason": nil}}}
		}
		if s.cfg.PredictedN {
			c["timings"] = map[string]any{"predicted_n": (k + 1) * s.cfg.TokensPerChunk}
		}
		send(c)
	}
	if !s.cfg.NoUsage {
		out := s.cfg.Chunks * s.cfg.TokensPerChunk
		pt := PromptTokens(prompt)
		if isIDs {
			pt = len(ids) // token ids are evaluated as given: no BOS
		}
		u := map[string]any{"prompt_tokens": pt, "completion_tokens": out, "total_tokens": pt + out}
		if s.cfg.AcceptedDrafts+s.cfg.RejectedDrafts > 0 {
			u["completion_tokens_details"] = map[string]any{
				"accepted_prediction_tokens": s.cfg.AcceptedDrafts, "rejected_prediction_tokens": s.cfg.RejectedDrafts}
		}
		send(map[string]any{"choices": []any{}, "usage": u})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	_ = rc.Flush()
}

// sleep waits d unless the client goes away, so a cancelled run does not
// leave handlers sleeping.
func sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
