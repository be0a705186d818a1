package server

import (
	"fmt"
	"time"
)

// startLoadLocked starts loading e (unloaded) in the background: it
// reserves e's expected bytes, first unloading idle models least recently
// used until they fit the budget. While the models that would have to go
// are busy it waits for them (they finish their requests), polling, up to
// LoadWait. r.mu is held.
func (r *Router) startLoadLocked(e *routeEntry) {
	e.state, e.ready, e.err = StateLoading, make(chan struct{}), nil
	need := e.src.Estimate
	if b := r.opts.MemoryBudget; b > 0 && need > b {
		r.failLocked(e, fmt.Errorf("it needs %d bytes, more than models_memory_budget %d", need, b))
		return
	}
	go func() {
		if r.reserve(e, need) {
			r.load(e)
		}
	}()
}

// roomPoll is how often a load waiting for busy models to go idle looks
// again.
const roomPoll = 5 * time.Millisecond

// reserve counts need bytes for e once they fit the budget, unloading
// idle models to make room; it fails e's load if they do not fit within
// LoadWait or the router closes.
func (r *Router) reserve(e *routeEntry, need int64) bool {
	deadline := time.Now().Add(r.opts.LoadWait)
	for {
		r.mu.Lock()
		closers, ok := r.makeRoomLocked(need, e)
		if ok {
			e.reserved = need
			r.used += need
		} else if time.Now().After(deadline) || r.ctx.Err() != nil {
			r.failLocked(e, fmt.Errorf("%w (budget %d bytes, %d in use, %d needed)", errBudget, r.opts.MemoryBudget, r.used, need))
		}
		done := ok || e.state != StateLoading
		r.mu.Unlock()
		for _, c := range closers { // the evicted models go before the new one arrives
			c()
		}
		if done {
			return ok
		}
		select {
		case <-r.ctx.Done():
		case <-time.After(roomPoll):
		}
	}
}

// runAfterUnlock runs closers in the background: the caller holds r.mu.
func (r *Router) runAfterUnlock(closers []func()) {
	if len(closers) > 0 {
		go func() {
			for _, c := range closers {
				c()
			}
		}()
	}
}

// load builds e's model and records the outcome; a model bigger than
// expected unloads more idle models, and fails if that is not enough.
func (r *Router) load(e *routeEntry) {
	start := time.Now()
	r.opts.Logger.Info("router: loading model", "model", e.src.ID, "file", e.src.Root)
	lm, err := e.src.Load(r.ctx)
	if err == nil && r.ctx.Err() != nil { // closed while loading
		lm.Close()
		err = r.ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.opts.Logger.Warn("router: model failed to load", "model", e.src.ID, "err", err)
		r.failLocked(e, err)
		return
	}
	r.used += lm.Bytes - e.reserved
	e.reserved, e.loaded, e.state, e.lastUsed = lm.Bytes, lm, StateLoaded, time.Now()
	e.src.Estimate = lm.Bytes // the next load of it reserves what it took
	closers, ok := r.makeRoomLocked(0, e)
	r.runAfterUnlock(closers)
	if !ok {
		over := fmt.Errorf("%w (budget %d bytes, %d in use with %s's %d)", errBudget, r.opts.MemoryBudget, r.used, e.src.ID, lm.Bytes)
		if lm.Bytes > r.opts.MemoryBudget {
			over = fmt.Errorf("it holds %d bytes loaded, more than models_memory_budget %d", lm.Bytes, r.opts.MemoryBudget)
		}
		r.runAfterUnlock([]func(){r.unloadLocked(e, "over the memory budget")})
		e.err = over
		close(e.ready)
		return
	}
	r.opts.Logger.Info("router: model loaded", "model", e.src.ID, "bytes", lm.Bytes, "in_use", r.used,
		"budget", r.opts.MemoryBudget, "took", time.Since(start).Round(time.Millisecond))
	close(e.ready)
}

// failLocked ends e's load with err.
func (r *Router) failLocked(e *routeEntry, err error) {
	r.used -= e.reserved
	e.reserved, e.state, e.err = 0, StateUnloaded, err
	close(e.ready)
}

// makeRoomLocked unloads idle loaded models other than keep, least
// recently used first, until need more bytes fit the budget; it returns
// the closers to run once r.mu is released, and whether they fit.
func (r *Router) makeRoomLocked(need int64, keep *routeEntry) ([]func(), bool) {
	if r.opts.MemoryBudget <= 0 {
		return nil, true
	}
	var closers []func()
	for r.used+need > r.opts.MemoryBudget {
		var victim *routeEntry
		for _, e := range r.entries {
			if e != keep && e.state == StateLoaded && r.idleLocked(e) && (victim == nil || e.lastUsed.Before(victim.lastUsed)) {
				victim = e
			}
		}
		if victim == nil {
			return closers, false
		}
		closers = append(closers, r.unloadLocked(victim, "memory budget"))
	}
	return closers, true
}

// idleLocked reports whether loaded e serves nothing: no request holds it
// and its core has nothing running or waiting.
func (r *Router) idleLocked(e *routeEntry) bool {
	if e.refs > 0 {
		return false
	}
	m := e.loaded.Model.Backend.Metrics()
	return m.Running == 0 && m.Waiting == 0
}

// unloadLocked marks loaded e unloaded and returns the function that
// releases its memory, to run without r.mu (closing waits for the
// engines' step loops).
func (r *Router) unloadLocked(e *routeEntry, why string) func() {
	lm := e.loaded
	r.retireLocked(lm.Model.Backend.Metrics())
	r.used -= e.reserved
	e.reserved, e.loaded, e.state = 0, nil, StateUnloaded
	r.opts.Logger.Info("router: unloading model", "model", e.src.ID, "why", why, "bytes", lm.Bytes, "in_use", r.used)
	return lm.Close
}

// expire unloads models idle for KeepAlive, checking a few times per
// KeepAlive (at most once a second), until Close.
func (r *Router) expire() {
	defer r.janitor.Done()
	tick := time.NewTicker(min(max(r.opts.KeepAlive/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-tick.C:
			r.mu.Lock()
			var closers []func()
			for _, e := range r.entries {
				if e.state != StateLoaded {
					continue
				}
				if !r.idleLocked(e) {
					e.lastUsed = now // a stream still running keeps it alive
					continue
				}
				if now.Sub(e.lastUsed) >= r.opts.KeepAlive {
					closers = append(closers, r.unloadLocked(e, "keep_alive"))
				}
			}
			r.mu.Unlock()
			for _, c := range closers {
				c()
			}
		}
	}
}
