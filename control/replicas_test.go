package control

import (
	"context"
	"testing"
)

// loadBackend reports a fixed load and counts what it is given.
type loadBackend struct {
	load     int
	submits  int
	sessions map[string]int
}

func (b *loadBackend) Submit(_ context.Context, r Request) (<-chan Event, error) {
	b.submits++
	if r.SessionID != "" {
		b.sessions[r.SessionID]++
	}
	ch := make(chan Event)
	close(ch)
	return ch, nil
}
func (b *loadBackend) EndSession(string) bool { return true }
func (b *loadBackend) Metrics() Metrics {
	return Metrics{Running: b.load, Requests: map[FinishReason]uint64{FinishStop: 1},
		TTFT: Histogram{Counts: make([]uint64, 2)}}
}

func TestReplicasBalance(t *testing.T) {
	a, b, c := &loadBackend{sessions: map[string]int{}}, &loadBackend{sessions: map[string]int{}}, &loadBackend{load: 5, sessions: map[string]int{}}
	r := NewReplicas(a, b, c)
	for range 10 {
		if _, err := r.Submit(context.Background(), Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if a.submits < 3 || b.submits < 3 || c.submits != 0 {
		t.Errorf("equal loads should share and the loaded one be skipped: %d %d %d", a.submits, b.submits, c.submits)
	}
	for range 6 {
		_, _ = r.Submit(context.Background(), Request{SessionID: "s1"})
	}
	owners := 0
	for _, x := range []*loadBackend{a, b, c} {
		if x.sessions["s1"] > 0 {
			owners++
		}
	}
	if owners != 1 {
		t.Errorf("a session's requests went to %d replicas", owners)
	}
	m := r.Metrics()
	if m.Running != 5 || m.Requests[FinishStop] != 3 {
		t.Errorf("merged metrics %+v", m)
	}
}
