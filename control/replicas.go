package control

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
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

// PrefixProber is a Backend that can say how many leading tokens of a
// prompt its prefix cache holds now, without changing anything (*Engine).
type PrefixProber interface {
	CachedPrefix(prompt []int32) int
}

var (
	_ Backend      = (*Engine)(nil)
	_ Backend      = (*Replicas)(nil)
	_ PrefixProber = (*Engine)(nil)
)

// CachedPrefix implements PrefixProber: the prompt tokens whose K/V the
// engine's block pool holds (kvcache.Pool.CachedPrefix's blocks). Blocks
// spilled beyond the pool do not count: a replica sharing the spill store
// with the others would load them as well as its holder.
func (e *Engine) CachedPrefix(prompt []int32) int {
	return e.pool.CachedPrefix(prompt) * e.exec.BlockSize()
}

// DefaultAffinitySlack is how many more requests (running plus waiting)
// than the least loaded replica the replica holding a request's prefix may
// have and still get it: a cached prefix saves its prefill, but not at the
// price of queueing behind a busy replica while another idles.
const DefaultAffinitySlack = 4

// Route says why Replicas sent a request where it did.
type Route int

const (
	RoutePrefix  Route = iota // the replica with the longest cached prefix
	RouteLoad                 // the least loaded replica (no useful prefix, or its holder too busy)
	RouteSession              // the replica holding the request's session
	numRoutes
)

// String is the route's label in metrics.
func (r Route) String() string {
	switch r {
	case RoutePrefix:
		return "prefix"
	case RouteLoad:
		return "load"
	case RouteSession:
		return "session"
	}
	return "unknown"
}

// Replicas balances requests over data-parallel engine replicas. A request
// goes to the replica whose prefix cache holds the longest prefix of its
// prompt (asked of every replica that is a PrefixProber), unless that
// replica's load (running plus waiting sequences) exceeds the least
// loaded one's by more than the affinity slack; otherwise to the least
// loaded. Session requests stay on the replica their session's K/V lives
// on (a hash of the session id).
type Replicas struct {
	engines []Backend
	slack   int
	next    atomic.Uint32 // rotates the first candidate, so ties spread
	routed  [][numRoutes]atomic.Uint64
}

// NewReplicas balances over engines (at least one) with
// DefaultAffinitySlack.
func NewReplicas(engines ...Backend) *Replicas {
	return &Replicas{engines: engines, slack: DefaultAffinitySlack, routed: make([][numRoutes]atomic.Uint64, len(engines))}
}

// WithAffinitySlack sets the affinity slack (see DefaultAffinitySlack;
// negative: prefixes are ignored, pure least load). Call it before the
// first Submit.
func (r *Replicas) WithAffinitySlack(slack int) *Replicas {
	r.slack = slack
	return r
}

// Submit implements Backend. When the chosen replica's queue is full
// (ErrOverloaded) the others are tried, least loaded first, so a request is
// refused only when every replica is full; a session's request is not
// moved (its K/V lives on its replica).
func (r *Replicas) Submit(ctx context.Context, req Request) (<-chan Event, error) {
	i, why := r.choose(req)
	r.routed[i][why].Add(1)
	ch, err := r.engines[i].Submit(ctx, req)
	if !errors.Is(err, ErrOverloaded) || why == RouteSession {
		return ch, err
	}
	others := make([]int, 0, len(r.engines)-1)
	for k := range r.engines {
		if k != i {
			others = append(others, k)
		}
	}
	loads := make([]int, len(r.engines))
	for _, k := range others {
		m := r.engines[k].Metrics()
		loads[k] = m.Running + m.Waiting
	}
	slices.SortStableFunc(others, func(a, b int) int { return loads[a] - loads[b] })
	for _, k := range others {
		if ch, err = r.engines[k].Submit(ctx, req); !errors.Is(err, ErrOverloaded) {
			r.routed[k][RouteLoad].Add(1)
			return ch, err
		}
	}
	return nil, err
}

// choose is the replica req goes to and why.
func (r *Replicas) choose(req Request) (int, Route) {
	if req.SessionID != "" {
		return r.sessionReplica(req.SessionID), RouteSession
	}
	n := len(r.engines)
	if n == 1 {
		return 0, RouteLoad
	}
	first := int(r.next.Add(1)) % n
	loads := make([]int, n)
	least := first
	for k := range n {
		i := (first + k) % n
		m := r.engines[i].Metrics()
		loads[i] = m.Running + m.Waiting
		if loads[i] < loads[least] {
			least = i
		}
	}
	if r.slack < 0 {
		return least, RouteLoad
	}
	holder, longest := -1, 0
	for k := range n {
		i := (first + k) % n
		p, ok := r.engines[i].(PrefixProber)
		if !ok {
			continue
		}
		c := p.CachedPrefix(req.Prompt)
		if c > longest || (c == longest && c > 0 && loads[i] < loads[holder]) {
			holder, longest = i, c
		}
	}
	if holder >= 0 && loads[holder] <= loads[least]+r.slack {
		return holder, RoutePrefix
	}
	return least, RouteLoad
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

// ReplicaStat is one replica's share of a Replicas: its own metrics and
// how many requests were routed to it, by Route.
type ReplicaStat struct {
	Metrics Metrics
	Routed  [numRoutes]uint64 // indexed by Route
}

// ReplicaStats are the replicas' metrics one by one, in order, for the
// per-replica series of /metrics.
func (r *Replicas) ReplicaStats() []ReplicaStat {
	out := make([]ReplicaStat, len(r.engines))
	for i, e := range r.engines {
		out[i].Metrics = e.Metrics()
		for k := range out[i].Routed {
			out[i].Routed[k] = r.routed[i][k].Load()
		}
	}
	return out
}

// Routes lists every Route, for metrics.
func Routes() []Route { return []Route{RoutePrefix, RouteLoad, RouteSession} }
