package server

import (
	"context"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
)

// StatusClientClosedRequest is nginx's 499: the client went away before
// its response was complete. Such requests are logged and counted with it,
// never as a 5xx: a disconnect is the client's doing, not a server fault.
const StatusClientClosedRequest = 499

// errClientGone is the cancellation cause of a request whose client hung
// up (see hangUp).
var errClientGone = errors.New("the client closed the connection")

// errClientClosed is the answer of a request whose client went away; nobody
// reads it, but the access log and the metrics take its status.
var errClientClosed = &APIError{Status: StatusClientClosedRequest, Type: "client_closed_request", Code: "client_disconnected",
	Message: "the client closed the connection before the response was complete"}

// hangUpKey keys the cancel function that requestContext stores in a
// request's context.
type hangUpKey struct{}

// withHangUp makes ctx cancellable with errClientGone as its cause (see
// hangUp); the returned func cancels it plainly.
func withHangUp(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ctx = context.WithValue(ctx, hangUpKey{}, cancel)
	return ctx, func() { cancel(nil) }
}

// hangUp cancels a request's context because its client went away, so
// that whatever ends the request (finishError) tells a disconnect from a
// failure. The cause sits on the context rather than on the run because
// every path that notices the client is gone holds the context.
func hangUp(ctx context.Context) {
	if cancel, ok := ctx.Value(hangUpKey{}).(context.CancelCauseFunc); ok {
		cancel(errClientGone)
	}
}

// clientGone reports whether ctx was cancelled by hangUp.
func clientGone(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errClientGone)
}

// watchDisconnect cancels r when its client hangs up: a non-streamed run
// would not notice at all, a stream only at its next write (a long
// prefill writes nothing). The returned func stops the watch; call it
// before the connection is reused.
func watchDisconnect(c *fiber.Ctx, r *run) func() {
	conn := c.Context().Conn()
	if _, ok := hungUp(conn); !ok {
		return func() {}
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(disconnectPoll)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-r.ctx.Done():
				return
			case <-t.C:
				if hung, _ := hungUp(conn); hung {
					hangUp(r.ctx)
					return
				}
			}
		}
	}()
	return func() { close(stop) }
}

// streamDisconnects returns the report a streamed response makes when it
// ends: if its client went away (its status, 200, left with the headers),
// an info line says so and kiln_http_stream_disconnects_total counts it.
// It reads what it reports from c now: c is recycled once the handler
// returns, before the stream is written.
func (s *Server) streamDisconnects(c *fiber.Ctx) func(ctx context.Context) {
	id, path, route, start := c.GetRespHeader(RequestIDHeader), c.Path(), c.Route().Path, time.Now()
	return func(ctx context.Context) {
		if !clientGone(ctx) {
			return
		}
		s.streamGone.WithLabelValues(route).Inc()
		s.log.Info("http: client disconnected mid-stream", "id", id, "path", path,
			"ms", float64(time.Since(start).Microseconds())/1000)
	}
}
