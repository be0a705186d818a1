package control

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestProposeNgram(t *testing.T) {
	tests := []struct {
		name       string
		tokens     []int32
		nmin, nmax int
		k          int
		want       []int32
	}{
		{"no recurrence", []int32{1, 2, 3, 4}, 1, 3, 4, nil},
		{"unigram, the loop goes on", []int32{5, 6, 7, 5}, 1, 3, 4, []int32{6, 7, 5, 6}},
		{"longest suffix wins", []int32{9, 2, 8, 1, 2, 7, 1, 2}, 1, 2, 2, []int32{7, 1}},
		{"latest occurrence", []int32{1, 2, 3, 1, 2, 4, 1, 2}, 2, 2, 1, []int32{4}},
		{"k caps", []int32{3, 4, 5, 6, 7, 3}, 1, 1, 2, []int32{4, 5}},
		{"min length not met", []int32{1, 2, 3, 9, 3}, 2, 3, 4, nil},
		{"period one", []int32{7, 7, 7}, 1, 3, 4, []int32{7, 7, 7, 7}},
		{"period two", []int32{1, 8, 9, 8, 9, 8}, 2, 3, 3, []int32{9, 8, 9}},
		{"k within the text", []int32{4, 7, 4}, 1, 1, 2, []int32{7, 4}},
		{"single token", []int32{1}, 1, 3, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := proposeNgram(tt.tokens, tt.nmin, tt.nmax, tt.k, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("proposeNgram(%v) = %v, want %v", tt.tokens, got, tt.want)
			}
		})
	}
}

func TestSpeculativeConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    SpeculativeConfig
		ok   bool
	}{
		{"off", SpeculativeConfig{}, true},
		{"ngram", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 3}, true},
		{"tokens without method", SpeculativeConfig{Tokens: 4}, false},
		{"unknown method", SpeculativeConfig{Method: "eagle", Tokens: 4, NgramMin: 1, NgramMax: 3}, false},
		{"no tokens", SpeculativeConfig{Method: "ngram", NgramMin: 1, NgramMax: 3}, false},
		{"min above max", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 4, NgramMax: 3}, false},
		{"min zero", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMax: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.validate(); (err == nil) != tt.ok {
				t.Errorf("validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

var specOn = SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 3}

// runAll submits every request at once and collects every choice.
func runAll(t *testing.T, e *Engine, reqs []Request) [][]result {
	t.Helper()
	out := make([][]result, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		ch, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { out[i] = collectChoices(t, ch, r.choices()) })
	}
	wg.Wait()
	return out
}

// TestModelSpeculationKeepsOutputs: on the real model, outputs with n-gram
// speculation are the outputs without it, token for token and text for
// text, for many prompts served together: greedy, seeded sampling with
// penalties, n = 2 and stop strings, with the prefix cache on; drafts are
// proposed and accepted (stories260K repeats itself), and no block leaks.
func TestModelSpeculationKeepsOutputs(t *testing.T) {
	seeded := func(p []int32, seed uint64) Request {
		r := Request{Prompt: p, MaxTokens: 48}
		r.Sample.Temperature, r.Sample.TopP, r.Sample.Seed = 0.9, 0.95, seed
		r.Sample.TopK, r.Sample.MinP, r.Sample.TypicalP, r.Sample.RepetitionPenalty = 0, 0, 1, 1.1
		r.Sample.PenaltyLastN = 64
		return r
	}
	tests := []struct {
		name string
		reqs func() []Request
	}{
		{"greedy", func() []Request {
			var rs []Request
			for i := range 24 {
				rs = append(rs, greedyReq(storyPrompt(i, 2+5*i), 64))
			}
			return rs
		}},
		{"seeded sampling", func() []Request {
			var rs []Request
			for i := range 12 {
				rs = append(rs, seeded(storyPrompt(i, 4+7*i), uint64(i+1)))
			}
			return rs
		}},
		{"n=2 and stop strings", func() []Request {
			var rs []Request
			for i := range 8 {
				r := seeded(storyPrompt(i, 6+3*i), uint64(100+i))
				r.N = 2
				rs = append(rs, r)
				g := greedyReq(storyPrompt(i, 3+i), 64)
				g.StopStrings = []string{"the", "."}
				rs = append(rs, g)
			}
			return rs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := newModelEngine(t, 512, Config{PrefixCaching: true})
			spec := newModelEngine(t, 512, Config{PrefixCaching: true, Speculative: specOn})
			want := runAll(t, plain, tt.reqs())
			got := runAll(t, spec, tt.reqs())
			accepted := 0
			for i := range want {
				for c := range want[i] {
					w, g := want[i][c], got[i][c]
					if !slices.Equal(w.tokens, g.tokens) || w.text != g.text || w.last.Finish != g.last.Finish {
						t.Errorf("request %d choice %d:\nplain %v %q\nspec  %v %q", i, c, w.tokens, w.text, g.tokens, g.text)
					}
					if u := g.last.Usage; u != nil {
						accepted += u.AcceptedPredictionTokens
						if u.CompletionTokens != w.last.Usage.CompletionTokens {
							t.Errorf("request %d choice %d: completion tokens %d, want %d", i, c, u.CompletionTokens, w.last.Usage.CompletionTokens)
						}
					}
				}
			}
			m := spec.Metrics()
			t.Logf("drafts %d, accepted %d (%.0f%%), steps %d (plain %d)", m.DraftTokens, m.AcceptedTokens,
				100*float64(m.AcceptedTokens)/float64(max(m.DraftTokens, 1)), m.Steps, plain.Metrics().Steps)
			if m.DraftTokens == 0 || m.AcceptedTokens == 0 {
				t.Errorf("no speculation happened: %d drafts, %d accepted", m.DraftTokens, m.AcceptedTokens)
			}
			if tt.name == "greedy" && uint64(accepted) != m.AcceptedTokens {
				t.Errorf("usage counts %d accepted tokens, metrics %d", accepted, m.AcceptedTokens)
			}
			if m.KV.UsedBlocks != 0 {
				t.Errorf("blocks left in use: %+v", m.KV)
			}
		})
	}
}

// TestSpeculationFake checks speculation against plain decoding on the
// fake executor, whose logits depend on every cached token (a rolled-back
// draft left in the K/V, or a block table off by one, changes the output):
// with text the drafts predict (copy mode: the model repeats itself) and
// with text they do not, with a pool large enough and with one so small
// that sequences are preempted and recomputed.
func TestSpeculationFake(t *testing.T) {
	tests := []struct {
		name         string
		copyBack     int
		blocks       int
		wantAccepted bool
	}{
		{"repetitive", 5, 512, true},
		{"unpredictable", 0, 512, false},
		{"repetitive, preempted", 5, 24, true},
		{"unpredictable, preempted", 0, 24, false},
	}
	reqs := func() []Request {
		var rs []Request
		for i := range 12 {
			p := prompt(i, 10+7*i)
			for j := 1; j < len(p); j += 3 {
				p[j] = p[1] // recurring tokens: drafts are proposed either way
			}
			rs = append(rs, greedyReq(p, 60))
		}
		return rs
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2][][]result
			var m Metrics
			for i, sc := range []SpeculativeConfig{{}, specOn} {
				e, f := newFakeEngine(t, tt.blocks, Config{MaxNumSeqs: 8, Speculative: sc})
				f.mu.Lock()
				f.copyBack = tt.copyBack
				f.mu.Unlock()
				got[i] = runAll(t, e, reqs())
				m = e.Metrics()
				if m.KV.UsedBlocks != 0 {
					t.Errorf("blocks left in use: %+v", m.KV)
				}
			}
			for i := range got[0] {
				if w, g := got[0][i][0], got[1][i][0]; !slices.Equal(w.tokens, g.tokens) {
					t.Errorf("request %d:\nplain %v\nspec  %v", i, w.tokens, g.tokens)
				}
			}
			t.Logf("drafts %d, accepted %d, preemptions %d, steps %d", m.DraftTokens, m.AcceptedTokens, m.Preemptions, m.Steps)
			if m.DraftTokens == 0 || (m.AcceptedTokens > 0) != tt.wantAccepted {
				t.Errorf("drafts %d, accepted %d: want drafts and accepted > 0 = %v", m.DraftTokens, m.AcceptedTokens, tt.wantAccepted)
			}
			if strings.Contains(tt.name, "preempted") && m.Preemptions == 0 {
				t.Error("no preemption happened")
			}
		})
	}
}

// TestSpeculationSkipsConstrainedRows: a constrained sequence gets no
// drafts (a draft the grammar forbids would need the constraint rolled
// back); the same request unconstrained does.
func TestSpeculationSkipsConstrainedRows(t *testing.T) {
	for _, constrained := range []bool{false, true} {
		e, f := newFakeEngine(t, 64, Config{Speculative: specOn})
		f.mu.Lock()
		f.copyBack = 4
		f.mu.Unlock()
		r := greedyReq([]int32{1, 10, 12, 14, 16, 10, 12}, 30)
		if constrained {
			r.Constraint = &parityConstraint{count: 1000, refuse: -1}
		}
		res := run(t, e, r)
		m := e.Metrics()
		t.Logf("constrained %v: %v, drafts %d", constrained, res, m.DraftTokens)
		if (m.DraftTokens > 0) == constrained {
			t.Errorf("constrained %v: %d draft tokens", constrained, m.DraftTokens)
		}
	}
}

// TestSpeculationWithSession: a session turn that stops on a stop token
// inside its drafts keeps exactly its computed K/V, and the next turn's
// output is the one a fresh engine without speculation gives.
func TestSpeculationWithSession(t *testing.T) {
	e, f := newFakeEngine(t, 128, Config{Speculative: specOn})
	f.mu.Lock()
	f.copyBack = 5
	f.mu.Unlock()
	p := []int32{1, 10, 11, 12, 13, 14}
	turn1 := greedyReq(p, 20)
	turn1.SessionID, turn1.StopTokens = "s", []int32{13}
	r1 := run(t, e, turn1)
	if !slices.Equal(r1.tokens, []int32{10, 11, 12, 13}) || r1.last.Usage.AcceptedPredictionTokens == 0 {
		t.Fatalf("turn 1: %v, usage %+v; want 10 11 12 13 with accepted drafts", r1.tokens, r1.last.Usage)
	}
	e.mu.Lock()
	ss := e.sessions["s"]
	kept, held := len(ss.tokens), ss.kv.Len()
	e.mu.Unlock()
	if kept != len(p)+3 || held != kept {
		t.Errorf("session keeps %d tokens in %d slots, want %d in as many", kept, held, len(p)+3)
	}
	next := append(append(slices.Clone(p), r1.tokens...), 30, 31, 32)
	turn2 := greedyReq(next, 12)
	turn2.SessionID = "s"
	r2 := run(t, e, turn2)
	ref, rf := newFakeEngine(t, 128, Config{})
	rf.mu.Lock()
	rf.copyBack = 5
	rf.mu.Unlock()
	want := run(t, ref, greedyReq(next, 12))
	if !slices.Equal(r2.tokens, want.tokens) {
		t.Errorf("turn 2 %v, fresh without speculation %v", r2.tokens, want.tokens)
	}
	if r2.last.Usage.CachedTokens != len(p)+3 {
		t.Errorf("turn 2 reused %d tokens, want %d", r2.last.Usage.CachedTokens, len(p)+3)
	}
	e.EndSession("s")
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks used after EndSession: %+v", st)
	}
}
