package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/server/openai"
)

// APIError is an error with its HTTP status and OpenAI error fields;
// handlers return it and the error handler writes it. Any other error
// reaching the error handler is a bug and answers 500.
type APIError struct {
	Status     int
	Type       string // invalid_request_error, authentication_error, ...
	Message    string
	Param      string // "" -> null
	Code       string // "" -> null
	RetryAfter int    // seconds; sets Retry-After when > 0
}

func (e *APIError) Error() string { return e.Message }

// body is e in OpenAI's shape.
func (e *APIError) body() openai.Error {
	b := openai.Error{Error: openai.ErrorBody{Message: e.Message, Type: e.Type}}
	if e.Param != "" {
		b.Error.Param = &e.Param
	}
	if e.Code != "" {
		b.Error.Code = &e.Code
	}
	return b
}

// badParam is a 400 naming param.
func badParam(param, format string, args ...any) *APIError {
	return &APIError{Status: fiber.StatusBadRequest, Type: "invalid_request_error", Param: param, Message: fmt.Sprintf(format, args...)}
}

// notImplemented is a 400 for a parameter kiln parses but does not act on
// yet. It is a 400, not a 501: SDKs retry 5xx, and retrying cannot help.
func notImplemented(param, what string) *APIError {
	return &APIError{Status: fiber.StatusBadRequest, Type: "invalid_request_error", Param: param, Code: "not_implemented",
		Message: what + " is not supported by this server yet"}
}

// errLoading answers while the model loads; errShuttingDown while draining.
var (
	errLoading      = &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "model_loading", Message: "the model is loading; retry shortly", RetryAfter: 5}
	errShuttingDown = &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "shutting_down", Message: "the server is shutting down"}
	errTimeout      = &APIError{Status: fiber.StatusRequestTimeout, Type: "timeout_error", Code: "request_timeout", Message: "the request exceeded the server's request_timeout"}
)

// modelNotFound is OpenAI's 404 for an unknown model id.
func modelNotFound(id string) *APIError {
	return &APIError{Status: fiber.StatusNotFound, Type: "invalid_request_error", Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("The model `%s` does not exist.", id)}
}

// submitError maps control.Submit's errors to statuses: 429 when the queue
// is full, 503 when the engine is closed, 409 when an interactive session
// already has a request in flight, 400 for bad requests (naming the
// parameter control's ParamError carries; a prompt that does not fit
// names promptParam).
func submitError(err error, promptParam string) *APIError {
	var pe *control.ParamError
	switch {
	case errors.Is(err, control.ErrOverloaded):
		return &APIError{Status: fiber.StatusTooManyRequests, Type: "rate_limit_error", Code: "server_overloaded", RetryAfter: 1,
			Message: "the server's request queue is full; retry later"}
	case errors.Is(err, control.ErrClosed):
		return errShuttingDown
	case errors.Is(err, control.ErrSessionBusy):
		return &APIError{Status: fiber.StatusConflict, Type: "invalid_request_error", Param: "session_id", Code: "session_busy",
			Message: "the session already has a request in flight"}
	case errors.Is(err, control.ErrPromptTooLong):
		return badParam(promptParam, "%s", strings.TrimPrefix(err.Error(), "control: "))
	case errors.As(err, &pe):
		return badParam(pe.Param, "%s", pe.Err.Error())
	case errors.Is(err, control.ErrBadRequest):
		return badParam("", "%s", strings.TrimPrefix(err.Error(), "control: "))
	}
	return &APIError{Status: fiber.StatusInternalServerError, Type: "server_error", Message: err.Error()}
}

// finishError is the error a request that ended without a normal finish
// reports: its client went away, shutdown, timeout, or an engine failure.
func finishError(ctx, base context.Context, err error) *APIError {
	switch {
	case clientGone(ctx):
		return errClientClosed
	case base.Err() != nil:
		return errShuttingDown
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return errTimeout
	case grammar.IsLimit(err): // a constrained step over its work budget
		return &APIError{Status: fiber.StatusBadRequest, Type: "invalid_request_error", Code: "grammar_too_complex", Message: err.Error()}
	case err != nil:
		return &APIError{Status: fiber.StatusInternalServerError, Type: "server_error", Message: err.Error()}
	}
	return &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Message: "the request was aborted"}
}

// jsonError turns a json.Unmarshal failure into a 400 naming the field.
func jsonError(err error) *APIError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return badParam("", "the request body must be a JSON object, not %s", te.Value)
		}
		// Fields of embedded structs (openai.Sampling) are promoted in
		// JSON but named with their struct in the path.
		field := te.Field
		if _, rest, ok := strings.Cut(field, "."); ok && field[0] >= 'A' && field[0] <= 'Z' {
			field = rest
		}
		return badParam(field, "%s: wrong type: got %s, want %s", field, te.Value, jsonTypeName(te.Type.String()))
	case errors.As(err, &se):
		return badParam("", "the request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	return badParam("", "the request body is not valid JSON: %v", err)
}

// jsonTypeName names a Go type the way a JSON user thinks of it.
func jsonTypeName(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	}
	return "an object"
}

// errorHandler is fiber's error handler: every error leaves in OpenAI's
// shape with its status (a 405 with its Allow header).
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var ae *APIError
	var fe *fiber.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &fe):
		ae = &APIError{Status: fe.Code, Type: "invalid_request_error", Message: fe.Message}
		switch fe.Code {
		case fiber.StatusNotFound:
			ae.Message = fmt.Sprintf("no route %s %s", c.Method(), c.Path())
			ae.Code = "not_found"
		case fiber.StatusMethodNotAllowed:
			ae.Message = fmt.Sprintf("method %s is not allowed on %s", c.Method(), c.Path())
			ae.Code = "method_not_allowed"
			c.Set(fiber.HeaderAllow, strings.Join(s.allowedMethods(c.Path()), ", "))
		case fiber.StatusRequestEntityTooLarge:
			ae.Message = "the request body is larger than the server's body_limit"
			ae.Code = "request_too_large"
		}
		if fe.Code >= 500 {
			ae.Type = "server_error"
		}
	default:
		ae = &APIError{Status: fiber.StatusInternalServerError, Type: "server_error", Message: err.Error()}
	}
	if ae.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, fmt.Sprint(ae.RetryAfter))
	}
	if anthropicPath(c.Path()) {
		return c.Status(ae.Status).JSON(anthropicError(ae))
	}
	return c.Status(ae.Status).JSON(ae.body())
}
