package server

import "sync"

// inflight counts the requests Shutdown waits for. Unlike a WaitGroup it
// may go back up from zero while a waiter waits (a request that passed the
// readiness check just before draining began).
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; nil while n == 0
}

// Add counts one more request.
func (f *inflight) Add() {
	f.mu.Lock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	f.mu.Unlock()
}

// Done counts one request finished.
func (f *inflight) Done() {
	f.mu.Lock()
	f.n--
	if f.n == 0 {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

// Len is the number of requests in flight.
func (f *inflight) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Idle returns a channel closed once no request is in flight (already
// closed if none is now).
func (f *inflight) Idle() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return f.idle
}

// waitIdle closes done when the count is zero and stays so on a recheck.
func (f *inflight) waitIdle(done chan<- struct{}, stop <-chan struct{}) {
	for {
		select {
		case <-f.Idle():
		case <-stop:
			return
		}
		f.mu.Lock()
		n := f.n
		f.mu.Unlock()
		if n == 0 {
			close(done)
			return
		}
	}
}
