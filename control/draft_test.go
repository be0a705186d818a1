package control

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// newDraftEngine starts an engine on a fake target of blocks blocks with a
// fake draft of draftBlocks blocks (set up by draft before the engine
// starts); both ban the EOG tokens and both repeat the token copyBack back.
func newDraftEngine(t testing.TB, blocks, draftBlocks, copyBack int, cfg Config, draft func(*fakeExec)) (*Engine, *fakeExec) {
	t.Helper()
	tok := storiesTokenizer(t)
	target, d := newFakeExec(blocks, 16), newFakeExec(draftBlocks, 16)
	for _, f := range []*fakeExec{target, d} {
		for _, id := range tok.EOGTokens() {
			f.banned[id] = true
		}
		f.copyBack = copyBack
	}
	if draft != nil {
		draft(d)
	}
	cfg.Speculative = SpeculativeConfig{Method: "draft", Tokens: 4, Draft: d}
	e, err := New(target, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, d
}

// draftReqs are greedy, seeded and n = 2 requests over prompts whose
// tokens recur.
func draftReqs() []Request {
	var rs []Request
	for i := range 12 {
		p := prompt(i, 10+7*i)
		for j := 1; j < len(p); j += 3 {
			p[j] = p[1]
		}
		r := greedyReq(p, 50)
		switch i % 4 {
		case 1:
			r.Sample.Temperature, r.Sample.Seed = 0.8, uint64(i)
		case 2:
			r.Sample.Temperature, r.Sample.Seed, r.N = 0.7, uint64(i), 2
		}
		rs = append(rs, r)
	}
	return rs
}

// TestDraftModelFake checks draft-model speculation against plain decoding
// on fake executors whose logits depend on every cached token, so a draft
// K/V out of step with its sequence (a stale or missing token, a block
// table off by one) changes the draft's proposals: a draft computing the
// target's own function must then have every greedy draft accepted. Outputs
// (greedy, seeded, n = 2) must be the plain ones whatever the draft, with
// preemption, a draft context or pool too small, and failing draft
// forwards; no block of either pool may leak.
func TestDraftModelFake(t *testing.T) {
	tests := []struct {
		name        string
		blocks      int
		draftBlocks int
		copyBack    int
		setup       func(*fakeExec)
		check       func(t *testing.T, m Metrics)
	}{
		{"agreeing draft", 512, 512, 5, nil, func(t *testing.T, m Metrics) {
			if m.Spec["draft"].Drafts == 0 || m.Spec["draft"].Accepted*10 < m.Spec["draft"].Drafts*6 {
				t.Errorf("an agreeing draft: %+v accepted; want most", m.Spec)
			}
		}},
		{"agreeing draft, unpredictable text", 512, 512, 0, nil, func(t *testing.T, m Metrics) {
			if m.Spec["draft"].Accepted == 0 {
				t.Errorf("an agreeing draft: %+v accepted; want most", m.Spec)
			}
		}},
		{"disagreeing draft", 512, 512, 0, func(f *fakeExec) { f.salt = 0x9e3779b97f4a7c15 }, func(t *testing.T, m Metrics) {
			if m.Spec["draft"].Drafts == 0 {
				t.Error("no drafts")
			}
		}},
		{"preempted", 24, 512, 5, nil, func(t *testing.T, m Metrics) {
			if m.Preemptions == 0 || m.Spec["draft"].Accepted == 0 {
				t.Errorf("preemptions %d, %+v: want both > 0", m.Preemptions, m.Spec)
			}
		}},
		{"draft context full", 512, 512, 5, func(f *fakeExec) { f.nCtx = 40 }, func(t *testing.T, m Metrics) {
			if m.Spec["draft"].Accepted == 0 {
				t.Errorf("%+v: want drafts while the draft's context lasts", m.Spec)
			}
		}},
		{"draft pool small", 512, 12, 5, nil, func(t *testing.T, m Metrics) {
			if m.Spec["draft"].Accepted == 0 {
				t.Errorf("%+v: want drafts where the draft pool holds them", m.Spec)
			}
		}},
		{"draft forward fails", 512, 512, 5, func(f *fakeExec) {
			f.fail = func(s *Step) error {
				if len(s.Tokens)%3 == 1 {
					return errors.New("draft down")
				}
				return nil
			}
		}, func(t *testing.T, m Metrics) {
			if m.DraftFailures == 0 || m.Spec["draft"].Accepted == 0 {
				t.Errorf("failures %d, %+v: want both > 0", m.DraftFailures, m.Spec)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, pf := newFakeEngine(t, tt.blocks, Config{MaxNumSeqs: 8})
			pf.mu.Lock()
			pf.copyBack = tt.copyBack
			pf.mu.Unlock()
			want := runAll(t, plain, draftReqs())
			e, _ := newDraftEngine(t, tt.blocks, tt.draftBlocks, tt.copyBack, Config{MaxNumSeqs: 8}, tt.setup)
			got := runAll(t, e, draftReqs())
			for i := range want {
				for c := range want[i] {
					if w, g := want[i][c], got[i][c]; !slices.Equal(w.tokens, g.tokens) || w.last.Finish != g.last.Finish {
						t.Errorf("request %d choice %d:\nplain %v %s\ndraft %v %s", i, c, w.tokens, w.last.Finish, g.tokens, g.last.Finish)
					}
				}
			}
			m := e.Metrics()
			t.Logf("drafts %d, accepted %d, draft forwards %d, failures %d, preemptions %d, steps %d (plain %d)",
				m.DraftTokens, m.AcceptedTokens, m.DraftForwards, m.DraftFailures, m.Preemptions, m.Steps, plain.Metrics().Steps)
			if m.KV.UsedBlocks != 0 || m.DraftKV.UsedBlocks != 0 {
				t.Errorf("blocks left in use: target %+v, draft %+v", m.KV, m.DraftKV)
			}
			if m.Spec["draft"].Drafts != m.DraftTokens || m.Spec["ngram"].Drafts != 0 {
				t.Errorf("drafts by method %+v, total %d", m.Spec, m.DraftTokens)
			}
			tt.check(t, m)
		})
	}
}

// TestDraftModelGreedyAllAccepted: a draft that computes the target's own
// function has every greedy draft accepted — only possible if its K/V
// holds exactly each sequence's tokens, step after step (prefill mirrored,
// catch-up, accepted drafts kept, rejected ones dropped).
func TestDraftModelGreedyAllAccepted(t *testing.T) {
	e, _ := newDraftEngine(t, 512, 512, 0, Config{MaxNumSeqs: 8, PrefixCaching: true}, nil)
	var reqs []Request
	for i := range 8 {
		reqs = append(reqs, greedyReq(prompt(i%3, 20+40*i), 40)) // shared prefixes: the draft pool's cache
	}
	runAll(t, e, reqs)
	m := e.Metrics()
	t.Logf("drafts %d, accepted %d, draft forwards %d, steps %d, draft prefix hits %d", m.DraftTokens, m.AcceptedTokens, m.DraftForwards, m.Steps, m.DraftKV.PrefixHits)
	if m.DraftTokens == 0 || m.AcceptedTokens != m.DraftTokens {
		t.Errorf("accepted %d of %d drafts: want all", m.AcceptedTokens, m.DraftTokens)
	}
	if m.DraftKV.UsedBlocks != 0 {
		t.Errorf("draft blocks left in use: %+v", m.DraftKV)
	}
}

// TestDraftModelCancel: a cancelled request's draft K/V is freed.
func TestDraftModelCancel(t *testing.T) {
	e, d := newDraftEngine(t, 512, 512, 5, Config{}, nil)
	d.mu.Lock()
	d.delay = 2 * time.Millisecond
	d.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := e.Submit(ctx, greedyReq(prompt(3, 40), 10_000))
	if err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if len(ev.Tokens) > 0 && e.Metrics().DraftKV.UsedBlocks > 0 {
			cancel()
		}
	}
	cancel()
	m := e.Metrics()
	if m.DraftForwards == 0 {
		t.Error("the draft never ran")
	}
	if m.KV.UsedBlocks != 0 || m.DraftKV.UsedBlocks != 0 {
		t.Errorf("after cancel: target %+v, draft %+v", m.KV, m.DraftKV)
	}
}

// TestDraftModelConfig: the draft method needs a draft of the target's
// vocabulary; ngram refuses one.
func TestDraftModelConfig(t *testing.T) {
	tok := storiesTokenizer(t)
	small := newFakeExec(64, 16)
	small.vocab = 300
	tests := []struct {
		name string
		spec SpeculativeConfig
	}{
		{"no draft", SpeculativeConfig{Method: "draft", Tokens: 4}},
		{"vocabulary differs", SpeculativeConfig{Method: "draft", Tokens: 4, Draft: small}},
		{"ngram with a draft", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 2, Draft: newFakeExec(64, 16)}},
		{"tokens", SpeculativeConfig{Method: "draft", Tokens: 17, Draft: newFakeExec(64, 16)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(newFakeExec(64, 16), tok, Config{Speculative: tt.spec})
			if err == nil {
				e.Close()
				t.Fatal("New succeeded")
			}
			t.Log(err)
		})
	}
}

// TestDraftModelSessionsBeamsConstraints: with a draft model, a session
// turn that stops inside its drafts keeps exactly its computed K/V and the
// next turn's output is a fresh engine's without speculation; beam
// searches and constrained requests served beside drafting rows give the
// outputs they give without speculation and never draft; nothing leaks.
func TestDraftModelSessionsBeamsConstraints(t *testing.T) {
	e, _ := newDraftEngine(t, 256, 256, 5, Config{}, nil)
	ref, rf := newFakeEngine(t, 256, Config{})
	rf.mu.Lock()
	rf.copyBack = 5
	rf.mu.Unlock()

	p := []int32{1, 10, 11, 12, 13, 14}
	turn1 := greedyReq(p, 20)
	turn1.SessionID, turn1.StopTokens = "s", []int32{13}
	r1 := run(t, e, turn1)
	if !slices.Equal(r1.tokens, []int32{10, 11, 12, 13}) || r1.last.Usage.AcceptedPredictionTokens == 0 {
		t.Fatalf("turn 1: %v, usage %+v; want 10 11 12 13 with accepted drafts", r1.tokens, r1.last.Usage)
	}
	next := append(append(slices.Clone(p), r1.tokens...), 30, 31, 32)
	turn2 := greedyReq(next, 12)
	turn2.SessionID = "s"
	r2 := run(t, e, turn2)
	if want := run(t, ref, greedyReq(next, 12)); !slices.Equal(r2.tokens, want.tokens) {
		t.Errorf("turn 2 %v, fresh without speculation %v", r2.tokens, want.tokens)
	}
	e.EndSession("s")

	reqs := func() []Request {
		beam := greedyReq(prompt(5, 30), 12)
		beam.Beam, beam.BestOf, beam.N = &BeamSearch{}, 3, 2
		constrained := greedyReq(prompt(6, 25), 20)
		constrained.Constraint = &parityConstraint{count: 1000, refuse: -1}
		return []Request{beam, constrained, greedyReq(prompt(7, 40), 30), greedyReq(prompt(8, 20), 30)}
	}
	want := runAll(t, ref, reqs())
	before := e.Metrics().DraftTokens
	got := runAll(t, e, reqs())
	for i := range want {
		for c := range want[i] {
			if !slices.Equal(want[i][c].tokens, got[i][c].tokens) {
				t.Errorf("request %d choice %d: %v, want %v", i, c, got[i][c].tokens, want[i][c].tokens)
			}
		}
	}
	for i, r := range got[:2] {
		if u := r[0].last.Usage; u != nil && u.AcceptedPredictionTokens+u.RejectedPredictionTokens > 0 {
			t.Errorf("request %d (beam or constrained) drafted: %+v", i, u)
		}
	}
	m := e.Metrics()
	if m.DraftTokens == before {
		t.Error("the plain requests did not draft")
	}
	if m.KV.UsedBlocks != 0 || m.DraftKV.UsedBlocks != 0 {
		t.Errorf("blocks left in use: target %+v, draft %+v", m.KV, m.DraftKV)
	}
}
