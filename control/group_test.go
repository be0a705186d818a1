package control

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/sample"
)

func sampledReq(p []int32, maxTokens int, seed uint64) Request {
	r := Request{Prompt: p, MaxTokens: maxTokens, Sample: sample.DefaultParams()}
	r.Sample.Seed = seed
	return r
}

// TestNChoicesShareOnePrefill: n = 4 prefills the prompt once, and choice j
// is exactly what a single request with seed+j generates.
func TestNChoicesShareOnePrefill(t *testing.T) {
	e, _ := newFakeEngine(t, 128, Config{})
	p := prompt(11, 100)
	var alone [][]int32
	for j := range 4 {
		alone = append(alone, run(t, e, sampledReq(p, 20, 7+uint64(j))).tokens)
	}
	before := e.Metrics().StepTokens
	req := sampledReq(p, 20, 7)
	req.N = 4
	got := runChoices(t, e, req)
	forwarded := e.Metrics().StepTokens - before
	for j, r := range got {
		if !slices.Equal(r.tokens, alone[j]) {
			t.Errorf("choice %d: %v\nalone:    %v", j, r.tokens, alone[j])
		}
		if u := r.last.Usage; u == nil || u.PromptTokens != 100 || u.CompletionTokens != 20 {
			t.Errorf("choice %d usage %+v", j, r.last.Usage)
		}
	}
	if slices.Equal(got[0].tokens, got[1].tokens) {
		t.Errorf("choices 0 and 1 are equal: the seeds were not varied")
	}
	// One prefill (100) plus each choice's decodes (19 each; the last token
	// is never fed back).
	if want := uint64(100 + 4*19); forwarded != want {
		t.Errorf("forwarded %d tokens, want %d (one prefill)", forwarded, want)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after the request: %+v", st)
	}
}

// TestBestOfKeepsTheLikeliest: best_of 4, n 2 returns the two sequences of
// highest cumulative logprob, best first, and counts the others' tokens.
func TestBestOfKeepsTheLikeliest(t *testing.T) {
	e, f := newFakeEngine(t, 128, Config{})
	delete(f.banned, 2) // let some sequences stop early
	p := prompt(12, 40)
	type cand struct {
		tokens []int32
		sum    float64
	}
	var cands []cand
	for j := range 4 {
		req := sampledReq(p, 16, 3+uint64(j))
		req.Logprobs = true
		ch, err := e.Submit(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		var c cand
		for ev := range ch {
			c.tokens = append(c.tokens, ev.Tokens...)
			for _, lp := range ev.Logprobs {
				c.sum += float64(lp.Logprob)
			}
		}
		cands = append(cands, c)
	}
	order := []int{0, 1, 2, 3}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case cands[a].sum > cands[b].sum:
			return -1
		case cands[a].sum < cands[b].sum:
			return 1
		}
		return 0
	})
	req := sampledReq(p, 16, 3)
	req.N, req.BestOf = 2, 4
	got := runChoices(t, e, req)
	discarded := 0
	for _, j := range order[2:] {
		discarded += len(cands[j].tokens)
	}
	for i, r := range got {
		if want := cands[order[i]].tokens; !slices.Equal(r.tokens, want) {
			t.Errorf("choice %d: %v, want sequence %d %v", i, r.tokens, order[i], want)
		}
		if r.events != 1 {
			t.Errorf("choice %d: %d events; best_of answers at the end, in one", i, r.events)
		}
	}
	if u := got[0].last.Usage; u == nil || u.DiscardedTokens != discarded {
		t.Errorf("usage %+v, want %d discarded tokens", got[0].last.Usage, discarded)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after the request: %+v", st)
	}
}

// TestGroupCancelFreesEverything: cancelling a running n = 3 request, a
// best_of one and a beam search ends every choice with abort and frees
// every block.
func TestGroupCancelFreesEverything(t *testing.T) {
	e, f := newFakeEngine(t, 128, Config{})
	f.delay = 2 * time.Millisecond
	reqs := []Request{sampledReq(prompt(13, 30), 0, 1), sampledReq(prompt(14, 30), 0, 1), greedyReq(prompt(15, 30), 0)}
	reqs[0].N = 3
	reqs[1].N, reqs[1].BestOf = 2, 3
	reqs[2].N, reqs[2].BestOf, reqs[2].Beam = 2, 3, &BeamSearch{LengthPenalty: 1}
	for i, req := range reqs {
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := e.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(30*time.Millisecond, cancel)
		for j, r := range collectChoices(t, ch, req.choices()) {
			if r.last.Finish != FinishAbort {
				t.Errorf("request %d choice %d: finish %q, want abort", i, j, r.last.Finish)
			}
		}
		cancel()
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.pool.Stats().UsedBlocks != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after cancellation: %+v", st)
	}
}

func TestGroupBadRequests(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{MaxNumSeqs: 8})
	bad := []Request{
		{N: -1},
		{N: 3, BestOf: 2},
		{N: 9},
		{N: 2, SessionID: "s"},
		{Beam: &BeamSearch{EarlyStopping: 7}},
	}
	for i, r := range bad {
		r.Prompt, r.Sample, r.MaxTokens = []int32{1, 5}, defaultGreedy(), 4
		if _, err := e.Submit(context.Background(), r); err == nil {
			t.Errorf("request %d (%+v) accepted", i, r)
		}
	}
}

// TestBeamChoicesCarryLogprobsAndMinTokens: every beam choice has one
// logprob per token, with its alternatives, and none ends before
// min_tokens.
func TestBeamChoicesCarryLogprobsAndMinTokens(t *testing.T) {
	e, f := newFakeEngine(t, 128, Config{})
	delete(f.banned, 2)
	req := greedyReq(prompt(21, 20), 12)
	req.N, req.BestOf, req.MinTokens = 3, 4, 5
	req.Logprobs, req.TopLogprobs = true, 2
	req.Beam = &BeamSearch{LengthPenalty: 1, EarlyStopping: EarlyStopTrue}
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	lps := make([][]TokenLogprob, 3)
	toks := make([][]int32, 3)
	for ev := range ch {
		lps[ev.Index] = append(lps[ev.Index], ev.Logprobs...)
		toks[ev.Index] = append(toks[ev.Index], ev.Tokens...)
	}
	for i := range 3 {
		if len(toks[i]) < 5 {
			t.Errorf("choice %d: %d tokens before min_tokens 5", i, len(toks[i]))
		}
		if len(lps[i]) != len(toks[i]) {
			t.Fatalf("choice %d: %d logprobs for %d tokens", i, len(lps[i]), len(toks[i]))
		}
		for j, lp := range lps[i] {
			if lp.ID != toks[i][j] || len(lp.Top) != 2 || lp.Logprob > 0 {
				t.Errorf("choice %d token %d: %+v", i, j, lp)
			}
		}
	}
	if slices.Equal(toks[0], toks[1]) {
		t.Error("two beam choices are the same sequence")
	}
}

// TestGroupWiderThanMaxNumSeqs names the parameter a client must lower.
func TestGroupWiderThanMaxNumSeqs(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{MaxNumSeqs: 4})
	for _, c := range []struct {
		n, bestOf int
		want      string
	}{{5, 0, "bad request: n: "}, {2, 6, "bad request: best_of: "}} {
		r := greedyReq([]int32{1, 5}, 4)
		r.N, r.BestOf = c.n, c.bestOf
		_, err := e.Submit(context.Background(), r)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("n %d best_of %d: %v, want %q", c.n, c.bestOf, err, c.want)
		}
	}
}
