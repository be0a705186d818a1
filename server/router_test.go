package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/control"
)

// fakeLoads builds routed models over fake executors and counts loads and
// closes; gate, if set, holds each load until it is closed; fail fails
// the loads of the ids it names.
type fakeLoads struct {
	t      testing.TB
	bytes  int64
	gate   chan struct{}
	fail   map[string]bool
	loads  atomic.Int32
	closes atomic.Int32
}

func (f *fakeLoads) source(id string) ModelSource {
	return ModelSource{ID: id, Root: "/models/" + id + ".gguf", Created: 1, Estimate: f.bytes, Load: func(ctx context.Context) (*LoadedModel, error) {
		f.loads.Add(1)
		if f.gate != nil {
			select {
			case <-f.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if f.fail[id] {
			return nil, errors.New("not a GGUF file")
		}
		tk := testTokenizer(f.t)
		e, err := control.New(&fakeExec{vocab: tk.VocabSize(), blocks: 64, blockSize: 16, ctxLen: 256}, tk, control.Config{MaxNumSeqs: 4, MaxQueue: 16})
		if err != nil {
			return nil, err
		}
		m := &Model{ID: id, Root: "/models/" + id + ".gguf", ContextLen: 256, Tokenizer: tk, Backend: e}
		return &LoadedModel{Model: m, Bytes: f.bytes, Close: func() { e.Close(); f.closes.Add(1) }}, nil
	}}
}

func newTestRouter(t *testing.T, f *fakeLoads, opts RouterOptions, ids ...string) *Router {
	t.Helper()
	f.t = t
	opts.Logger = slog.New(slog.DiscardHandler)
	srcs := make([]ModelSource, len(ids))
	for i, id := range ids {
		srcs[i] = f.source(id)
	}
	r, err := NewRouter(opts, srcs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if r.used != 0 || f.loads.Load() < f.closes.Load() {
			t.Errorf("after Close: %d bytes counted in use, %d loads, %d closes", r.used, f.loads.Load(), f.closes.Load())
		}
	})
	return r
}

// states is id -> state of r's models.
func states(r *Router) map[string]ModelState {
	out := map[string]ModelState{}
	for _, m := range r.List() {
		out[m.ID] = m.State
	}
	return out
}

// loadedBytes is the bytes r's loaded models hold.
func loadedBytes(r *Router) int64 {
	var n int64
	for _, m := range r.List() {
		n += m.Bytes
	}
	return n
}

func waitState(t *testing.T, r *Router, id string, want ModelState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for states(r)[id] != want {
		if time.Now().After(deadline) {
			t.Fatalf("model %s is %s, want %s", id, states(r)[id], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewRouterRefuses(t *testing.T) {
	f := &fakeLoads{bytes: 1}
	for name, ids := range map[string][]string{"none": nil, "duplicate": {"a", "a"}, "empty id": {""}} {
		t.Run(name, func(t *testing.T) {
			srcs := make([]ModelSource, len(ids))
			for i, id := range ids {
				srcs[i] = f.source(id)
			}
			if _, err := NewRouter(RouterOptions{}, srcs...); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestRouterMemoryBudget(t *testing.T) {
	t.Run("least recently used idle model goes", func(t *testing.T) {
		f := &fakeLoads{bytes: 100}
		r := newTestRouter(t, f, RouterOptions{MemoryBudget: 250}, "a", "b", "c")
		for _, id := range []string{"a", "b", "a", "c"} { // b is the least recently used when c comes
			if err := r.Load(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if n := loadedBytes(r); n > 250 {
				t.Fatalf("after loading %s: %d bytes loaded, over the budget", id, n)
			}
		}
		want := map[string]ModelState{"a": StateLoaded, "b": StateUnloaded, "c": StateLoaded}
		if got := states(r); !mapsEqual(got, want) {
			t.Errorf("states %v, want %v", got, want)
		}
		if f.loads.Load() != 3 {
			t.Errorf("%d loads, want 3 (a again is already loaded)", f.loads.Load())
		}
	})
	t.Run("a newcomer waits for a busy model, bounded", func(t *testing.T) {
		f := &fakeLoads{bytes: 100}
		r := newTestRouter(t, f, RouterOptions{MemoryBudget: 150, LoadWait: 100 * time.Millisecond}, "a", "b")
		_, release, err := r.Acquire(context.Background(), "a")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _, err = r.Acquire(context.Background(), "b")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 503 || ae.RetryAfter == 0 {
			t.Fatalf("b while a is busy: %v, want a 503 with Retry-After", err)
		}
		if waited := time.Since(start); waited < 100*time.Millisecond {
			t.Errorf("refused after %s, before LoadWait", waited)
		}
		if got := states(r)["a"]; got != StateLoaded {
			t.Errorf("busy a is %s", got)
		}
		done := make(chan error, 1)
		go func() {
			_, rel, err := r.Acquire(context.Background(), "b")
			if err == nil {
				rel()
			}
			done <- err
		}()
		time.Sleep(20 * time.Millisecond) // b waits for room
		release()
		if err := <-done; err != nil {
			t.Fatalf("b once a is idle: %v", err)
		}
		if got := states(r); got["a"] != StateUnloaded || got["b"] != StateLoaded {
			t.Errorf("states %v", got)
		}
	})
	t.Run("a model bigger than expected is unloaded once its size is known", func(t *testing.T) {
		f := &fakeLoads{bytes: 100}
		src := f.source("a")
		src.Estimate = 10 // the file is small, its K/V pool is not
		f.t = t
		r, err := NewRouter(RouterOptions{MemoryBudget: 50, Logger: slog.New(slog.DiscardHandler)}, src)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		err = r.Load(context.Background(), "a")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "model_load_failed" || !strings.Contains(ae.Message, "holds 100 bytes") {
			t.Fatalf("got %v, want model_load_failed", err)
		}
		waitState(t, r, "a", StateUnloaded)
		deadline := time.Now().Add(5 * time.Second)
		for f.closes.Load() != 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if f.closes.Load() != 1 || loadedBytes(r) != 0 {
			t.Errorf("closes %d, bytes %d", f.closes.Load(), loadedBytes(r))
		}
	})
	t.Run("a model bigger than the budget alone is refused", func(t *testing.T) {
		f := &fakeLoads{bytes: 100}
		r := newTestRouter(t, f, RouterOptions{MemoryBudget: 50}, "a")
		err := r.Load(context.Background(), "a")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "model_load_failed" || !strings.Contains(ae.Message, "more than models_memory_budget 50") {
			t.Fatalf("got %v, want model_load_failed naming the budget", err)
		}
		if n := loadedBytes(r); n != 0 {
			t.Errorf("%d bytes loaded", n)
		}
	})
}

func mapsEqual(a, b map[string]ModelState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRouterKeepAlive(t *testing.T) {
	f := &fakeLoads{bytes: 1}
	r := newTestRouter(t, f, RouterOptions{KeepAlive: 100 * time.Millisecond}, "a", "b")
	_, release, err := r.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if s := states(r)["a"]; s != StateLoaded {
		t.Fatalf("a held by a request is %s after 3 keep-alives", s)
	}
	release()
	waitState(t, r, "a", StateUnloaded)
	deadline := time.Now().Add(5 * time.Second)
	for f.closes.Load() != 1 && time.Now().Before(deadline) { // it closes outside the lock
		time.Sleep(5 * time.Millisecond)
	}
	if f.closes.Load() != 1 {
		t.Errorf("%d closes, want 1", f.closes.Load())
	}
	if err := r.Load(context.Background(), "a"); err != nil { // loads again on use
		t.Fatal(err)
	}
	if f.loads.Load() != 2 {
		t.Errorf("%d loads, want 2", f.loads.Load())
	}
}

func TestRouterLoading(t *testing.T) {
	t.Run("requests wait for one load", func(t *testing.T) {
		f := &fakeLoads{bytes: 1, gate: make(chan struct{})}
		r := newTestRouter(t, f, RouterOptions{}, "a")
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, release, err := r.Acquire(context.Background(), "")
				if err == nil {
					release()
				}
				errs <- err
			}()
		}
		waitState(t, r, "a", StateLoading)
		close(f.gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if f.loads.Load() != 1 {
			t.Errorf("%d loads, want 1", f.loads.Load())
		}
	})
	t.Run("the wait is bounded", func(t *testing.T) {
		f := &fakeLoads{bytes: 1, gate: make(chan struct{})}
		r := newTestRouter(t, f, RouterOptions{LoadWait: 50 * time.Millisecond}, "a")
		_, _, err := r.Acquire(context.Background(), "a")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 503 || ae.Code != "model_loading" || ae.RetryAfter == 0 {
			t.Fatalf("got %v, want 503 model_loading with Retry-After", err)
		}
		if err := r.Unload("a"); err == nil {
			t.Error("unloaded a loading model")
		}
		close(f.gate)
		waitState(t, r, "a", StateLoaded)
	})
	t.Run("a failed load fails its waiters, the next request retries", func(t *testing.T) {
		f := &fakeLoads{bytes: 1, fail: map[string]bool{"a": true}}
		r := newTestRouter(t, f, RouterOptions{}, "a")
		for i := range 2 {
			_, _, err := r.Acquire(context.Background(), "a")
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != "model_load_failed" || !strings.Contains(ae.Message, "not a GGUF file") {
				t.Fatalf("attempt %d: %v, want model_load_failed", i, err)
			}
		}
		if f.loads.Load() != 2 {
			t.Errorf("%d loads, want 2", f.loads.Load())
		}
	})
	t.Run("unknown model", func(t *testing.T) {
		r := newTestRouter(t, &fakeLoads{bytes: 1}, RouterOptions{}, "a")
		_, _, err := r.Acquire(context.Background(), "zz")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "model_not_found" {
			t.Fatalf("got %v, want 404 model_not_found", err)
		}
	})
}

// TestRouterConcurrent hammers a router of three models with room for
// two and a short keep-alive: every request gets its model or a 503
// asking to retry, the budget holds at every observation, and Close
// leaves nothing counted (checked by newTestRouter).
func TestRouterConcurrent(t *testing.T) {
	f := &fakeLoads{bytes: 100}
	r := newTestRouter(t, f, RouterOptions{MemoryBudget: 250, KeepAlive: 20 * time.Millisecond, LoadWait: 5 * time.Second}, "a", "b", "c")
	ids := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	var served, refused atomic.Int32
	stop := make(chan struct{})
	go func() { // observe the budget while the workers run
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := loadedBytes(r); n > 250 {
				t.Errorf("%d bytes loaded, over the budget of 250", n)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				id := ids[(w+i)%len(ids)]
				m, release, err := r.Acquire(context.Background(), id)
				var ae *APIError
				switch {
				case err == nil:
					if m.ID != id {
						t.Errorf("asked for %s, got %s", id, m.ID)
					}
					served.Add(1)
					time.Sleep(time.Duration(i%3) * time.Millisecond)
					release()
				case errors.As(err, &ae) && ae.Status == 503 && ae.RetryAfter > 0:
					refused.Add(1)
				default:
					t.Errorf("acquire %s: %v", id, err)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if served.Load() == 0 {
		t.Fatal("no request was served")
	}
	t.Logf("%d served, %d refused (busy models filled the budget), %d loads", served.Load(), refused.Load(), f.loads.Load())
}

// unloadWhenIdle unloads model id once it is idle: a request's sequence
// leaves the scheduler just after its answer.
func unloadWhenIdle(t *testing.T, r *Router, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for err := r.Unload(id); err != nil; err = r.Unload(id) {
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
