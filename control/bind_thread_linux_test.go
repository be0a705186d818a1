package control

import (
	"sync"
	"syscall"
	"testing"
)

// TestBindThreadHoldsTheLoopThread: the hook runs once, on the OS thread
// every forward then runs on (what a thread-local kernel pool binding
// needs), and its unbind runs when the engine closes.
func TestBindThreadHoldsTheLoopThread(t *testing.T) {
	var (
		mu        sync.Mutex
		bindTid   int
		binds     int
		unbinds   int
		otherTids []int
	)
	cfg := Config{BindThread: func() func() {
		mu.Lock()
		defer mu.Unlock()
		binds++
		bindTid = syscall.Gettid()
		return func() {
			mu.Lock()
			defer mu.Unlock()
			unbinds++
		}
	}}
	e, f := newFakeEngine(t, 64, cfg)
	f.mu.Lock()
	f.fail = func(*Step) error {
		tid := syscall.Gettid()
		mu.Lock()
		if tid != bindTid {
			otherTids = append(otherTids, tid)
		}
		mu.Unlock()
		return nil
	}
	f.mu.Unlock()
	for i := range 3 {
		if r := run(t, e, greedyReq(prompt(i, 20), 8)); len(r.tokens) == 0 {
			t.Fatalf("request %d produced no tokens", i)
		}
	}
	e.Close()
	mu.Lock()
	defer mu.Unlock()
	if binds != 1 || unbinds != 1 {
		t.Fatalf("binds %d unbinds %d, want 1 and 1", binds, unbinds)
	}
	if len(otherTids) > 0 {
		t.Fatalf("forward ran on threads %v, not the bound thread %d", otherTids, bindTid)
	}
}
