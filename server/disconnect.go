package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

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
					r.cancel()
					return
				}
			}
		}
	}()
	return func() { close(stop) }
}
