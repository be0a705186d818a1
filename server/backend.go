package server

import (
	"context"
	"hash/fnv"
	"maps"
	"sync/atomic"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// Backend is what the HTTP layer needs of the serving core: *control.Engine
// satisfies it, and so does Replicas; handler tests may use a fake.
type Backend interface {
	Submit(ctx context.Context, req control.Request) (<-chan control.Event, error)
	EndSession(id string) bool
	Metrics() control.Metrics
}

var (
	_ Backend = (*control.Engine)(nil)
	_ Backend = (*Replicas)(nil)
)

// Model is what the server serves once loading is done.
type Model struct {
	ID         string // served model name
	Root       string // the model file
	Created    int64  // Unix seconds
	ContextLen int    // tokens per sequence (prompt plus completion)
	Tokenizer  *tokenizer.Tokenizer
	Backend    Backend
	Embedder   Embedder // nil: /v1/embeddings answers 400
	// ChatTemplate renders chat prompts; nil means ChatML.
	ChatTemplate ChatTemplate
}

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
func (r *Replicas) Submit(ctx context.Context, req control.Request) (<-chan control.Event, error) {
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

// Metrics implements Backend: gauges and counters summed, histograms merged.
func (r *Replicas) Metrics() control.Metrics {
	var sum control.Metrics
	for i, e := range r.engines {
		m := e.Metrics()
		if i == 0 {
			sum = m
			sum.Requests = maps.Clone(m.Requests)
			sum.TTFT, sum.InterToken, sum.EndToEnd, sum.Queue = cloneHist(m.TTFT), cloneHist(m.InterToken), cloneHist(m.EndToEnd), cloneHist(m.Queue)
			continue
		}
		sum.Running += m.Running
		sum.Waiting += m.Waiting
		sum.Sessions += m.Sessions
		sum.KV.TotalBlocks += m.KV.TotalBlocks
		sum.KV.FreeBlocks += m.KV.FreeBlocks
		sum.KV.CachedBlocks += m.KV.CachedBlocks
		sum.KV.UsedBlocks += m.KV.UsedBlocks
		sum.KV.PrefixQueries += m.KV.PrefixQueries
		sum.KV.PrefixHits += m.KV.PrefixHits
		sum.KV.Evictions += m.KV.Evictions
		sum.PromptTokens += m.PromptTokens
		sum.GeneratedTokens += m.GeneratedTokens
		sum.Preemptions += m.Preemptions
		sum.Steps += m.Steps
		sum.StepTokens += m.StepTokens
		for k, v := range m.Requests {
			sum.Requests[k] += v
		}
		addHist(&sum.TTFT, m.TTFT)
		addHist(&sum.InterToken, m.InterToken)
		addHist(&sum.EndToEnd, m.EndToEnd)
		addHist(&sum.Queue, m.Queue)
	}
	return sum
}

func cloneHist(h control.Histogram) control.Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// addHist adds b into a; both have control.LatencyBuckets' bounds.
func addHist(a *control.Histogram, b control.Histogram) {
	for i := range min(len(a.Counts), len(b.Counts)) {
		a.Counts[i] += b.Counts[i]
	}
	a.Count += b.Count
	a.Sum += b.Sum
}
