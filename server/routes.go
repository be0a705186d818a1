package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/valyala/fasthttp"
)

// endpoint is one route: method, path pattern (fiber's: ":name" is one
// segment, "+" one or more) and handler; open endpoints need no API key.
type endpoint struct {
	method, path string
	open         bool
	handle       fiber.Handler
}

// endpoints are every route the server answers.
func (s *Server) endpoints() []endpoint {
	return []endpoint{
		{fiber.MethodGet, "/", true, s.handleWebUI},
		{fiber.MethodGet, "/ui/:file", true, s.handleWebUI},
		{fiber.MethodGet, "/health", true, s.handleHealth},
		{fiber.MethodGet, "/version", true, func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"version": s.opts.Version}) }},
		{fiber.MethodGet, "/metrics", true, s.handleMetrics},
		{fiber.MethodGet, "/openapi.json", true, s.handleOpenAPI},
		{fiber.MethodGet, "/docs", true, s.handleDocs},
		{fiber.MethodGet, "/docs/:file", true, s.handleDocs},
		{fiber.MethodGet, "/v1/models", false, s.handleModels},
		{fiber.MethodGet, "/v1/models/+", false, s.handleModel},
		{fiber.MethodPost, "/models/load", false, s.handleModelLoad},
		{fiber.MethodPost, "/models/unload", false, s.handleModelUnload},
		{fiber.MethodPost, "/v1/completions", false, s.handleCompletions},
		{fiber.MethodPost, "/v1/chat/completions", false, s.handleChat},
		{fiber.MethodPost, "/v1/embeddings", false, s.handleEmbeddings},
		{fiber.MethodPost, "/v1/chat/interactive", false, s.handleInteractive},
		{fiber.MethodPost, "/v1/responses", false, s.handleResponses},
		{fiber.MethodGet, "/v1/responses/:id", false, s.handleGetResponse},
		{fiber.MethodDelete, "/v1/responses/:id", false, s.handleDeleteResponse},
		{fiber.MethodPost, "/v1/messages", false, s.handleMessages},
		{fiber.MethodPost, "/v1/messages/count_tokens", false, s.handleCountTokens},
		{fiber.MethodPost, "/tokenize", false, s.handleTokenize},
		{fiber.MethodPost, "/detokenize", false, s.handleDetokenize},
	}
}

// routes wires the middleware and the endpoints. The chat page (/, /ui/),
// /health, /metrics, /openapi.json and /docs stay open; the API needs a key when keys are set.
// A method fiber does not know (PROPFIND, ...) never reaches fiber, which
// would answer it in plain text: foreignMethod answers it instead.
func (s *Server) routes() {
	app := s.app
	app.Use(s.recoverPanic, requestid.New(requestid.Config{Header: RequestIDHeader}), s.accessLog, s.closeWhileDraining)
	if len(s.opts.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.opts.CORSOrigins, ","),
			AllowMethods:  "GET,POST,DELETE,OPTIONS",
			ExposeHeaders: RequestIDHeader + ",Retry-After",
		}))
	}
	// Open endpoints first: the API group's key check applies to every
	// route registered after it.
	for _, e := range s.endpoints() {
		if e.open {
			app.Add(e.method, e.path, e.handle)
		}
	}
	api := app.Group("", s.auth, s.releaseModel)
	for _, e := range s.endpoints() {
		if !e.open {
			api.Add(e.method, e.path, e.handle)
		}
	}
	srv := app.Server()
	next := srv.Handler
	srv.Handler = func(rc *fasthttp.RequestCtx) {
		if !slices.Contains(fiber.DefaultMethods, string(rc.Method())) {
			s.foreignMethod(rc)
			return
		}
		next(rc)
	}
}

// allowedMethods are the methods path answers to (Allow of a 405), none
// for a path without a route. Routing is case-insensitive and ignores a
// trailing slash, as fiber's default.
func (s *Server) allowedMethods(path string) []string {
	path = strings.ToLower(path)
	if len(path) > 1 {
		path = strings.TrimRight(path, "/")
	}
	var out []string
	for _, e := range s.endpoints() {
		if !matchRoute(e.path, path) {
			continue
		}
		out = append(out, e.method)
		if e.method == fiber.MethodGet {
			out = append(out, fiber.MethodHead)
		}
	}
	if len(out) > 0 && len(s.opts.CORSOrigins) > 0 {
		out = append(out, fiber.MethodOptions)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// matchRoute reports whether path matches a route pattern of endpoints.
func matchRoute(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "+"); ok {
		return strings.HasPrefix(path, p) && len(path) > len(p)
	}
	if i := strings.Index(pattern, ":"); i >= 0 {
		p := pattern[:i]
		return strings.HasPrefix(path, p) && len(path) > len(p) && !strings.Contains(path[len(p):], "/")
	}
	return path == pattern
}

// foreignMethod answers a request whose method fiber does not know: 405
// with Allow on a path that has routes, 404 on one without, in OpenAI's
// error shape.
func (s *Server) foreignMethod(rc *fasthttp.RequestCtx) {
	method, path := string(rc.Method()), string(rc.Path())
	ae := &APIError{Status: fiber.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
		Message: fmt.Sprintf("no route %s %s", method, path)}
	if allow := s.allowedMethods(path); len(allow) > 0 {
		ae.Status, ae.Code = fiber.StatusMethodNotAllowed, "method_not_allowed"
		ae.Message = fmt.Sprintf("method %s is not allowed on %s", method, path)
		rc.Response.Header.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
	}
	b, _ := json.Marshal(ae.body())
	if anthropicPath(path) {
		b, _ = json.Marshal(anthropicError(ae))
	}
	rc.SetStatusCode(ae.Status)
	rc.SetContentType(fiber.MIMEApplicationJSON)
	rc.SetBody(b)
	s.httpReqs.WithLabelValues("other", "unmatched", fmt.Sprint(ae.Status)).Inc()
	s.log.Log(rc, slog.LevelInfo, "http", "method", method, "path", path, "status", ae.Status, "remote", rc.RemoteIP().String())
}
