package control

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// gate holds the fake executor's steps until released.
func gate(f *fakeExec) (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	f.mu.Lock()
	f.fail = func(*Step) error { <-ch; return nil }
	f.mu.Unlock()
	return func() { once.Do(func() { close(ch) }) }
}

// TestPriorityOrdersAdmission: with one sequence running at a time,
// requests queued behind it run in order of priority (lower first), ties
// in arrival order, whatever order they arrived in.
func TestPriorityOrdersAdmission(t *testing.T) {
	clock := newFakeClock()
	e, f := newFakeEngine(t, 64, Config{MaxNumSeqs: 1, Now: clock.Now})
	f.mu.Lock()
	f.clock, f.cost = clock, func(*Step) time.Duration { return 10 * time.Millisecond }
	f.mu.Unlock()
	release := gate(f)
	defer release()
	blocker, err := e.Submit(context.Background(), greedyReq(prompt(0, 8), 4))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.Metrics().Waiting == 0 }) // the blocker runs (held in its first step)
	prios := []int{5, 0, -3, 0, 7, -3}
	queued := make([]time.Duration, len(prios))
	var wg sync.WaitGroup
	for i, p := range prios {
		r := greedyReq(prompt(i+1, 8), 2)
		r.Priority = p
		ch, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { queued[i] = collect(t, ch).last.Timings.Queued })
	}
	release()
	collect(t, blocker)
	wg.Wait()
	order := make([]int, len(prios))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(queued[a], queued[b]) })
	want := []int{2, 5, 1, 3, 0, 4}
	if !slices.Equal(order, want) {
		t.Errorf("admitted in order %v (queued %v), want %v (priorities %v)", order, queued, want, prios)
	}
}

// TestShortPromptNotHeldBehindLongPrefill: a short prompt that arrives
// while a long one prefills gets its first token long before the long one
// does: no prefill takes more than half the budget while another waits
// (before, the long prompt took the whole budget until its last chunk).
func TestShortPromptNotHeldBehindLongPrefill(t *testing.T) {
	clock := newFakeClock()
	e, f := newFakeEngine(t, 512, Config{MaxBatchTokens: 256, Now: clock.Now})
	var mu sync.Mutex
	var steps []stepRecord
	f.mu.Lock()
	f.clock, f.cost = clock, linearCost(&steps, &mu)
	f.mu.Unlock()
	release := gate(f)
	long, err := e.Submit(context.Background(), greedyReq(prompt(1, 2000), 1))
	if err != nil {
		t.Fatal(err)
	}
	short, err := e.Submit(context.Background(), greedyReq(prompt(2, 40), 1))
	if err != nil {
		t.Fatal(err)
	}
	release()
	rl, rs := collect(t, long), collect(t, short)
	tl, ts := rl.last.Timings.FirstToken, rs.last.Timings.FirstToken
	t.Logf("TTFT: long %v, short %v", tl, ts)
	if ts*4 > tl {
		t.Errorf("the short prompt's first token came after %v, the long one's after %v: held behind it", ts, tl)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
