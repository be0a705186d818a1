package server

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/anthropic"
)

// anthropicPath reports whether path is one of Anthropic's endpoints,
// whose errors (auth, routing and body limits included) leave in
// Anthropic's shape.
func anthropicPath(path string) bool {
	return strings.HasPrefix(strings.ToLower(path), "/v1/messages")
}

// anthropicErrorType is Anthropic's error type for a status.
func anthropicErrorType(status int) string {
	switch status {
	case fiber.StatusUnauthorized:
		return "authentication_error"
	case fiber.StatusForbidden:
		return "permission_error"
	case fiber.StatusNotFound:
		return "not_found_error"
	case fiber.StatusRequestEntityTooLarge:
		return "request_too_large"
	case fiber.StatusTooManyRequests:
		return "rate_limit_error"
	case fiber.StatusRequestTimeout:
		return "timeout_error"
	case fiber.StatusServiceUnavailable:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicError is ae in Anthropic's shape.
func anthropicError(ae *APIError) anthropic.Error {
	return anthropic.Error{Type: "error", Error: anthropic.ErrorBody{Type: anthropicErrorType(ae.Status), Message: ae.Message}}
}

// anthropicNames are the shared parsers' parameter names as the Messages
// API spells them.
var anthropicNames = []struct{ openai, anthropic string }{
	{"max_completion_tokens", "max_tokens"},
	{"stop", "stop_sequences"},
	{"max_thinking_tokens", "thinking.budget_tokens"},
}

// anthropicParams renames the parameters in err's message (and param) the
// way a Messages client sent them.
func anthropicParams(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	out := *ae
	for _, n := range anthropicNames {
		if out.Param == n.openai {
			out.Param = n.anthropic
		}
		if rest, ok := strings.CutPrefix(out.Message, n.openai+":"); ok {
			out.Message = n.anthropic + ":" + rest
		}
	}
	return &out
}
