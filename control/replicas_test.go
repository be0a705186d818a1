package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// loadBackend reports a fixed load and counts what it is given; a full
// one refuses with ErrOverloaded.
type loadBackend struct {
	load     int
	full     bool
	submits  int
	sessions map[string]int
}

func (b *loadBackend) Submit(_ context.Context, r Request) (<-chan Event, error) {
	if b.full {
		return nil, ErrOverloaded
	}
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

// probeBackend is a loadBackend whose prefix cache holds cached tokens of
// every prompt.
type probeBackend struct {
	loadBackend
	cached int
}

func (b *probeBackend) CachedPrefix([]int32) int { return b.cached }

func TestReplicasChoose(t *testing.T) {
	tests := []struct {
		name    string
		loads   []int
		cached  []int
		slack   int
		want    int
		wantWhy Route
	}{
		{"longest prefix wins at equal load", []int{0, 0, 0}, []int{0, 32, 16}, DefaultAffinitySlack, 1, RoutePrefix},
		{"holder within the slack", []int{0, 4, 0}, []int{0, 32, 0}, 4, 1, RoutePrefix},
		{"holder beyond the slack: least loaded", []int{3, 5, 0}, []int{0, 32, 0}, 4, 2, RouteLoad},
		{"equal prefixes: the less loaded holder", []int{2, 1, 0}, []int{16, 16, 0}, 4, 1, RoutePrefix},
		{"no prefix anywhere: least loaded", []int{2, 1, 3}, []int{0, 0, 0}, 4, 1, RouteLoad},
		{"negative slack: prefixes ignored", []int{1, 0, 0}, []int{48, 0, 0}, -1, -1, RouteLoad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bs []Backend
			for i := range tt.loads {
				bs = append(bs, &probeBackend{loadBackend{load: tt.loads[i], sessions: map[string]int{}}, tt.cached[i]})
			}
			r := NewReplicas(bs...).WithAffinitySlack(tt.slack)
			for range 6 { // the rotation of the first candidate must not matter
				got, why := r.choose(Request{Prompt: []int32{1, 2, 3}})
				if why != tt.wantWhy || (tt.want >= 0 && got != tt.want) || (tt.want < 0 && tt.loads[got] != 0) {
					t.Fatalf("replica %d (%v), want %d (%v)", got, why, tt.want, tt.wantWhy)
				}
			}
		})
	}
}

// TestReplicasPrefixAffinityOnEngines sends prompts sharing a long prefix
// to three real engines one after another: all land on the replica that
// cached the prefix first, and every one after the first reuses it, while
// distinct prompts still spread over the replicas.
func TestReplicasPrefixAffinityOnEngines(t *testing.T) {
	var bs []Backend
	for range 3 {
		e, _ := newFakeEngine(t, 64, Config{PrefixCaching: true})
		bs = append(bs, e)
	}
	r := NewReplicas(bs...)
	shared := prompt(1, 64)
	for i := range 6 {
		p := append(slices.Clone(shared), int32(10+i), int32(20+i))
		ch, err := r.Submit(context.Background(), greedyReq(p, 4))
		if err != nil {
			t.Fatal(err)
		}
		res := collect(t, ch)
		cached := res.last.Usage.CachedTokens
		if (i == 0 && cached != 0) || (i > 0 && cached < 64) {
			t.Fatalf("request %d: cached_tokens %d", i, cached)
		}
	}
	holders := 0
	for _, st := range r.ReplicaStats() {
		if st.Routed[RoutePrefix] > 0 {
			holders++
			if st.Routed[RoutePrefix] != 5 || st.Metrics.KV.PrefixHits < 5*64 {
				t.Errorf("the prefix holder got %d prefix routes, %d hit tokens", st.Routed[RoutePrefix], st.Metrics.KV.PrefixHits)
			}
		}
	}
	if holders != 1 {
		t.Fatalf("the shared prefix was routed to %d replicas", holders)
	}
	for i := range 9 {
		ch, err := r.Submit(context.Background(), greedyReq(prompt(100+i, 40), 2))
		if err != nil {
			t.Fatal(err)
		}
		collect(t, ch)
	}
	for i, st := range r.ReplicaStats() {
		if st.Routed[RouteLoad] == 0 {
			t.Errorf("replica %d got none of the distinct prompts: %+v", i, st.Routed)
		}
	}
}

// TestReplicasOverloadFallback: a full replica's request goes to another;
// only when all are full is it refused; sessions do not move.
func TestReplicasOverloadFallback(t *testing.T) {
	holder := &probeBackend{loadBackend{full: true, sessions: map[string]int{}}, 64}
	busy := &probeBackend{loadBackend{load: 3, sessions: map[string]int{}}, 0}
	idle := &probeBackend{loadBackend{load: 1, sessions: map[string]int{}}, 0}
	r := NewReplicas(holder, busy, idle)
	if _, err := r.Submit(context.Background(), Request{Prompt: []int32{1}}); err != nil {
		t.Fatal(err)
	}
	if idle.submits != 1 || busy.submits != 0 {
		t.Fatalf("the full prefix holder's request went to busy %d, idle %d; want the least loaded", busy.submits, idle.submits)
	}
	if st := r.ReplicaStats(); st[2].Routed[RouteLoad] != 1 {
		t.Fatalf("routes %+v", st)
	}
	busy.full, idle.full = true, true
	if _, err := r.Submit(context.Background(), Request{Prompt: []int32{1}}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("all full: %v", err)
	}
	busy.full, idle.full = false, false
	for i := range 100 {
		if id := fmt.Sprint("session-", i); r.sessionReplica(id) == 0 {
			if _, err := r.Submit(context.Background(), Request{Prompt: []int32{1}, SessionID: id}); !errors.Is(err, ErrOverloaded) {
				t.Fatalf("a session on the full replica moved: %v", err)
			}
			return
		}
	}
	t.Fatal("no session id hashes to replica 0")
}
