package server

import (
	"fmt"
	"slices"
	"sync"

	"github.com/kiln-llm/kiln/control"
)

// interactiveSessions keeps LMDeploy-style sessions: each session's token
// history lives here, its K/V in the engine (control's SessionID), so a
// follow-up turn prefills only its new tokens.
type interactiveSessions struct {
	mu sync.Mutex
	m  map[int64]*iaSession
}

type iaSession struct {
	history   []int32 // every token of the conversation so far
	busy      bool    // a turn is in flight
	cancel    func()  // the in-flight turn's cancel, once it is submitted
	cancelled bool    // the turn in flight was cancelled by request
}

// claim marks session id busy and returns it with a copy of its history
// (nil, nil for id -1); ErrSessionBusy if a turn is in flight.
func (is *interactiveSessions) claim(id int64) (*iaSession, []int32, error) {
	if id < 0 {
		return nil, nil, nil
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	ss := is.m[id]
	if ss == nil {
		ss = &iaSession{}
		is.m[id] = ss
	}
	if ss.busy {
		return nil, nil, control.ErrSessionBusy
	}
	ss.busy, ss.cancelled, ss.cancel = true, false, nil
	return ss, slices.Clone(ss.history), nil
}

// submitted records the turn's cancel; a cancel that came first applies now.
func (is *interactiveSessions) submitted(ss *iaSession, cancel func()) {
	if ss == nil {
		return
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	ss.cancel = cancel
	if ss.cancelled {
		cancel()
	}
}

// cancelTurn aborts session id's turn in flight, if any.
func (is *interactiveSessions) cancelTurn(id int64) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if ss := is.m[id]; ss != nil && ss.busy {
		ss.cancelled = true
		if ss.cancel != nil {
			ss.cancel()
		}
	}
}

// release ends a turn: the history becomes history (nil: unchanged).
func (is *interactiveSessions) release(ss *iaSession, history []int32) (cancelled bool) {
	if ss == nil {
		return false
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if history != nil {
		ss.history = history
	}
	cancelled = ss.cancelled
	ss.busy, ss.cancel, ss.cancelled = false, nil, false
	return cancelled
}

func newInteractiveSessions() *interactiveSessions {
	return &interactiveSessions{m: map[int64]*iaSession{}}
}

// end forgets session id and frees its K/V in b (control frees the K/V of
// a sequence still running when it finishes).
func (is *interactiveSessions) end(id int64, b control.Backend) {
	if id < 0 {
		return
	}
	is.mu.Lock()
	delete(is.m, id)
	is.mu.Unlock()
	b.EndSession(engineSessionID(id))
}

// engineSessionID is the control.Request.SessionID of session id.
func engineSessionID(id int64) string { return fmt.Sprintf("interactive-%d", id) }
