package server

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// watchDisconnect cancels a non-streamed run when its client hangs up
// (streams notice on their next write instead); the returned func stops
// the watch.
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
