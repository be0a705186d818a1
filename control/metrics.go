package control

import (
	"maps"
	"sync"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// LatencyBuckets are the upper bounds (seconds) of the latency histograms,
// from one decode step of a tiny model to a long generation.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Histogram is a cumulative-bucket histogram in Prometheus's shape.
type Histogram struct {
	Bounds []float64 // upper bounds, ascending (+Inf implied)
	Counts []uint64  // Counts[i]: observations <= Bounds[i]; cumulative
	Count  uint64
	Sum    float64
}

func newHistogram() Histogram {
	return Histogram{Bounds: LatencyBuckets, Counts: make([]uint64, len(LatencyBuckets))}
}

func (h *Histogram) observe(v float64) {
	for i, b := range h.Bounds {
		if v <= b {
			h.Counts[i]++
		}
	}
	h.Count++
	h.Sum += v
}

func (h Histogram) clone() Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// add merges o into h; both have the same bounds.
func (h *Histogram) add(o Histogram) {
	for i := range min(len(h.Counts), len(o.Counts)) {
		h.Counts[i] += o.Counts[i]
	}
	h.Count += o.Count
	h.Sum += o.Sum
}

// Metrics is a snapshot of the engine for the server's /metrics.
type Metrics struct {
	Running, Waiting int // sequences
	Sessions         int // kept sessions
	KV               kvcache.Stats

	PromptTokens    uint64 // prompt tokens of admitted requests (cached ones included)
	GeneratedTokens uint64
	Requests        map[FinishReason]uint64 // finished requests by reason
	Preemptions     uint64
	Steps           uint64
	StepTokens      uint64 // tokens evaluated over all steps
	// DraftTokens are speculative tokens verified; AcceptedTokens those of
	// them the model kept (the acceptance rate is their ratio).
	DraftTokens, AcceptedTokens uint64
	// Spill counts the prefix cache's blocks kept beyond the pool.
	Spill SpillMetrics
	// Spec splits DraftTokens and AcceptedTokens by speculative method
	// ("ngram", "draft").
	Spec map[string]SpecCounts
	// DraftForwards are the draft model's forward passes; DraftFailures
	// the steps whose drafts were dropped because one failed.
	DraftForwards, DraftFailures uint64
	// DraftKV is the draft model's K/V pool (zero without a draft model).
	DraftKV kvcache.Stats

	TTFT, InterToken, EndToEnd, Queue Histogram // seconds
}

// SpecCounts are one speculative method's draft tokens verified and
// accepted.
type SpecCounts struct {
	Drafts, Accepted uint64
}

// metrics accumulates under its own lock: the loop writes, scrapers read.
type metrics struct {
	mu sync.Mutex
	m  Metrics
}

func newMetrics() *metrics {
	return &metrics{m: Metrics{
		Requests: map[FinishReason]uint64{}, Spec: map[string]SpecCounts{},
		TTFT: newHistogram(), InterToken: newHistogram(), EndToEnd: newHistogram(), Queue: newHistogram(),
	}}
}

func (m *metrics) update(f func(*Metrics)) {
	m.mu.Lock()
	f(&m.m)
	m.mu.Unlock()
}

func (m *metrics) snapshot() Metrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m.clone()
}

// clone is a deep copy of m: its map and histogram counts are its own.
func (m Metrics) clone() Metrics {
	m.Requests = maps.Clone(m.Requests)
	if m.Requests == nil {
		m.Requests = map[FinishReason]uint64{}
	}
	m.Spec = maps.Clone(m.Spec)
	if m.Spec == nil {
		m.Spec = map[string]SpecCounts{}
	}
	m.TTFT, m.InterToken, m.EndToEnd, m.Queue = m.TTFT.clone(), m.InterToken.clone(), m.EndToEnd.clone(), m.Queue.clone()
	return m
}

// Add adds o into m, as the snapshot of replicas serving side by side:
// gauges and counters summed, histograms merged (both have
// LatencyBuckets' bounds). KV.PeakUsedBlocks stays m's: peaks of pools
// at different moments do not add up. m must own its map and counts (a snapshot or a
// clone does).
func (m *Metrics) Add(o Metrics) {
	m.Running += o.Running
	m.Waiting += o.Waiting
	m.Sessions += o.Sessions
	m.KV.TotalBlocks += o.KV.TotalBlocks
	m.KV.FreeBlocks += o.KV.FreeBlocks
	m.KV.CachedBlocks += o.KV.CachedBlocks
	m.KV.UsedBlocks += o.KV.UsedBlocks
	m.KV.PrefixQueries += o.KV.PrefixQueries
	m.KV.PrefixHits += o.KV.PrefixHits
	m.KV.Evictions += o.KV.Evictions
	m.PromptTokens += o.PromptTokens
	m.GeneratedTokens += o.GeneratedTokens
	m.Preemptions += o.Preemptions
	m.Steps += o.Steps
	m.StepTokens += o.StepTokens
	m.DraftTokens += o.DraftTokens
	m.AcceptedTokens += o.AcceptedTokens
	m.Spill.add(o.Spill)
	m.DraftForwards += o.DraftForwards
	m.DraftFailures += o.DraftFailures
	m.DraftKV.TotalBlocks += o.DraftKV.TotalBlocks
	m.DraftKV.FreeBlocks += o.DraftKV.FreeBlocks
	m.DraftKV.CachedBlocks += o.DraftKV.CachedBlocks
	m.DraftKV.UsedBlocks += o.DraftKV.UsedBlocks
	if m.Spec == nil {
		m.Spec = map[string]SpecCounts{}
	}
	for k, v := range o.Spec {
		c := m.Spec[k]
		c.Drafts += v.Drafts
		c.Accepted += v.Accepted
		m.Spec[k] = c
	}
	if m.Requests == nil {
		m.Requests = map[FinishReason]uint64{}
	}
	for k, v := range o.Requests {
		m.Requests[k] += v
	}
	m.TTFT.add(o.TTFT)
	m.InterToken.add(o.InterToken)
	m.EndToEnd.add(o.EndToEnd)
	m.Queue.add(o.Queue)
}

func seconds(d time.Duration) float64 { return d.Seconds() }
