package main

import (
	"context"
	"os"
	"os/signal"
)

// drainOnSignal returns a context cancelled by the first of sigs (the
// start of a graceful drain) and a function that releases it. Once that
// first signal has come the process no longer handles sigs, so a second
// one takes its default action (SIGTERM, SIGINT: the process dies) however
// long the drain would run.
//
// Why not signal.NotifyContext with its stop called from context.AfterFunc:
// there the context is cancelled first and the handler removed later, by
// another goroutine. A second signal sent as soon as the drain had begun
// (under load, before that goroutine ran) went into the handler's channel
// and was lost, and the process drained on for its whole grace period.
// Here the handler is removed before the context is cancelled, and a
// signal that came while it was being removed is raised again.
func drainOnSignal(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2) // the first signal and one racing the removal
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case <-ctx.Done():
			signal.Stop(ch)
		case <-ch:
			signal.Stop(ch) // from here on sigs take their default action
			select {
			case s := <-ch: // a second signal came before the removal
				raiseSignal(s)
			default:
			}
			cancel()
		}
	}()
	return ctx, func() {
		cancel()
		signal.Stop(ch)
	}
}

// raiseSignal sends s to this process again, now that it is not handled.
func raiseSignal(s os.Signal) {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		_ = p.Signal(s)
	}
}
