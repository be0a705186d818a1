package gguf

import (
	"errors"
	"fmt"
)

// ErrFormat is wrapped by every error that reports a malformed, truncated or
// unsupported file, so callers can tell bad input from I/O failures with
// errors.Is(err, gguf.ErrFormat).
var ErrFormat = errors.New("gguf: invalid file")

// ErrClosed is returned when tensor data is requested from a File that has
// been closed (its mapping is gone), instead of faulting.
var ErrClosed = errors.New("gguf: file is closed")

// FormatError describes what is wrong with a GGUF file and where. Path is set
// when the file was opened by name.
type FormatError struct {
	Path string
	Msg  string
}

// Error formats the message as "gguf: [path: ]msg".
func (e *FormatError) Error() string {
	if e.Path != "" {
		return "gguf: " + e.Path + ": " + e.Msg
	}
	return "gguf: " + e.Msg
}

// Unwrap returns ErrFormat so that errors.Is(err, ErrFormat) holds.
func (e *FormatError) Unwrap() error { return ErrFormat }

// formatErrorf builds a *FormatError from a format string.
func formatErrorf(format string, args ...any) error {
	return &FormatError{Msg: fmt.Sprintf(format, args...)}
}

// withPath records path in err if err is a *FormatError, so messages from
// Open name the file.
func withPath(err error, path string) error {
	var fe *FormatError
	if errors.As(err, &fe) && fe.Path == "" {
		fe.Path = path
		return err
	}
	return fmt.Errorf("gguf: %s: %w", path, err)
}
