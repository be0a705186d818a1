package control

import (
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

	TTFT, InterToken, EndToEnd, Queue Histogram // seconds
}

// metrics accumulates under its own lock: the loop writes, scrapers read.
type metrics struct {
	mu sync.Mutex
	m  Metrics
}

func newMetrics() *metrics {
	return &metrics{m: Metrics{
		Requests: map[FinishReason]uint64{},
		TTFT:     newHistogram(), InterToken: newHistogram(), EndToEnd: newHistogram(), Queue: newHistogram(),
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
	s := m.m
	s.Requests = make(map[FinishReason]uint64, len(m.m.Requests))
	for k, v := range m.m.Requests {
		s.Requests[k] = v
	}
	s.TTFT, s.InterToken, s.EndToEnd, s.Queue = m.m.TTFT.clone(), m.m.InterToken.clone(), m.m.EndToEnd.clone(), m.m.Queue.clone()
	return s
}

func seconds(d time.Duration) float64 { return d.Seconds() }
