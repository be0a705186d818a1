package server

import (
	"context"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/control/kvcache"
)

// frozenMetrics is the final metrics of unloaded models, as a Backend
// that serves nothing, so that control.Replicas sums it with the loaded
// ones: kiln's counters and histograms keep counting across unloads
// instead of going back (which Prometheus would take for a restart).
type frozenMetrics control.Metrics

func (f frozenMetrics) Submit(context.Context, control.Request) (<-chan control.Event, error) {
	return nil, control.ErrClosed
}
func (f frozenMetrics) EndSession(string) bool   { return false }
func (f frozenMetrics) Metrics() control.Metrics { return control.Metrics(f) }

// retireLocked adds the counters and histograms of m, a model being
// unloaded, to r.retired; its gauges (running, waiting, K/V blocks) end
// with it.
func (r *Router) retireLocked(m control.Metrics) {
	m.Running, m.Waiting, m.Sessions = 0, 0, 0
	m.KV = kvcache.Stats{PrefixQueries: m.KV.PrefixQueries, PrefixHits: m.KV.PrefixHits, Evictions: m.KV.Evictions}
	if r.retired == nil {
		r.retired = &m
		return
	}
	sum := control.NewReplicas(frozenMetrics(*r.retired), frozenMetrics(m)).Metrics() // a fresh copy
	r.retired = &sum
}

// metricsBackends are the backends whose metrics /metrics sums: the
// loaded models' and the retired counters of those unloaded.
func (r *Router) metricsBackends() []control.Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []control.Backend
	if r.retired != nil {
		out = append(out, frozenMetrics(*r.retired)) // first: Replicas copies the first, adds the rest
	}
	for _, id := range r.order {
		if e := r.entries[id]; e.state == StateLoaded {
			out = append(out, e.loaded.Model.Backend)
		}
	}
	return out
}
