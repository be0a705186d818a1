package control

import (
	"context"
	"hash/fnv"
	"sync/atomic"
)

// Backend is a serving core requests are submitted to: *Engine, or
// Replicas of engines. The HTTP layer depends on it alone, so its tests
// may use a fake.
type Backend interface {
	Submit(ctx context.Context, req Request) (<-chan Event, error)
	EndSession(id string) bool
	Metrics() Metrics
}

var (
	_ Backend = (*Engine)(nil)
	_ Backend = (*Replicas)(nil)
)

// Replicas balances requests over data-parallel engine replicas: each
// request goes to the replica with the fewest running plus waiting
// sequences, except session requests, which stay on the replica their
// session's K/V lives on (a hash of the session id).
type Replicas struct {
	engines []Backend
	next    atomic.Uint32 // rotates the first candidate, so ties spread
}

// NewReplicas balances over engines (at least one).
func NewReplicas(engines ...Backend) *Replicas { return &Replicas{engines: engines} }

// Submit implements Backend.
func (r *Replicas) Submit(ctx context.Context, req Request) (<-chan Event, error) {
	if req.SessionID != "" {
		return r.engines[r.sessionReplica(req.SessionID)].Submit(ctx, req)
	}
	n := len(r.engines)
	first := int(r.next.Add(1)) % n
	best, bestLoad := first, int(^uint(0)>>1)
	for k := range n {
		i := (first + k) % n
		m := r.engines[i].Metrics()
		if load := m.Running + m.Waiting; load < bestLoad {
			best, bestLoad = i, load
		}
	}
	return r.engines[best].Submit(ctx, req)
}

func (r *Replicas) sessionReplica(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(r.engines)))
}

// EndSession implements Backend.
func (r *Replicas) EndSession(id string) bool {
	return r.engines[r.sessionReplica(id)].EndSession(id)
}

// Metrics implements Backend: the replicas' snapshots summed (Metrics.Add).
func (r *Replicas) Metrics() Metrics {
	var sum Metrics
	for i, e := range r.engines {
		if i == 0 {
			sum = e.Metrics().clone()
			continue
		}
		sum.Add(e.Metrics())
	}
	return sum
}
