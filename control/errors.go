package control

import (
	"errors"
	"fmt"
)

// Errors Submit returns; the server maps them to HTTP statuses (429 for
// ErrOverloaded, 503 for ErrClosed, 409 for ErrSessionBusy, 400 for the
// rest). A bad request is a *ParamError, which errors.Is reports as
// ErrBadRequest.
var (
	ErrOverloaded    = errors.New("control: the admission queue is full")
	ErrClosed        = errors.New("control: the engine is shut down")
	ErrPromptTooLong = errors.New("control: the prompt does not fit the context")
	ErrBadRequest    = errors.New("control: bad request")
	ErrSessionBusy   = errors.New("control: the session has a request in flight")
)

// ParamError is a request Submit refuses, naming the Request field at
// fault in the API's words (max_tokens, min_tokens, n, best_of, prompt,
// top_logprobs, stop, session_id, length_penalty, ...; "" when no single
// field is), so the server reports it without reading the message, as
// Caddy's HandlerError carries its status.
type ParamError struct {
	Param string
	Err   error // what is wrong, starting with the field's name when there is one
}

// Error implements error.
func (e *ParamError) Error() string { return "control: bad request: " + e.Err.Error() }

// Unwrap makes errors.Is(e, ErrBadRequest) true, and reaches Err.
func (e *ParamError) Unwrap() []error { return []error{ErrBadRequest, e.Err} }

// badParam is the ParamError of param; the message starts with its name.
func badParam(param, format string, args ...any) *ParamError {
	msg := fmt.Sprintf(format, args...)
	if param != "" {
		msg = param + ": " + msg
	}
	return &ParamError{Param: param, Err: errors.New(msg)}
}
