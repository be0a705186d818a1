package control

// Beam search with the semantics of HF transformers' BeamSearchScorer:
//
//   - Every step, each live beam's row is turned into log-probabilities
//     (log-softmax of the model's logits, then the same bans sampling
//     applies: end tokens before min_tokens, the constraint's mask); the
//     K = max(2, 1+#end tokens)·width best (beam, token) extensions by
//     cumulative log-probability are ranked.
//   - In rank order: an extension by an end token (EOG, a stop token) ranked
//     within the first width becomes a finished hypothesis scored
//     sum / generated_len^length_penalty (generated_len counts the end
//     token); other end-token extensions are dropped; the others become the
//     next step's beams until there are width of them.
//   - The search is done when width hypotheses are kept and early_stopping
//     is true; with false, when the best candidate's sum divided by the
//     current length^length_penalty cannot beat the worst kept hypothesis;
//     with "never", the same bound but over the longest possible length when
//     length_penalty > 0 (the exact condition).
//   - At max_tokens (or the context's end) a search not done adds its live
//     beams as hypotheses (finish_reason "length"); the n best are returned.
//
// Beams fork copy-on-write: a beam extended by several tokens becomes
// several sequences sharing its K/V blocks, and beams nobody extends free
// theirs, so width beams over a long prompt hold the prompt's blocks once.
// Stop strings (which HF lacks) end a beam as a finished hypothesis at the
// step its text reaches one. Sampling parameters (temperature, top-k/p,
// penalties, logit_bias, seed) do not apply: beam search is deterministic.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kiln-llm/kiln/engine/sample"
)

// EarlyStopping is beam search's stopping rule (HF's early_stopping).
type EarlyStopping int

// The early_stopping modes.
const (
	// EarlyStopHeuristic is early_stopping false (HF's default): stop when
	// the best candidate, scored at the current length, cannot beat the
	// worst kept hypothesis.
	EarlyStopHeuristic EarlyStopping = iota
	// EarlyStopTrue stops as soon as width hypotheses are finished.
	EarlyStopTrue
	// EarlyStopNever stops only when no beam can still beat the kept
	// hypotheses at any length up to max_tokens (exact).
	EarlyStopNever
)

// BeamSearch configures beam search; Request.BestOf (or N) is the width.
type BeamSearch struct {
	// LengthPenalty is the exponent of the length the finished hypotheses'
	// cumulative logprob is divided by: > 0 favours longer outputs.
	LengthPenalty float64
	EarlyStopping EarlyStopping
}

func (b *BeamSearch) validate() error {
	if math.IsNaN(b.LengthPenalty) || math.IsInf(b.LengthPenalty, 0) {
		return badParam("length_penalty", "%g is not a finite number", b.LengthPenalty)
	}
	if b.EarlyStopping < EarlyStopHeuristic || b.EarlyStopping > EarlyStopNever {
		return badParam("early_stopping", "unknown mode %d", b.EarlyStopping)
	}
	return nil
}

// hypothesis is a finished beam: its whole output and its score.
type hypothesis struct {
	ev    Event
	score float64
	order int // insertion order, for HF's tie rules
}

// beamState is a beam search's progress between steps.
type beamState struct {
	params BeamSearch
	hyps   []hypothesis // the best width finished beams
	added  int
	done   bool
	cands  []beamCand // scratch
}

// beamCand is one ranked extension: beam (index into the group's live
// members) followed by tok, with the cumulative logprob score.
type beamCand struct {
	beam  int
	tok   int32
	score float64
	lp    float64
}

// candBefore orders candidates best first: higher score, then lower beam,
// then lower token id (a deterministic stand-in for torch.topk's order).
func candBefore(a, b beamCand) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.beam != b.beam {
		return a.beam < b.beam
	}
	return a.tok < b.tok
}

// add keeps a finished beam if it is among the best width (HF's
// BeamHypotheses.add).
func (b *beamState) add(ev Event, sum float64, genLen, width int) {
	score := sum / math.Pow(float64(genLen), b.params.LengthPenalty)
	if len(b.hyps) >= width && score <= b.worst() {
		return
	}
	b.added++
	b.hyps = append(b.hyps, hypothesis{ev: ev, score: score, order: b.added})
	if len(b.hyps) > width {
		// Drop the worst; among equal scores the earliest added.
		w := 0
		for i, h := range b.hyps {
			if h.score < b.hyps[w].score || (h.score == b.hyps[w].score && h.order < b.hyps[w].order) {
				w = i
			}
		}
		b.hyps = slices.Delete(b.hyps, w, w+1)
	}
}

// worst is the lowest kept score (+Inf with none kept, as HF's 1e9).
func (b *beamState) worst() float64 {
	w := math.Inf(1)
	for _, h := range b.hyps {
		w = min(w, h.score)
	}
	return w
}

// isDone is HF's BeamHypotheses.is_done: best is the best candidate's
// cumulative logprob, genLen the generated length including this step's
// token, maxGen the most tokens a beam may generate.
func (b *beamState) isDone(best float64, genLen, maxGen, width int) bool {
	if len(b.hyps) < width {
		return false
	}
	lp := b.params.LengthPenalty
	switch b.params.EarlyStopping {
	case EarlyStopTrue:
		return true
	case EarlyStopNever:
		if lp > 0 {
			return b.worst() >= best/math.Pow(float64(maxGen), lp)
		}
	}
	return b.worst() >= best/math.Pow(float64(genLen), lp)
}

// best returns the n best hypotheses, best first; among equal scores the
// later added first (HF sorts ascending, stably, and pops from the end).
func (b *beamState) best(n int) []hypothesis {
	h := slices.Clone(b.hyps)
	slices.SortStableFunc(h, func(x, y hypothesis) int {
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		return cmp.Compare(y.order, x.order)
	})
	return h[:min(n, len(h))]
}

// logSoftmax writes the log-softmax of row into lp (float64; NaN counts as
// -Inf). It returns false when no logit is finite.
func logSoftmax(row []float32, lp []float64) bool {
	m := math.Inf(-1)
	for _, v := range row {
		if f := float64(v); f > m {
			m = f
		}
	}
	if math.IsInf(m, 0) {
		return false
	}
	var sum float64
	for _, v := range row {
		if f := float64(v); !math.IsNaN(f) {
			sum += math.Exp(f - m)
		}
	}
	lse := m + math.Log(sum)
	for i, v := range row {
		f := float64(v)
		if math.IsNaN(f) {
			f = math.Inf(-1)
		}
		lp[i] = f - lse
	}
	return true
}

// isEnd reports whether id ends a beam: an EOG token (unless IgnoreEOS) or
// a stop token.
func (e *Engine) isEnd(s *sequence, id int32) bool {
	return (!s.req.IgnoreEOS && e.tok.IsEOG(id)) || s.stopToken[id]
}

// beamStep advances g's beam search by one token once every live beam has
// its row (s.beamRow); see the package comment at the top of this file.
func (e *Engine) beamStep(g *group, now time.Time) {
	for _, s := range g.live {
		if !s.hasRow {
			return
		}
	}
	b, width := g.beam, g.width
	beams := slices.Clone(g.live)
	k := max(2, 1+len(beams[0].suppress)) * width
	b.cands = b.cands[:0]
	vocab := e.exec.VocabSize()
	if cap(e.beamLP) < vocab {
		e.beamLP = make([]float64, vocab)
	}
	lp := e.beamLP[:vocab]
	for bi, s := range beams {
		s.hasRow = false
		if !logSoftmax(s.beamRow, lp) {
			continue
		}
		masked := s.logitsFor(s.beamRow) // end-token bans and the constraint
		for id, v := range masked {
			if math.IsInf(float64(v), -1) || math.IsInf(lp[id], -1) {
				continue
			}
			c := beamCand{beam: bi, tok: int32(id), score: s.score + lp[id], lp: lp[id]}
			if len(b.cands) == k && !candBefore(c, b.cands[k-1]) {
				continue
			}
			// Insert in order; k is small (at most a few dozen).
			at, _ := slices.BinarySearchFunc(b.cands, c, func(x, y beamCand) int {
				if candBefore(x, y) {
					return -1
				}
				return 1
			})
			b.cands = slices.Insert(b.cands, at, c)
			if len(b.cands) > k {
				b.cands = b.cands[:k]
			}
		}
	}
	genLen := beams[0].generated + 1
	maxGen := beams[0].maxLen - beams[0].nPrompt

	// Rank the candidates: finished hypotheses and the next beams.
	var next []beamCand
	for rank, c := range b.cands {
		p := beams[c.beam]
		if e.isEnd(p, c.tok) {
			if rank >= width {
				continue
			}
			ev := p.snapshot()
			ev.Tokens = append(ev.Tokens, c.tok)
			if lpw := p.tokenLogprob(c.tok, p.beamRow); lpw != nil {
				ev.Logprobs = append(ev.Logprobs, *lpw)
			}
			ev.Text += p.stop.held
			ev.Finish = FinishStop
			b.add(ev, c.score, genLen, width)
		} else {
			next = append(next, c)
		}
		if len(next) == width {
			break
		}
	}
	if len(b.cands) > 0 {
		b.done = b.done || b.isDone(b.cands[0].score, genLen, maxGen, width)
	}

	// Realize the next beams: the first extension of a beam reuses its
	// sequence, further ones fork it (before anything is appended), and
	// beams nobody extends are retired.
	uses := make([]int, len(beams))
	seqs := make([]*sequence, len(next))
	for i, c := range next {
		if uses[c.beam] > 0 {
			seqs[i] = e.cloneSeq(beams[c.beam])
		}
		uses[c.beam]++
	}
	for i, c := range next {
		if seqs[i] == nil {
			seqs[i] = beams[c.beam]
		}
	}
	for bi, s := range beams {
		if uses[bi] == 0 {
			e.retire(s)
		}
	}
	g.live = g.live[:0]
	for i, c := range next {
		s := seqs[i]
		if s != beams[c.beam] {
			e.running = append(e.running, s)
		}
		stopped, err := e.extendBeam(s, c, beams[c.beam].beamRow, now)
		if err != nil {
			// The constraint refused a token its mask allowed (a step over
			// its work budget): the search fails as a whole, never a
			// hypothesis cut mid-output and reported as stop.
			g.live = append(g.live, seqs[i:]...)
			e.failGroup(g, Event{Finish: FinishError, Err: fmt.Errorf("control: constrained decoding: %w", err)})
			return
		}
		if stopped {
			b.add(s.snapshot(), s.score, genLen, width)
			e.retire(s)
			continue
		}
		g.live = append(g.live, s)
	}
	e.met.update(func(m *Metrics) { m.GeneratedTokens += uint64(len(next)) })

	switch {
	case b.done || len(g.live) == 0:
		e.endBeam(g, false)
	case len(g.live[0].tokens) >= g.live[0].maxLen:
		e.endBeam(g, true)
	}
}

// extendBeam appends c's token to s (the beam it extends, or a fork of it),
// whose row was the parent beam's; true when the token completes a stop
// string (the beam is finished), and the constraint's error when it
// refuses the token.
func (e *Engine) extendBeam(s *sequence, c beamCand, row []float32, now time.Time) (stopped bool, err error) {
	lp := s.tokenLogprob(c.tok, row)
	if s.req.Constraint != nil {
		if err := s.req.Constraint.Accept(c.tok); err != nil {
			return false, err
		}
	}
	s.tokens = append(s.tokens, c.tok)
	s.generated++
	s.score = c.score
	if s.firstToken.IsZero() {
		s.firstToken = now
		if g := s.group; !g.sawToken {
			g.sawToken = true
			e.met.update(func(m *Metrics) { m.TTFT.observe(seconds(now.Sub(s.submitted))) })
		}
	}
	s.lastToken = now
	text := s.dec.Add(c.tok)
	if s.generated >= s.req.MinTokens {
		text, stopped = s.stop.add(text)
	}
	s.emit(c.tok, lp, text)
	if stopped {
		s.pending.Finish = FinishStop
	}
	return stopped, nil
}

// endBeam returns g's n best hypotheses, adding the live beams (finished
// by length) first when the search ran out of length before it was done.
func (e *Engine) endBeam(g *group, addLive bool) {
	b := g.beam
	if addLive && !b.done {
		for _, s := range g.live {
			ev := s.snapshot()
			ev.Text += s.dec.Flush() + s.stop.held
			ev.Finish = FinishLength
			b.add(ev, s.score, s.generated, g.width)
		}
	}
	for _, s := range g.live {
		e.retire(s)
	}
	g.live = nil
	best := b.best(g.n)
	for i := range g.n {
		var ev Event
		if i < len(best) {
			ev = best[i].ev
		}
		if ev.Finish == "" {
			ev.Finish = FinishStop // nothing could be generated (a constraint allowed nothing)
		}
		e.finishChoice(g, i, ev)
	}
	g.box.flush()
}

// tokenLogprob is id's logprob entry when the request asks for logprobs.
func (s *sequence) tokenLogprob(id int32, row []float32) *TokenLogprob {
	if !s.req.Logprobs && s.req.TopLogprobs == 0 {
		return nil
	}
	l, top := sample.Logprobs(row, id, s.req.TopLogprobs)
	return &TokenLogprob{ID: id, Logprob: l, Top: top}
}
