package control

import (
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// Speculative decoding with a draft model (SpeculativeConfig.Method
// "draft", vLLM's draft_model method): a smaller model sharing the
// target's vocabulary proposes each speculating row's next tokens by
// greedy argmax, one batched draft forward per drafted position for all
// rows, and the target verifies them in its own step exactly as it
// verifies n-gram drafts (speculate.go), so outputs do not change: the
// drafter is deterministic and a draft is kept iff the row's own sample
// equals it.
//
// The draft has its own paged K/V, a kvcache.Pool over the draft
// executor's cache, and each sequence that may draft holds a draft
// sequence (sequence.dkv) kept in step with its target K/V:
//   - a prompt's prefill chunks are mirrored in the same step's first
//     draft forward (as far as the draft's batch allows; what does not fit
//     is caught up later, in chunks);
//   - a drafting row's first draft forward feeds what its draft K/V lacks
//     (normally the one token sampled last step, two after a fully
//     accepted draft), then each further forward feeds the draft just
//     proposed;
//   - after verification the accepted drafts' K/V is committed and the
//     rest of the reserved slots truncated, so the next step's draft goes
//     on from there without re-prefilling.
//
// Invariants:
//   - s.dkv, when set, holds s.tokens[:s.dkv.Computed()] in the draft's
//     cache; between steps s.dkv.Len() == s.dkv.Computed() <= len(s.tokens).
//   - s.dkv is freed whenever s's target K/V is (finish, preemption,
//     retirement), and forked with it (n > 1).
//   - The draft K/V is only an accelerator: when its pool is full, its
//     context is full or its forward fails, the row decodes without drafts;
//     no request fails because of the draft.

// drafter is the engine's draft model: its executor, its K/V pool and one
// step's scratch. Owned by the loop goroutine.
type drafter struct {
	exec   Executor
	pool   *kvcache.Pool
	ctxLen int // most tokens one sequence's draft K/V may hold
	budget int // tokens this step's first draft forward may still take

	step   Step
	copies []kvcache.Copy
	fed    []fedRange  // this step's first forward, per sequence
	rows   []*sequence // this step's drafting rows, in output order
	next   []*sequence // the rows of one further forward
	logits []float32
	ran    int // draft forwards run this step
}

// fedRange is the tokens [from, to) of a sequence in the first draft forward.
type fedRange struct {
	s        *sequence
	from, to int
}

// newDrafter sets up the draft side of speculation over x for a target
// whose logits rows are vocab long.
func newDrafter(x Executor, vocab int, prefixCaching bool) (*drafter, error) {
	if x.VocabSize() != vocab {
		return nil, fmt.Errorf("control: the draft model's vocabulary has %d tokens, the target's %d: a draft must share the target's tokenizer", x.VocabSize(), vocab)
	}
	pool, err := kvcache.New(kvcache.Config{NumBlocks: x.NumBlocks(), BlockSize: x.BlockSize(), PrefixCaching: prefixCaching})
	if err != nil {
		return nil, fmt.Errorf("control: draft K/V: %w", err)
	}
	ctxLen := x.NumBlocks() * x.BlockSize()
	if c := x.ContextLen(); c > 0 {
		ctxLen = min(ctxLen, c)
	}
	return &drafter{exec: x, pool: pool, ctxLen: ctxLen}, nil
}

// canDraft reports whether s may ever have drafts: not constrained, not in
// a beam search, and its draft context not found full.
func (s *sequence) canDraft() bool {
	g := s.group
	return s.req.Constraint == nil && (g == nil || g.beam == nil) && !s.spec.draftFull
}

// begin starts a step: the first draft forward's budget is the draft
// executor's batch.
func (d *drafter) begin() {
	d.budget = d.exec.MaxBatchTokens()
	d.step.Reset()
	d.copies = d.copies[:0]
	clear(d.fed)
	d.fed = d.fed[:0]
	d.ran = 0
}

// reserve prepares up to n drafts for the decoding sequence s: draft K/V
// slots for its missing tokens and the drafts fed back, and room in the
// first forward for the missing ones. It returns how many drafts s gets
// (0: none this step; s may then be caught up in part).
func (d *drafter) reserve(s *sequence, n int) int {
	if !s.canDraft() {
		return 0
	}
	l := len(s.tokens)
	// Drafting n tokens puts l+n-1 tokens in the draft's K/V.
	if n = min(n, d.ctxLen-l+1); n <= 0 {
		s.spec.draftFull = true // the context only grows: never again
		d.free(s)
		return 0
	}
	if !d.hold(s, l+n-1) {
		return 0
	}
	need := l - s.dkv.Computed()
	switch {
	case need <= 0: // cannot happen: the last sampled token is never in the draft's K/V
		return 0
	case need > d.budget:
		s.spec.catchUp = true // fed what fits; drafts once caught up
		return 0
	}
	d.budget -= need
	return n
}

// hold makes s's draft K/V reserve at least n slots: at first a prefix of
// s.tokens (reusing the draft pool's cached blocks), then more slots.
// false when the draft pool has no room.
func (d *drafter) hold(s *sequence, n int) bool {
	if s.dkv == nil {
		kv := d.pool.NewSeq()
		if _, err := d.pool.AllocatePrompt(kv, s.tokens[:min(n, len(s.tokens))]); err != nil {
			return false
		}
		s.dkv = kv
	}
	if extra := n - s.dkv.Len(); extra > 0 {
		cp, err := d.pool.AppendSlots(s.dkv, extra)
		if err != nil {
			return false
		}
		d.copies = append(d.copies, cp...)
	}
	return true
}

// free releases s's draft K/V.
func (d *drafter) free(s *sequence) {
	if s.dkv != nil {
		d.pool.Free(s.dkv)
		s.dkv = nil
	}
}

// freeDraft releases s's draft K/V, if any.
func (e *Engine) freeDraft(s *sequence) {
	if e.drafter != nil {
		e.drafter.free(s)
	}
}

// fork is a draft K/V for a member forked from p (nil if p holds none).
func (d *drafter) fork(p *sequence) *kvcache.Seq {
	if p.dkv == nil {
		return nil
	}
	return d.pool.Fork(p.dkv)
}

// runDrafts fills the drafts speculate reserved (s.draft holds
// placeholders): one draft forward with every drafting row's missing
// tokens, the prefill chunks of this step and partial catch-ups, then one
// forward per further position for the rows still drafting. Rows whose
// drafts could not be computed lose them (and their target slots).
func (e *Engine) runDrafts() {
	d := e.drafter
	defer d.settleUnfed(e)
	// Drafting rows first (their budget was reserved), each with an
	// output row; then prefill chunks and catch-ups with what is left.
	d.rows = d.rows[:0]
	for _, s := range e.running {
		if len(s.draft) > 0 {
			d.feed(s, len(s.tokens), true)
			d.rows = append(d.rows, s)
		}
	}
	for _, s := range e.running {
		if len(s.draft) > 0 || s.chunk == 0 || d.budget <= 0 || !s.canDraft() {
			continue
		}
		if s.chunk == 1 && s.remaining() == 1 && !s.spec.catchUp {
			continue // a decode without drafts: caught up when it drafts again
		}
		to := s.computed + s.chunk
		if !d.hold(s, to) {
			continue
		}
		if from := s.dkv.Computed(); from < to {
			d.feed(s, min(to, from+d.budget), false)
		}
	}
	if len(d.step.Tokens) == 0 {
		return
	}
	defer func() {
		n := uint64(d.ran)
		e.met.update(func(m *Metrics) { m.DraftForwards += n })
	}()
	err := d.exec.CopyBlocks(d.copies)
	if err == nil {
		err = d.forward()
	}
	if err != nil {
		e.dropDrafts(d.rows, 0)
		return
	}
	for _, f := range d.fed {
		if err := d.pool.Commit(f.s.dkv, f.s.tokens[f.from:f.to]); err != nil {
			d.free(f.s) // cannot happen: the slots were reserved above
		}
	}
	vocab := d.exec.VocabSize()
	for i, s := range d.rows {
		s.draft[0] = argmax(d.logits[i*vocab : (i+1)*vocab])
	}
	for j := 1; ; j++ {
		d.step.Reset()
		d.next = d.next[:0]
		for _, s := range d.rows {
			if len(s.draft) <= j || s.dkv == nil {
				continue
			}
			p := len(s.tokens) + j - 1 // the position of draft j-1
			d.step.Tokens = append(d.step.Tokens, s.draft[j-1])
			d.step.Pos = append(d.step.Pos, int32(p))
			d.step.Seq = append(d.step.Seq, int32(len(d.step.Seqs)))
			d.step.Outputs = append(d.step.Outputs, int32(len(d.step.Tokens)-1))
			d.step.Seqs = append(d.step.Seqs, StepSeq{BlockTable: s.dkv.BlockTable(), CtxLen: p + 1})
			d.next = append(d.next, s)
		}
		if len(d.next) == 0 {
			return
		}
		if err := d.forward(); err != nil {
			e.dropDrafts(d.next, j)
			return
		}
		for i, s := range d.next {
			s.draft[j] = argmax(d.logits[i*vocab : (i+1)*vocab])
		}
	}
}

// feed appends s.tokens[s.dkv.Computed():to] to the first draft forward,
// with the last token's logits when out.
func (d *drafter) feed(s *sequence, to int, out bool) {
	from := s.dkv.Computed()
	idx := int32(len(d.step.Seqs))
	for p := from; p < to; p++ {
		d.step.Tokens = append(d.step.Tokens, s.tokens[p])
		d.step.Pos = append(d.step.Pos, int32(p))
		d.step.Seq = append(d.step.Seq, idx)
	}
	if out {
		d.step.Outputs = append(d.step.Outputs, int32(len(d.step.Tokens)-1))
	}
	d.step.Seqs = append(d.step.Seqs, StepSeq{BlockTable: s.dkv.BlockTable(), CtxLen: to})
	d.fed = append(d.fed, fedRange{s: s, from: from, to: to})
	if !out {
		d.budget -= to - from
	}
}

// forward runs d.step on the draft executor.
func (d *drafter) forward() error {
	if n := len(d.step.Outputs) * d.exec.VocabSize(); cap(d.logits) < n {
		d.logits = make([]float32, n)
	}
	d.ran++
	return d.exec.Forward(&d.step, d.logits[:len(d.step.Outputs)*d.exec.VocabSize()])
}

// dropDrafts cuts the drafts of rows to their first keep tokens (the ones
// computed before a draft forward failed) and gives back the target slots
// of the rest.
func (e *Engine) dropDrafts(rows []*sequence, keep int) {
	e.met.update(func(m *Metrics) { m.DraftFailures++ })
	for _, s := range rows {
		cut := len(s.draft) - keep
		s.draft = s.draft[:keep]
		e.shape.tokens -= cut
		if terr := e.pool.Truncate(s.kv, len(s.tokens)+keep); terr != nil {
			e.finish(s, FinishError, fmt.Errorf("control: %w", terr))
		}
	}
}

// settleUnfed ends the draft side of schedule: reserved draft slots of
// sequences that will not draft this step are given back, so between
// steps and for non-drafting rows Len == Computed.
func (d *drafter) settleUnfed(e *Engine) {
	for _, s := range e.running {
		s.spec.catchUp = false
		if s.dkv != nil && len(s.draft) == 0 && s.dkv.Len() > s.dkv.Computed() {
			_ = d.pool.Truncate(s.dkv, s.dkv.Computed()) // in range by construction
		}
	}
}

// settle commits the K/V of s's accepted drafts that were fed back to the
// draft (all but the last draft) and drops the rest of its reserved slots.
func (d *drafter) settle(s *sequence, accepted int) {
	if s.dkv == nil {
		return
	}
	n := min(accepted, len(s.draft)-1)
	if n > 0 {
		if err := d.pool.Commit(s.dkv, s.draft[:n]); err != nil {
			d.free(s)
			return
		}
	}
	if err := d.pool.Truncate(s.dkv, s.dkv.Computed()); err != nil {
		d.free(s)
	}
}

// argmax is the index of row's largest value, the first of equals (NaN
// never wins): the draft's greedy choice, as the greedy sampler picks.
func argmax(row []float32) int32 {
	best, bestV := 0, float32(math.Inf(-1))
	for i, v := range row {
		if v > bestV {
			best, bestV = i, v
		}
	}
	return int32(best)
}
