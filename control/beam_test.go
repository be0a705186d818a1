package control

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

// refScorer gives the last position's logits of a token sequence by a full
// forward from an empty K/V cache: no cache reuse, no forks, nothing shared
// with the engine's bookkeeping.
type refScorer struct {
	m  *model.Model
	kv *model.KVCache
}

func newRefScorer(t *testing.T) *refScorer {
	t.Helper()
	p, _ := filepath.Abs("../../shared/models/stories260K.gguf")
	m, err := model.Load(p, model.WithMaxBatchTokens(512))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	kv, err := m.NewKVCache(32, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	return &refScorer{m: m, kv: kv}
}

func (r *refScorer) logits(t *testing.T, toks []int32) []float32 {
	t.Helper()
	n := len(toks)
	b := model.Batch{KV: r.kv, Tokens: toks, Pos: make([]int32, n), Seq: make([]int32, n)}
	table := make([]int32, (n+15)/16)
	for i := range table {
		table[i] = int32(i)
	}
	for i := range n {
		b.Pos[i] = int32(i)
	}
	b.Seqs = []model.SeqState{{BlockTable: table, CtxLen: n}}
	out := make([]float32, r.m.Config.NVocab)
	if err := r.m.Forward(&b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

type refHyp struct {
	toks  []int32
	score float64
	order int
	ended bool // by an end token (else by length)
}

// refBeamSearch is HF transformers' BeamSearchScorer written out plainly:
// every candidate of every beam is scored and sorted, every step.
func refBeamSearch(t *testing.T, r *refScorer, prompt []int32, width, n, maxNew int, lenPen float64, es EarlyStopping, ends map[int32]bool) []refHyp {
	type beam struct {
		toks []int32
		sum  float64
	}
	type cand struct {
		beam  int
		tok   int32
		score float64
	}
	beams := []beam{{}}
	var hyps []refHyp
	added := 0
	worst := func() float64 {
		w := math.Inf(1)
		for _, h := range hyps {
			w = min(w, h.score)
		}
		return w
	}
	add := func(toks []int32, sum float64, genLen int, ended bool) {
		score := sum / math.Pow(float64(genLen), lenPen)
		if len(hyps) >= width && score <= worst() {
			return
		}
		added++
		hyps = append(hyps, refHyp{toks: toks, score: score, order: added, ended: ended})
		if len(hyps) > width {
			sorted := slices.Clone(hyps)
			slices.SortStableFunc(sorted, func(a, b refHyp) int {
				if c := cmp.Compare(a.score, b.score); c != 0 {
					return c
				}
				return cmp.Compare(a.order, b.order)
			})
			drop := sorted[0].order
			hyps = slices.DeleteFunc(hyps, func(h refHyp) bool { return h.order == drop })
		}
	}
	done := false
	for step := 1; step <= maxNew && !done; step++ {
		var cands []cand
		for bi, b := range beams {
			row := r.logits(t, append(slices.Clone(prompt), b.toks...))
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(s)
			for id, v := range row {
				cands = append(cands, cand{bi, int32(id), b.sum + float64(v) - lse})
			}
		}
		slices.SortFunc(cands, func(a, b cand) int {
			if c := cmp.Compare(b.score, a.score); c != 0 {
				return c
			}
			if c := cmp.Compare(a.beam, b.beam); c != 0 {
				return c
			}
			return cmp.Compare(a.tok, b.tok)
		})
		cands = cands[:max(2, 1+len(ends))*width]
		var next []beam
		for rank, c := range cands {
			toks := append(slices.Clone(beams[c.beam].toks), c.tok)
			if ends[c.tok] {
				if rank < width {
					add(toks, c.score, step, true)
				}
			} else {
				next = append(next, beam{toks, c.score})
			}
			if len(next) == width {
				break
			}
		}
		if len(hyps) >= width {
			best, lp := cands[0].score, lenPen
			switch {
			case es == EarlyStopTrue:
				done = true
			case es == EarlyStopNever && lp > 0:
				done = worst() >= best/math.Pow(float64(maxNew), lp)
			default:
				done = worst() >= best/math.Pow(float64(step), lp)
			}
		}
		beams = next
		if !done && step == maxNew {
			for _, b := range beams {
				add(b.toks, b.sum, step, false)
			}
		}
	}
	slices.SortStableFunc(hyps, func(a, b refHyp) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(b.order, a.order)
	})
	return hyps[:min(n, len(hyps))]
}

// TestBeamSearchMatchesReference: the engine's beam search (forks, shared
// blocks, one batched forward per step) returns exactly what the plain
// reference returns, for widths 2-4, every early_stopping mode and two
// length penalties, on stories260K. A stop token (the most common end of a
// sentence) makes beams finish early, so hypotheses compete.
func TestBeamSearchMatchesReference(t *testing.T) {
	e := newModelEngine(t, 256, Config{})
	ref := newRefScorer(t)
	stop, ok := e.tok.TokenID(".")
	if !ok {
		t.Fatal("no '.' token in the vocabulary")
	}
	ends := map[int32]bool{stop: true}
	for _, id := range e.tok.EOGTokens() {
		ends[id] = true
	}
	const maxNew = 24
	endedSeen := 0
	for _, width := range []int{2, 3, 4} {
		for _, es := range []EarlyStopping{EarlyStopHeuristic, EarlyStopTrue, EarlyStopNever} {
			for _, lenPen := range []float64{1, -0.5} {
				name := fmt.Sprintf("w%d/es%d/lp%g", width, es, lenPen)
				p := storyPrompt(width*7+int(es), 12)
				n := width - 1
				want := refBeamSearch(t, ref, p, width, n, maxNew, lenPen, es, ends)
				req := greedyReq(p, maxNew)
				req.N, req.BestOf = n, width
				req.StopTokens = []int32{stop}
				req.Beam = &BeamSearch{LengthPenalty: lenPen, EarlyStopping: es}
				got := runChoices(t, e, req)
				if len(want) != n {
					t.Fatalf("%s: the reference found %d hypotheses, want %d", name, len(want), n)
				}
				for i := range n {
					wantFinish := FinishLength
					if want[i].ended {
						wantFinish = FinishStop
						endedSeen++
					}
					if !slices.Equal(got[i].tokens, want[i].toks) || got[i].last.Finish != wantFinish {
						t.Errorf("%s choice %d:\n got %v (%s)\nwant %v (%s)", name, i, got[i].tokens, got[i].last.Finish, want[i].toks, wantFinish)
					}
				}
			}
		}
	}
	t.Logf("%d returned hypotheses ended by a stop token", endedSeen)
	if endedSeen == 0 {
		t.Error("no hypothesis ended by a stop token: the test does not exercise finished beams")
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after the searches: %+v", st)
	}
}

// TestBeamSearchSharesBlocks: a width-4 beam search over a 500-token prompt
// holds fewer than 1.5x the blocks of one sequence (forks share the
// prompt's blocks; only the tails are per beam), read from the pool's peak.
func TestBeamSearchSharesBlocks(t *testing.T) {
	p := storyPrompt(3, 500)
	single := newModelEngine(t, 256, Config{})
	run(t, single, greedyReq(p, 10))
	one := single.Metrics().KV.PeakUsedBlocks

	e := newModelEngine(t, 256, Config{})
	req := greedyReq(p, 10)
	req.N, req.BestOf = 4, 4
	req.Beam = &BeamSearch{LengthPenalty: 1}
	got := runChoices(t, e, req)
	beams := e.Metrics().KV.PeakUsedBlocks
	t.Logf("peak blocks: one sequence %d, width-4 beam search %d (%.2fx)", one, beams, float64(beams)/float64(one))
	if float64(beams) >= 1.5*float64(one) {
		t.Errorf("beam search peaked at %d blocks, one sequence at %d: not < 1.5x", beams, one)
	}
	if len(got[0].tokens) == 0 {
		t.Error("no tokens")
	}
	if u := e.Metrics().KV.UsedBlocks; u != 0 {
		t.Errorf("%d blocks still used", u)
	}
}

// TestBeamSearchUnderPreemption: beam searches and plain requests on a
// pool too small for all of them at once return what they return alone
// (a preempted beam search restarts; it is deterministic).
func TestBeamSearchUnderPreemption(t *testing.T) {
	beamReq := func(i int) Request {
		r := greedyReq(storyPrompt(i, 40+i), 30)
		r.N, r.BestOf = 2, 3
		r.Beam = &BeamSearch{LengthPenalty: 1}
		return r
	}
	big := newModelEngine(t, 512, Config{})
	var want [][]result
	for i := range 4 {
		want = append(want, runChoices(t, big, beamReq(i)))
	}
	small := newModelEngine(t, 24, Config{})
	type out struct {
		i   int
		res []result
	}
	done := make(chan out)
	for i := range 4 {
		go func() { done <- out{i, runChoices(t, small, beamReq(i))} }()
		go func() { run(t, small, greedyReq(storyPrompt(100+i, 60), 40)); done <- out{-1, nil} }()
	}
	for range 8 {
		o := <-done
		if o.i < 0 {
			continue
		}
		for j := range o.res {
			if !slices.Equal(o.res[j].tokens, want[o.i][j].tokens) {
				t.Errorf("beam request %d choice %d: %v, want %v", o.i, j, o.res[j].tokens, want[o.i][j].tokens)
			}
		}
	}
	m := small.Metrics()
	t.Logf("%d preemptions", m.Preemptions)
	if m.Preemptions == 0 {
		t.Error("no preemption happened")
	}
	if m.KV.UsedBlocks != 0 {
		t.Errorf("blocks left in use: %+v", m.KV)
	}
}

// TestBeamSearchTooWideAlone: a beam search the pool cannot hold even alone
// fails with an error instead of restarting forever.
func TestBeamSearchTooWideAlone(t *testing.T) {
	e := newModelEngine(t, 8, Config{SessionLen: 120})
	r := greedyReq(storyPrompt(1, 100), 19)
	r.N, r.BestOf = 4, 4
	r.Beam = &BeamSearch{LengthPenalty: 1}
	for j, c := range runChoices(t, e, r) {
		if c.last.Finish != FinishError || c.last.Err == nil {
			t.Errorf("choice %d: finish %q err %v, want an error", j, c.last.Finish, c.last.Err)
		}
	}
	if u := e.Metrics().KV.UsedBlocks; u != 0 {
		t.Errorf("%d blocks still used", u)
	}
}
