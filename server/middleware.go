package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// RequestIDHeader carries a request's id in and out (a client's id is kept).
const RequestIDHeader = "X-Request-Id"

// recoverPanic turns a handler panic into a 500 in OpenAI's shape (a bug,
// but the server stays up).
func (s *Server) recoverPanic(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "path", c.Path(), "panic", r)
			err = &APIError{Status: fiber.StatusInternalServerError, Type: "server_error", Message: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	return c.Next()
}

// accessLog writes one structured line per request and counts it for
// /metrics. It writes errors itself so that the status it logs is final.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	if err := c.Next(); err != nil {
		if werr := s.errorHandler(c, err); werr != nil {
			return werr
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	if status == fiber.StatusNotFound && route == "/" {
		route = "unmatched"
	}
	s.httpReqs.WithLabelValues(c.Method(), route, strconv.Itoa(status)).Inc()
	s.httpDur.WithLabelValues(route).Observe(time.Since(start).Seconds())
	level := slog.LevelInfo
	switch {
	case (route == "/health" || route == "/metrics") && status < 500:
		level = slog.LevelDebug // probes and scrapes would drown the log
	case status == StatusClientClosedRequest: // the client's doing: info, not an error
	case status == fiber.StatusServiceUnavailable: // loading or draining: expected
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	}
	attrs := []any{"id", c.GetRespHeader(RequestIDHeader), "method", c.Method(), "path", c.Path(), "status", status,
		"ms", float64(time.Since(start).Microseconds()) / 1000, "remote", c.IP()}
	if status == StatusClientClosedRequest {
		attrs = append(attrs, "client", "disconnected")
	}
	s.log.Log(c.UserContext(), level, "http", attrs...)
	return nil
}

// auth checks the Bearer key (or Anthropic's x-api-key header) in constant
// time against every configured key (hashed first, so lengths leak nothing
// either).
func (s *Server) auth(c *fiber.Ctx) error {
	if len(s.opts.APIKeys) == 0 {
		return c.Next()
	}
	key, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
	if !ok {
		key = c.Get("X-Api-Key")
	}
	if key == "" {
		return &APIError{Status: fiber.StatusUnauthorized, Type: "authentication_error", Code: "missing_api_key",
			Message: "missing API key: send Authorization: Bearer KEY (or x-api-key: KEY)"}
	}
	got := sha256.Sum256([]byte(key))
	match := 0
	for _, k := range s.opts.APIKeys {
		want := sha256.Sum256([]byte(k))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return &APIError{Status: fiber.StatusUnauthorized, Type: "authentication_error", Code: "invalid_api_key",
			Message: "incorrect API key provided"}
	}
	return c.Next()
}

// bearerToken is the credentials of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 7235, 2.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// handleHealth is 200 when serving, 503 while loading or shutting down.
func (s *Server) handleHealth(c *fiber.Ctx) error {
	if s.router.Load() != nil && !s.draining.Load() {
		return c.JSON(fiber.Map{"status": "ok"}) // each model loads on demand
	}
	if _, err := s.ready(); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
