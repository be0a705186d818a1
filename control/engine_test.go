package control

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/sample"
)

func defaultGreedy() sample.Params {
	p := sample.DefaultParams()
	p.Temperature = 0
	return p
}

func TestGenerateToMaxTokens(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{})
	r := run(t, e, greedyReq(prompt(1, 20), 12))
	if len(r.tokens) != 12 || r.last.Finish != FinishLength {
		t.Fatalf("got %v, want 12 tokens finished by length", r)
	}
	u := r.last.Usage
	if u == nil || u.PromptTokens != 20 || u.CompletionTokens != 12 {
		t.Errorf("usage %+v", u)
	}
	if tm := r.last.Timings; tm == nil || tm.FirstToken <= 0 || tm.Total < tm.FirstToken {
		t.Errorf("timings %+v", tm)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks still used after finish: %+v", st)
	}
}

func TestSameRequestSameTokens(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{})
	a := run(t, e, greedyReq(prompt(2, 30), 20))
	b := run(t, e, greedyReq(prompt(2, 30), 20))
	if !slices.Equal(a.tokens, b.tokens) {
		t.Fatalf("same request, different tokens:\n%v\n%v", a.tokens, b.tokens)
	}
	req := greedyReq(prompt(2, 30), 20)
	req.Sample = sample.DefaultParams()
	req.Sample.Seed = 42
	c, d := run(t, e, req), run(t, e, req)
	if !slices.Equal(c.tokens, d.tokens) {
		t.Fatalf("same seed, different tokens")
	}
}

// TestBatchInvarianceOnFake: 16 concurrent requests produce exactly what
// each produces alone (the fake's logits depend on the cached context, so
// this checks block tables, slots and chunking).
func TestBatchInvarianceOnFake(t *testing.T) {
	e, f := newFakeEngine(t, 256, Config{MaxBatchTokens: 64})
	const n = 16
	alone := make([]result, n)
	for i := range n {
		alone[i] = run(t, e, greedyReq(prompt(i, 10+13*i), 24))
	}
	together := runConcurrently(t, e, n, func(i int) Request { return greedyReq(prompt(i, 10+13*i), 24) })
	for i := range n {
		if !slices.Equal(alone[i].tokens, together[i].tokens) {
			t.Errorf("request %d: alone %v, together %v", i, alone[i].tokens, together[i].tokens)
		}
	}
	if f.maxSeqs < 2 {
		t.Errorf("requests never shared a step (max %d per step)", f.maxSeqs)
	}
}

func runConcurrently(t *testing.T, e *Engine, n int, req func(i int) Request) []result {
	t.Helper()
	out := make([]result, n)
	chans := make([]<-chan Event, n)
	for i := range n {
		ch, err := e.Submit(context.Background(), req(i))
		if err != nil {
			t.Fatal(err)
		}
		chans[i] = ch
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = collect(t, chans[i]) })
	}
	wg.Wait()
	return out
}

// TestPreemptionKeepsOutputs: a pool that holds about four sequences
// completes 16 requests through preemption with the unconstrained outputs.
func TestPreemptionKeepsOutputs(t *testing.T) {
	const n = 16
	req := func(i int) Request { return greedyReq(prompt(i, 40+i), 40) } // 80-96 tokens: 5-6 blocks each
	big, _ := newFakeEngine(t, 512, Config{})
	want := runConcurrently(t, big, n, req)
	small, _ := newFakeEngine(t, 24, Config{})
	got := runConcurrently(t, small, n, req)
	for i := range n {
		if !slices.Equal(want[i].tokens, got[i].tokens) || got[i].last.Finish != FinishLength {
			t.Errorf("request %d: %v, want %v", i, got[i], want[i])
		}
	}
	m := small.Metrics()
	if m.Preemptions == 0 {
		t.Errorf("no preemption happened; the test does not test it")
	}
	if m.KV.UsedBlocks != 0 {
		t.Errorf("blocks in use after all finished: %+v", m.KV)
	}
	t.Logf("preemptions: %d", m.Preemptions)
}

func TestStopStringsAcrossTokens(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{})
	full := run(t, e, greedyReq(prompt(3, 8), 40))
	if len(full.text) < 12 {
		t.Skipf("generated text too short to cut: %q", full.text)
	}
	// A stop string spanning the text from byte 5 to 9 cuts there, whatever the token boundaries.
	stop := full.text[5:9]
	req := greedyReq(prompt(3, 8), 40)
	req.StopStrings = []string{"\x00never", stop}
	r := run(t, e, req)
	want := full.text[:strings.Index(full.text, stop)]
	if r.text != want || r.last.Finish != FinishStop {
		t.Errorf("text %q finish %s, want %q and stop", r.text, r.last.Finish, want)
	}
}

func TestStopMatcher(t *testing.T) {
	for _, tc := range []struct {
		stops  []string
		pieces []string
		want   string
		stop   bool
	}{
		{[]string{"END"}, []string{"ab", "cE", "N", "Dxyz"}, "abc", true},
		{[]string{"END"}, []string{"abE", "Nq", "rs"}, "abENqrs", false},
		{[]string{"ab", "b"}, []string{"xa", "b"}, "x", true}, // the earliest match wins
		{[]string{"\n\n"}, []string{"one\n", "\ntwo"}, "one", true},
		{nil, []string{"a", "b"}, "ab", false},
	} {
		m := stopMatcher{stops: tc.stops}
		var got string
		stopped := false
		for _, p := range tc.pieces {
			out, s := m.add(p)
			got += out
			if s {
				stopped = true
				break
			}
		}
		if !stopped {
			got += m.flush()
		}
		if got != tc.want || stopped != tc.stop {
			t.Errorf("%q over %q: %q stop=%v, want %q stop=%v", tc.stops, tc.pieces, got, stopped, tc.want, tc.stop)
		}
	}
}

func TestStopTokenAndMinTokens(t *testing.T) {
	e, f := newFakeEngine(t, 64, Config{})
	full := run(t, e, greedyReq(prompt(4, 8), 30))
	stopID := full.tokens[5]
	first := slices.Index(full.tokens, stopID)
	req := greedyReq(prompt(4, 8), 30)
	req.StopTokens = []int32{stopID}
	r := run(t, e, req)
	if len(r.tokens) != first+1 || r.last.Finish != FinishStop {
		t.Errorf("stop token at %d: got %v", first, r)
	}
	// The first token the run would generate is a stop token (and EOS is no
	// longer banned): min_tokens holds both off for 7 tokens.
	delete(f.banned, 2)
	req = greedyReq(prompt(4, 8), 30)
	req.MinTokens = 7
	req.StopTokens = []int32{full.tokens[0]}
	r = run(t, e, req)
	if len(r.tokens) < 7 {
		t.Errorf("min_tokens 7: stopped after %d", len(r.tokens))
	}
}

func TestContextLimit(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{SessionLen: 50})
	r := run(t, e, greedyReq(prompt(5, 40), 0))
	if len(r.tokens) != 10 || r.last.Finish != FinishLength {
		t.Errorf("40-token prompt in a 50-token context: %v, want 10 tokens and length", r)
	}
	if _, err := e.Submit(context.Background(), greedyReq(prompt(5, 50), 1)); !errors.Is(err, ErrPromptTooLong) {
		t.Errorf("50-token prompt: err %v, want ErrPromptTooLong", err)
	}
}

func TestBadRequests(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{})
	bad := []Request{
		{},
		greedyReq([]int32{1, 9999}, 4),
		greedyReq([]int32{1, -1}, 4),
		{Prompt: []int32{1}, MaxTokens: -1, Sample: defaultGreedy()},
		{Prompt: []int32{1}, MaxTokens: 2, MinTokens: 3, Sample: defaultGreedy()},
		{Prompt: []int32{1}, TopLogprobs: 21, Sample: defaultGreedy()},
		{Prompt: []int32{1}, StopStrings: []string{""}, Sample: defaultGreedy()},
		{Prompt: []int32{1}, StopTokens: []int32{512}, Sample: defaultGreedy()},
		{Prompt: []int32{1}}, // zero Params: top_p 0 is out of range
	}
	for i, r := range bad {
		if _, err := e.Submit(context.Background(), r); !errors.Is(err, ErrBadRequest) {
			t.Errorf("request %d: err %v, want ErrBadRequest", i, err)
		}
	}
}

func TestLogprobs(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{})
	req := greedyReq(prompt(6, 8), 5)
	req.Logprobs, req.TopLogprobs = true, 3
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var lps []TokenLogprob
	var toks []int32
	for ev := range ch {
		lps = append(lps, ev.Logprobs...)
		toks = append(toks, ev.Tokens...)
	}
	if len(lps) != 5 {
		t.Fatalf("%d logprobs for 5 tokens", len(lps))
	}
	for i, lp := range lps {
		if lp.ID != toks[i] || len(lp.Top) != 3 || lp.Top[0].ID != toks[i] || lp.Logprob > 0 {
			t.Errorf("token %d: %+v (greedy: the top alternative is the token)", i, lp)
		}
	}
}

func TestPrefixCacheHits(t *testing.T) {
	e, _ := newFakeEngine(t, 256, Config{PrefixCaching: true})
	shared := prompt(7, 1000)
	a := run(t, e, greedyReq(append(slices.Clone(shared), 11, 12, 13), 8))
	b := run(t, e, greedyReq(append(slices.Clone(shared), 21, 22), 8))
	if a.last.Usage.CachedTokens != 0 || b.last.Usage.CachedTokens != 992 {
		t.Errorf("cached tokens %d then %d, want 0 then 992 (62 full blocks)", a.last.Usage.CachedTokens, b.last.Usage.CachedTokens)
	}
	// The cached run's output equals an uncached engine's.
	e2, _ := newFakeEngine(t, 256, Config{})
	c := run(t, e2, greedyReq(append(slices.Clone(shared), 21, 22), 8))
	if !slices.Equal(b.tokens, c.tokens) {
		t.Errorf("with cache %v, without %v", b.tokens, c.tokens)
	}
}

func TestSessionPrefillsOnlyNewTokens(t *testing.T) {
	e, _ := newFakeEngine(t, 128, Config{})
	turn1 := greedyReq(prompt(8, 100), 10)
	turn1.SessionID = "s1"
	r1 := run(t, e, turn1)
	// The follow-up extends everything computed so far (the last generated
	// token's K/V is not computed until it is fed).
	hist := append(prompt(8, 100), r1.tokens...)
	turn2 := greedyReq(append(slices.Clone(hist), 30, 31, 32), 10)
	turn2.SessionID = "s1"
	r2 := run(t, e, turn2)
	if got, want := r2.last.Usage.CachedTokens, 100+len(r1.tokens)-1; got != want {
		t.Errorf("second turn reused %d tokens, want %d", got, want)
	}
	e2, _ := newFakeEngine(t, 128, Config{})
	ref := run(t, e2, greedyReq(append(slices.Clone(hist), 30, 31, 32), 10))
	if !slices.Equal(r2.tokens, ref.tokens) {
		t.Errorf("session turn %v, fresh %v", r2.tokens, ref.tokens)
	}
	if m := e.Metrics(); m.Sessions != 1 || m.KV.UsedBlocks == 0 {
		t.Errorf("session not kept: %+v", m.KV)
	}
	if !e.EndSession("s1") || e.EndSession("s1") {
		t.Error("EndSession: want true then false")
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks used after EndSession: %+v", st)
	}
}

func TestSessionBusyAndEviction(t *testing.T) {
	e, f := newFakeEngine(t, 16, Config{}) // 256 tokens
	f.delay = 2 * time.Millisecond
	req := greedyReq(prompt(9, 100), 50)
	req.SessionID = "a"
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(context.Background(), req); !errors.Is(err, ErrSessionBusy) {
		t.Errorf("second request of a busy session: %v, want ErrSessionBusy", err)
	}
	collect(t, ch)
	f.delay = 0
	// Session a holds ~150 tokens; a 200-token request needs its blocks.
	r := run(t, e, greedyReq(prompt(10, 200), 20))
	if r.last.Finish != FinishLength {
		t.Errorf("big request after a session: %v", r)
	}
}

func TestOverloadAndClose(t *testing.T) {
	e, f := newFakeEngine(t, 64, Config{MaxQueue: 2, MaxNumSeqs: 1})
	f.delay = 5 * time.Millisecond
	var chans []<-chan Event
	overloaded := false
	for i := range 8 {
		ch, err := e.Submit(context.Background(), greedyReq(prompt(i, 10), 200))
		if errors.Is(err, ErrOverloaded) {
			overloaded = true
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	if !overloaded {
		t.Error("8 submissions into a queue of 2 never overloaded")
	}
	e.Close()
	for _, ch := range chans {
		if r := collect(t, ch); r.last.Finish != FinishAbort {
			t.Errorf("after Close: %v, want abort", r)
		}
	}
	if _, err := e.Submit(context.Background(), greedyReq(prompt(1, 10), 2)); !errors.Is(err, ErrClosed) {
		t.Errorf("submit after close: %v", err)
	}
}

func TestForwardErrorFailsTheStepOnly(t *testing.T) {
	e, f := newFakeEngine(t, 64, Config{})
	f.fail = func(s *Step) error {
		if slices.Contains(s.Tokens, 499) {
			return errors.New("boom")
		}
		return nil
	}
	r := run(t, e, greedyReq([]int32{1, 499, 5}, 5))
	if r.last.Finish != FinishError || r.last.Err == nil {
		t.Errorf("failing forward: %v err %v", r, r.last.Err)
	}
	f.fail = nil
	if r := run(t, e, greedyReq([]int32{1, 5}, 5)); r.last.Finish != FinishLength {
		t.Errorf("after a failed step: %v", r)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks leaked: %+v", st)
	}
}

// TestNoLeaksUnderCancellation: 1,000 requests, 30% cancelled at random
// points (queued, prefilling or decoding); afterwards every block is free
// and the goroutine count is back to its baseline.
func TestNoLeaksUnderCancellation(t *testing.T) {
	base := runtime.NumGoroutine()
	e, f := newFakeEngine(t, 128, Config{MaxNumSeqs: 8, MaxQueue: 2000, PrefixCaching: true})
	f.delay = 50 * time.Microsecond
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	var mu sync.Mutex
	finishes := map[FinishReason]int{}
	for i := range 1000 {
		ctx, cancel := context.WithCancel(context.Background())
		req := greedyReq(prompt(i%37, 5+rng.IntN(120)), 1+rng.IntN(40))
		ch, err := e.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		cancelAt := -1
		if rng.Float64() < 0.3 {
			cancelAt = rng.IntN(20)
		}
		readAll := rng.Float64() < 0.8 // some cancelled clients stop reading at once
		wg.Go(func() {
			defer cancel()
			n := 0
			for ev := range ch {
				if n == cancelAt {
					cancel()
					if !readAll {
						return
					}
				}
				n += len(ev.Tokens)
				if ev.Finish != "" {
					mu.Lock()
					finishes[ev.Finish]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.pool.Stats()
		m := e.Metrics()
		if st.UsedBlocks == 0 && m.Running == 0 && m.Waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocks or sequences left: %+v running %d waiting %d", st, m.Running, m.Waiting)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Close()
	for time.Now().Before(deadline) && runtime.NumGoroutine() > base {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, baseline %d:\n%s", g, base, buf[:runtime.Stack(buf, true)])
	}
	t.Logf("finishes: %v", finishes)
	if finishes[FinishAbort] == 0 || finishes[FinishLength] == 0 {
		t.Errorf("finishes %v: want both aborts and completions", finishes)
	}
}
