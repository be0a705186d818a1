package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
)

// ModelState is where a routed model is in its life: unloaded (on disk),
// loading, or loaded (serving).
type ModelState string

// The states of a routed model, as llama-server's router names them.
const (
	StateUnloaded ModelState = "unloaded"
	StateLoading  ModelState = "loading"
	StateLoaded   ModelState = "loaded"
)

// LoadedModel is a model the loader built: what it serves, the bytes it
// holds (weights plus K/V pools) and how to release them.
type LoadedModel struct {
	Model *Model
	Bytes int64
	Close func()
}

// ModelSource is one model a Router can serve: its id and file, the bytes
// it is expected to take before it was ever loaded (the weights file's
// size), and the loader, which runs outside any request's context.
type ModelSource struct {
	ID       string
	Root     string // the model file
	Created  int64  // Unix seconds
	Estimate int64
	Load     func(ctx context.Context) (*LoadedModel, error)
}

// RouterOptions bound what a Router keeps loaded.
type RouterOptions struct {
	// MemoryBudget bounds the bytes (weights plus K/V) of the loaded
	// models; least recently used idle models are unloaded to make room.
	// 0: no bound.
	MemoryBudget int64
	// KeepAlive unloads a model idle for this long (Ollama's keep_alive);
	// 0: never.
	KeepAlive time.Duration
	// LoadWait bounds how long a request waits for its model to load
	// before it answers 503 model_loading (0: two minutes).
	LoadWait time.Duration
	Logger   *slog.Logger
}

// Router serves several models from one process: each request names its
// model; a model is loaded on first use (its requests wait, bounded, while
// it loads) and unloaded when idle for KeepAlive or when its memory is
// needed under MemoryBudget, least recently used first. A model is idle
// when no request holds it and its serving core has nothing running or
// waiting; a busy model is never unloaded by the router.
//
// Invariants (under mu): used is the sum of the loaded models' bytes plus
// the estimates of those loading; an entry is loading iff its ready
// channel is open.
type Router struct {
	opts    RouterOptions
	order   []string // ids as configured; the first is the default model
	ctx     context.Context
	cancel  context.CancelFunc
	janitor sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*routeEntry
	used    int64
	retired *control.Metrics // counters of the models unloaded so far
}

// routeEntry is one model's state.
type routeEntry struct {
	src      ModelSource
	state    ModelState
	loaded   *LoadedModel
	reserved int64         // bytes counted in used for it
	ready    chan struct{} // closed when a load ends
	err      error         // the last load's failure
	refs     int           // requests holding it
	lastUsed time.Time
}

// errBudget answers when a model does not fit the memory budget because
// the models that would have to go are busy.
var errBudget = errors.New("the models memory budget is taken by models serving requests")

// NewRouter builds a router over srcs (at least one, ids unique); nothing
// is loaded until asked. Close stops it and unloads everything.
func NewRouter(opts RouterOptions, srcs ...ModelSource) (*Router, error) {
	if len(srcs) == 0 {
		return nil, errors.New("router: no models")
	}
	if opts.LoadWait <= 0 {
		opts.LoadWait = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Router{opts: opts, entries: map[string]*routeEntry{}}
	for _, s := range srcs {
		if _, dup := r.entries[s.ID]; dup || s.ID == "" {
			return nil, fmt.Errorf("router: model id %q is empty or given twice", s.ID)
		}
		r.entries[s.ID] = &routeEntry{src: s, state: StateUnloaded}
		r.order = append(r.order, s.ID)
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if opts.KeepAlive > 0 {
		r.janitor.Add(1)
		go r.expire()
	}
	return r, nil
}

// Default is the id of the model a request naming none gets.
func (r *Router) Default() string { return r.order[0] }

// Acquire returns model id, loading it if needed (waiting at most
// LoadWait or until ctx ends), held until release is called. An empty id
// is the default model.
func (r *Router) Acquire(ctx context.Context, id string) (_ *Model, release func(), _ error) {
	if id == "" {
		id = r.Default()
	}
	deadline := time.Now().Add(r.opts.LoadWait)
	wait := time.NewTimer(r.opts.LoadWait)
	defer wait.Stop()
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		e, ok := r.entries[id]
		if !ok {
			r.mu.Unlock()
			return nil, nil, modelNotFound(id)
		}
		switch e.state {
		case StateLoaded:
			e.refs++
			e.lastUsed = time.Now()
			m := e.loaded.Model
			r.mu.Unlock()
			var once sync.Once
			return m, func() { once.Do(func() { r.release(e) }) }, nil
		case StateUnloaded:
			// The load this request waited for failed: its error, unless
			// it gave up waiting for room sooner than this request would.
			if attempt > 0 && e.err != nil && !(errors.Is(e.err, errBudget) && time.Now().Before(deadline)) {
				err := e.err
				r.mu.Unlock()
				return nil, nil, loadFailed(id, err)
			}
			r.startLoadLocked(e)
		}
		ready := e.ready
		r.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("waiting for model %s to load: %w", id, ctx.Err())
		case <-wait.C:
			return nil, nil, &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "model_loading",
				Message: fmt.Sprintf("model %s is still loading; retry shortly", id), RetryAfter: 5}
		}
	}
}

// release ends one request's hold on e.
func (r *Router) release(e *routeEntry) {
	r.mu.Lock()
	e.refs--
	e.lastUsed = time.Now()
	r.mu.Unlock()
}

// Load loads model id now (waiting for it like a request does) without
// holding it.
func (r *Router) Load(ctx context.Context, id string) error {
	_, release, err := r.Acquire(ctx, id)
	if err != nil {
		return err
	}
	release()
	return nil
}

// Unload unloads model id now if it is loaded and idle: a 409 if it is
// serving requests (or loading), nothing if it is not loaded.
func (r *Router) Unload(id string) error {
	r.mu.Lock()
	e, ok := r.entries[id]
	if !ok {
		r.mu.Unlock()
		return modelNotFound(id)
	}
	switch {
	case e.state == StateLoading:
		r.mu.Unlock()
		return &APIError{Status: fiber.StatusConflict, Type: "invalid_request_error", Code: "model_busy", Param: "model",
			Message: fmt.Sprintf("model %s is loading; unload it once loaded", id)}
	case e.state == StateLoaded && !r.idleLocked(e):
		r.mu.Unlock()
		return &APIError{Status: fiber.StatusConflict, Type: "invalid_request_error", Code: "model_busy", Param: "model",
			Message: fmt.Sprintf("model %s is serving requests; unload it when they are done", id)}
	}
	var closeFn func()
	if e.state == StateLoaded {
		closeFn = r.unloadLocked(e, "unload request")
	}
	r.mu.Unlock()
	if closeFn != nil {
		closeFn()
	}
	return nil
}

// RoutedModel is one model as /v1/models lists it.
type RoutedModel struct {
	ID, Root   string
	Created    int64
	ContextLen int // 0 until first loaded
	State      ModelState
	Bytes      int64 // while loaded
}

// List is every configured model with its state, in configuration order.
func (r *Router) List() []RoutedModel {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RoutedModel, 0, len(r.order))
	for _, id := range r.order {
		e := r.entries[id]
		rm := RoutedModel{ID: id, Root: e.src.Root, Created: e.src.Created, State: e.state}
		if e.loaded != nil {
			rm.ContextLen, rm.Bytes = e.loaded.Model.ContextLen, e.loaded.Bytes
		}
		out = append(out, rm)
	}
	return out
}

// Loaded is the models serving now.
func (r *Router) Loaded() []*Model {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Model
	for _, id := range r.order {
		if e := r.entries[id]; e.state == StateLoaded {
			out = append(out, e.loaded.Model)
		}
	}
	return out
}

// Close stops the keep-alive timer, waits for loads under way (they see
// a cancelled context and release what they built) and unloads every
// model; requests still holding one see their engine closed.
func (r *Router) Close() {
	r.cancel()
	r.janitor.Wait()
	r.mu.Lock()
	var loading []chan struct{}
	for _, e := range r.entries {
		if e.state == StateLoading {
			loading = append(loading, e.ready)
		}
	}
	r.mu.Unlock()
	for _, ch := range loading {
		<-ch
	}
	r.mu.Lock()
	var closers []func()
	for _, e := range r.entries {
		if e.state == StateLoaded {
			closers = append(closers, r.unloadLocked(e, "shutdown"))
		}
	}
	r.mu.Unlock()
	for _, c := range closers {
		c()
	}
}

// loadFailed is the error of a request whose model failed to load.
func loadFailed(id string, err error) *APIError {
	if errors.Is(err, errBudget) {
		return &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "models_memory_budget", RetryAfter: 5,
			Message: fmt.Sprintf("model %s cannot be loaded now: %v; retry when they finish", id, err)}
	}
	return &APIError{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "model_load_failed",
		Message: fmt.Sprintf("model %s failed to load: %v", id, err)}
}
