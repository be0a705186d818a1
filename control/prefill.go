package control

import "slices"

// minPrefillChunk is the fewest prefill tokens a step carries while any
// prompt waits, whatever the latency target: prefill always progresses.
const minPrefillChunk = 32

// autoITLFactor sets the default latency target (Config.MaxITL == 0): a
// step carrying prefill may take this many times the cost of a decode step
// of the steady batch (see steadyShape). Three gives prefill two thirds of
// the machine while streams run, and bounds the stall a long prompt causes
// to a few decode steps.
const autoITLFactor = 3

// enqueue inserts s into the waiting queue by priority (lower first), then
// arrival: a preempted sequence goes back ahead of every later arrival of
// its priority.
func (e *Engine) enqueue(s *sequence) {
	i, _ := slices.BinarySearchFunc(e.waiting, s, func(w, s *sequence) int {
		if w.req.Priority != s.req.Priority {
			return w.req.Priority - s.req.Priority
		}
		if w.arrival < s.arrival {
			return -1
		}
		return 1 // equal arrivals (members of one group): after the others
	})
	e.waiting = slices.Insert(e.waiting, i, s)
}

// before orders sequences by priority, then admission.
func before(a, b *sequence) int {
	if a.req.Priority != b.req.Priority {
		return a.req.Priority - b.req.Priority
	}
	switch {
	case a.admitted < b.admitted:
		return -1
	case a.admitted > b.admitted:
		return 1
	}
	return 0
}

// prefillBudget is how many prefill tokens this step may carry, out of
// budget: all of it when no stream decodes (nothing to stall) or the cost
// model is not warm yet; otherwise the most whose predicted step cost stays
// within the latency target, never fewer than minPrefillChunk.
func (e *Engine) prefillBudget(budget int) int {
	if e.shape.decodes == 0 || e.cfg.MaxITL < 0 || budget <= minPrefillChunk || !e.cost.ready() {
		return budget
	}
	target := e.cfg.MaxITL
	if target == 0 {
		target = autoITLFactor * e.cost.predict(e.steadyShape())
	}
	ctx := e.prefillContext()
	fits := func(p int) bool {
		sh := e.shape
		sh.tokens += p
		sh.keys += p*ctx + p*(p+1)/2
		return e.cost.predict(sh) <= target
	}
	lo, hi := minPrefillChunk, budget // fits(lo) is not required: lo is the floor
	if fits(hi) {
		return hi
	}
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// steadyShape is the decode step the running streams are headed for: this
// step's decodes joined by every sequence that prefills or waits, up to
// MaxNumSeqs, each with its context. The default latency target is a
// multiple of its cost, not of this step's decodes alone: when a burst of
// requests arrives, the first streams to start would otherwise hold the
// others' prefill to chunks sized against a one- or two-row decode, which
// on a CPU is mostly the fixed cost of reading the weights (Llama-3.2-1B
// shape, 2 cores: ~50-token chunks beside one stream, prefill at 60-70 %
// of its full-chunk rate, the last prompts of a 16-request burst waiting
// 30 s for their first token), to spare those few streams a stall they
// will see anyway, as their steady inter-token latency, once the rest
// decode beside them.
func (e *Engine) steadyShape() stepShape {
	sh := stepShape{decodes: e.shape.decodes, keys: e.shape.keys}
	join := func(s *sequence) bool {
		if sh.decodes >= e.cfg.MaxNumSeqs {
			return false
		}
		sh.decodes++
		sh.keys += len(s.tokens)
		return true
	}
	for _, s := range e.running {
		if s.chunk == 0 && s.remaining() > 1 && !join(s) {
			return sh
		}
	}
	for _, s := range e.waiting {
		if !join(s) {
			break
		}
	}
	return sh
}

// prefillContext is the context the next prefill chunk starts at: that of
// the first running prefill, else 0 (a new prompt).
func (e *Engine) prefillContext() int {
	for _, s := range e.running {
		if s.chunk == 0 && s.remaining() > 1 {
			return s.computed
		}
	}
	return 0
}

// schedulePrefill gives budget prefill tokens to running prefills and to
// waiting sequences it admits, in order of priority then admission. While
// several prompts prefill, none takes more than half the budget, so a
// short prompt is not held behind a long one for the whole of its prefill
// (Sarathi-Serve's stall-free batching, with fair sharing); equal prompts
// still go first come, first served, which keeps the mean TTFT low.
func (e *Engine) schedulePrefill(budget int) {
	cands := e.prefills[:0]
	for _, s := range e.running {
		if s.chunk == 0 && s.remaining() > 1 {
			cands = append(cands, s)
		}
	}
	// need is what the candidates would take were one more admitted.
	need := func() int {
		capped := chunkCap(budget, len(cands)+1)
		n := 0
		for _, s := range cands {
			n += min(s.remaining(), capped)
		}
		return n
	}
	// Admit waiting sequences while budget and room last; canGrow records
	// that the budget alone stopped admission (for holdCohort).
	canGrow := false
	for len(e.waiting) > 0 && e.slotsInUse()+e.slotsNeeded(e.waiting[0]) <= e.cfg.MaxNumSeqs {
		if need() >= budget {
			canGrow = true
			break
		}
		s := e.waiting[0]
		ok, err := e.admit(s)
		if err != nil {
			e.waiting = e.waiting[1:]
			e.nWaiting.Add(-1)
			e.finish(s, FinishError, err)
			continue
		}
		if !ok {
			break // the head waits for blocks; no overtaking
		}
		e.waiting = e.waiting[1:]
		e.nWaiting.Add(-1)
		e.running = append(e.running, s)
		cands = append(cands, s)
	}
	slices.SortStableFunc(cands, before)
	capped := chunkCap(budget, len(cands))
	for _, s := range cands {
		if budget == 0 {
			break
		}
		s.chunk = min(s.remaining(), capped, budget)
		budget -= s.chunk
	}
	e.holdCohort(cands, canGrow, budget)
	for _, s := range cands {
		e.shape.tokens += s.chunk
		e.shape.keys += s.chunk*s.computed + s.chunk*(s.chunk+1)/2
	}
	clear(cands)
	e.prefills = cands[:0]
}

// chunkCap is the most one of n prefilling sequences may take of budget.
func chunkCap(budget, n int) int {
	if n <= 1 {
		return budget
	}
	return max(budget/2, min(minPrefillChunk, budget))
}
