package native

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per kiln_status code, so callers can test with
// errors.Is whether a failure came from C or from the Go-side checks.
var (
	ErrNull    = errors.New("a required buffer is empty")
	ErrSize    = errors.New("a size is zero, negative or out of range")
	ErrAlign   = errors.New("k is not a multiple of the type's block size")
	ErrType    = errors.New("unsupported tensor type for this operation")
	ErrNoMem   = errors.New("out of memory for kernel scratch")
	ErrISA     = errors.New("kernel variant unknown or not supported by this CPU")
	ErrThreads = errors.New("thread pool could not be started")
	ErrIndex   = errors.New("an index is out of range")
	// ErrLibrary means the purego binding could not load libkiln.so.
	ErrLibrary = errors.New("kernel library not loaded")
)

// statusErrors maps kiln_status codes to sentinels.
var statusErrors = map[int32]error{
	-1: ErrNull, -2: ErrSize, -3: ErrAlign, -4: ErrType,
	-5: ErrNoMem, -6: ErrISA, -7: ErrThreads, -8: ErrIndex,
}

// Error is a failure reported by a kernel call: the operation, the C status
// code and the library's own description of it.
type Error struct {
	Op     string
	Status int32
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("kiln %s: %s (status %d)", e.Op, e.Msg, e.Status) }

// Is lets errors.Is(err, ErrSize) and friends match a C status.
func (e *Error) Is(target error) bool { return statusErrors[e.Status] == target }

// check turns a kiln_status into nil or an *Error naming op.
func check(op string, status int32) error {
	if status == 0 {
		return nil
	}
	return &Error{Op: op, Status: status, Msg: bStrerror(status)}
}

// argError reports a Go-side argument check (slice lengths that C cannot see).
func argError(op string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("kiln %s: %s: %w", op, fmt.Sprintf(format, args...), sentinel)
}
