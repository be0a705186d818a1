// Package server is kiln's HTTP layer: an OpenAI-compatible API (and
// LMDeploy's interactive chat, vLLM's tokenize/detokenize, Prometheus
// metrics, OpenAPI and Swagger UI) on fiber v2, over a control.Backend (the
// serving core, or replicas of it). It parses and validates requests,
// renders chat prompts, tokenizes, submits, and writes JSON or SSE.
package server

import (
	"context"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Server.
type Options struct {
	// ResponseRole is the role of generated chat messages ("assistant").
	ResponseRole string
	// APIKeys are the accepted Bearer keys; none disables authentication.
	APIKeys []string
	// CORSOrigins are the allowed origins ("*" for any); none disables CORS.
	CORSOrigins []string
	// BodyLimit is the largest request body in bytes (default 4 MiB).
	BodyLimit int
	// RequestTimeout bounds a request's run; 0 means no limit.
	RequestTimeout time.Duration
	// ReadTimeout bounds how long a client may take to send a request
	// (headers and body); 0 means one minute.
	ReadTimeout time.Duration
	// Logger receives the access log and server events (default slog's).
	Logger *slog.Logger
	// Version is reported by GET /version.
	Version string
	// ToolCallParser names the parser of tool calls in the model's output
	// (toolcall.Names); "" picks the call format from the chat template
	// for tool_choice required or named, and disables "auto".
	ToolCallParser string
	// EnableAutoToolChoice allows tool_choice "auto" (with ToolCallParser),
	// as vLLM's --enable-auto-tool-choice.
	EnableAutoToolChoice bool
	// ReasoningParser names the parser (reasoning.Names) that splits a
	// reasoning model's thinking from its answer; "" leaves the thinking in
	// the content.
	ReasoningParser string
	// ResponseStoreEntries bounds the responses /v1/responses keeps for
	// GET and previous_response_id (least recently used first out);
	// 0 means 1024.
	ResponseStoreEntries int
	// GrammarLimits bound each compiled grammar and each constrained step
	// (zero fields: grammar.DefaultLimits); GrammarCacheBytes bounds the
	// compiled grammars kept (0: 256 MiB, negative: none).
	GrammarLimits     grammar.Limits
	GrammarCacheBytes int64
}

// Server is the HTTP API. It answers 503 until SetModel is called, and
// again once Shutdown has begun.
type Server struct {
	opts  Options
	app   *fiber.App
	log   *slog.Logger
	model atomic.Pointer[Model]
	// router, when set, serves several models (SetRouter); model is then nil.
	router atomic.Pointer[Router]

	draining  atomic.Bool
	base      context.Context // parent of every request's context
	cancelAll context.CancelFunc
	inflight  inflight // generation and embedding requests, streams included

	reg      *prometheus.Registry
	httpReqs *prometheus.CounterVec
	httpDur  *prometheus.HistogramVec
	// streamGone counts streams cut by their client (see streamDisconnects).
	streamGone *prometheus.CounterVec

	sessions  *interactiveSessions
	grammars  *grammarCache  // compiled grammars and the vocabulary's Masker
	responses *responseStore // stored /v1/responses answers
}

// New builds the server and its routes; it serves nothing until Serve.
func New(opts Options) *Server {
	if opts.ResponseRole == "" {
		opts.ResponseRole = "assistant"
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 4 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{opts: opts, log: opts.Logger, sessions: newInteractiveSessions(), grammars: newGrammarCache(opts.GrammarLimits, opts.GrammarCacheBytes),
		responses: newResponseStore(opts.ResponseStoreEntries)}
	s.base, s.cancelAll = context.WithCancel(context.Background())
	s.app = fiber.New(fiber.Config{
		AppName: "kiln",
		// Strings from the request outlive it (metric labels, request ids).
		Immutable:             true,
		BodyLimit:             opts.BodyLimit,
		ErrorHandler:          s.errorHandler,
		DisableStartupMessage: true,
		// Streams write as tokens come; fasthttp must not wait for a
		// complete body before sending.
		StreamRequestBody: false,
		// A body is read as JSON or refused with a 415; fasthttp must not
		// parse a multipart body first (a malformed one failed in plain text).
		DisablePreParseMultipartForm: true,
		ReadTimeout:                  opts.ReadTimeout,
		IdleTimeout:                  max(2*time.Minute, opts.ReadTimeout),
	})
	s.initMetrics()
	s.routes()
	return s
}

// App is the fiber app, for in-process tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }

// SetModel makes the server ready: /health answers 200 and the API serves m.
func (s *Server) SetModel(m *Model) { s.model.Store(m) }

// Serve accepts connections on ln until Shutdown has drained the server.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// ready returns the served model, or the 503 to answer while loading or
// shutting down.
func (s *Server) ready() (*Model, error) {
	if s.draining.Load() {
		return nil, errShuttingDown
	}
	m := s.model.Load()
	if m == nil {
		return nil, errLoading
	}
	return m, nil
}

// requestContext is a request's context: cancelled at shutdown (after the
// grace period), after RequestTimeout, and by hangUp when its client goes
// away.
func (s *Server) requestContext() (context.Context, context.CancelFunc) {
	if s.opts.RequestTimeout <= 0 {
		return withHangUp(s.base)
	}
	timed, cancelTimer := context.WithTimeout(s.base, s.opts.RequestTimeout)
	ctx, cancel := withHangUp(timed)
	return ctx, func() { cancel(); cancelTimer() }
}

// Shutdown drains the server, as load balancers expect: it keeps
// accepting connections while /health and every new API request answer 503
// (shutting_down, with Connection: close), lets in-flight generations
// finish for up to grace, then cancels the rest (each ends with a final
// error event or response) and waits for them to be written. Only then does
// it close the listener and the idle connections; it returns when every
// connection is closed or ctx expires.
func (s *Server) Shutdown(ctx context.Context, grace time.Duration) error {
	s.draining.Store(true)
	s.log.Info("shutdown: draining", "in_flight", s.inflight.Len(), "grace", grace)
	done, stop := make(chan struct{}), make(chan struct{})
	defer close(stop)
	go s.inflight.waitIdle(done, stop)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Warn("shutdown: grace period over; cancelling in-flight requests", "in_flight", s.inflight.Len())
		s.cancelAll()
		select {
		case <-done:
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	s.cancelAll()
	// An expired ctx still closes the listener and the idle connections.
	return s.app.ShutdownWithContext(ctx)
}

// closeWhileDraining asks clients to close their connection after each
// response once draining has begun, so that they reconnect elsewhere.
func (s *Server) closeWhileDraining(c *fiber.Ctx) error {
	if s.draining.Load() {
		c.Context().SetConnectionClose()
	}
	return c.Next()
}
