package control

import "time"

// Cohorts: prompts that prefill together start their streams together.
//
// Prefilled one after another, a burst's first prompts would start
// streaming while the others still prefill, and every later prefill chunk
// would stall those streams (chunked to the latency target, or whole).
// With 16 requests of 128 + 64 tokens on a 2-core CPU and a 1B model,
// 12-22 % of all inter-token gaps were steps carrying prefill, and the
// run's ITL p99 was such a step, not a decode step. Instead, a prompt that
// finishes prefilling while
// other admitted prompts still prefill (or waiting ones could be admitted)
// keeps its last token back, "held": no first token yet, so no stream to
// stall. When no prefill is left to run, the held sequences evaluate their
// last tokens together in a step of their own, like a decode step, so the
// cohort gets its first tokens at once and decodes as one batch from then
// on (no stragglers thinning the batch at the end either). That is what
// llama-server and vLLM without chunked prefill do with a burst. The
// price is time to first token: the first prompts' first tokens come later
// than first come, first served would give them, and so does the median
// (TestBurstStartsTogether: every first token at 12.1 s instead of from
// 2.9 s to 14.9 s, median about 8.5 s); in exchange no stream stalls after
// its first token for the others' prefill, and the batch stays full.
//
// The hold is bounded, so that a short prompt is not held behind a long
// one, nor a cohort by a queue that keeps growing: a prompt is held only
// while the cohort's prefill still to run (admitted prompts' rest, and the
// prompts of waiting requests that fit) is at most cohortSteps full steps
// of prefill, and a cohort starts at the latest once twice that much
// prefill ran since its first prompt was held.
//
// A burst's requests do not reach the engine at the same instant (clients
// of a closed loop resend as their answers end, a few milliseconds apart),
// and the first would start alone, then be stalled by the others'
// prefill. So an idle engine that receives a request first waits a moment
// for more (gather): at most gatherMax, and at most a quarter of a
// one-row decode step, so that a lone request's first token is late by a
// small fraction of what its prompt costs anyway.

// gatherMax bounds how long an idle engine waits, once a request arrives,
// for the rest of a burst (see gather).
const gatherMax = 20 * time.Millisecond

// cohortSteps bounds the prefill a held prompt may wait for, in full
// steps (MaxBatchTokens each): at the default 512-token budget, 2048
// tokens, a burst of 16 prompts of 128 tokens.
const cohortSteps = 4

// holdCohort runs once this step's prefill chunks are set (cands; canGrow
// tells whether a waiting request could be admitted but for the budget;
// left is the budget the chunks left). While a cohort is forming (prefill
// runs in this step and more is left after it, or prompts are held
// already), every candidate whose chunk would reach its last token keeps
// that token back and is held: a lone prompt is never held. When no
// prefill runs in this step, or the cohort is past its bounds, every held
// sequence starts: its last token is scheduled as a one-token decode and
// sampled, in budget taken from the last chunks if the chunks left too
// little (so no budget is set aside in the steps that hold).
func (e *Engine) holdCohort(cands []*sequence, canGrow bool, left int) {
	bound := cohortSteps * e.cfg.MaxBatchTokens
	rest := e.cohortRest(cands, canGrow)
	if chunked(cands) && (rest > 0 || e.nHeld > 0) && rest <= bound && e.cohortRan < 2*bound {
		for _, s := range cands {
			if s.chunk == 0 {
				continue
			}
			if s.chunk == s.remaining() {
				s.chunk-- // a candidate has remaining > 1: a chunk is left
			}
			if s.computed+s.chunk == len(s.tokens)-1 && !s.held {
				s.held = true
				e.nHeld++
			}
		}
		if e.nHeld > 0 {
			for _, s := range cands {
				e.cohortRan += s.chunk
			}
		}
		return
	}
	e.cohortRan = 0
	for i := len(cands) - 1; i >= 0 && left < e.nHeld; i-- {
		take := min(cands[i].chunk, e.nHeld-left)
		cands[i].chunk -= take
		left += take
	}
	for _, s := range e.running {
		if s.held && left > 0 { // with drafts taking the budget, the rest start next step
			s.held, s.chunk = false, 1
			left--
			e.shape.decodes++
			e.shape.keys += len(s.tokens)
		}
	}
}

// cohortRest is the prefill the cohort has left after this step's chunks:
// the candidates' tokens beyond their chunks and, when more requests can
// be admitted, the prompts of the waiting ones that fit the free slots.
func (e *Engine) cohortRest(cands []*sequence, canGrow bool) int {
	rest := 0
	for _, s := range cands {
		rest += s.remaining() - s.chunk
	}
	if canGrow {
		free := e.cfg.MaxNumSeqs - e.slotsInUse()
		for _, s := range e.waiting {
			if free <= 0 {
				break
			}
			free--
			rest += len(s.tokens)
		}
	}
	return rest
}

// chunked reports whether any candidate has a chunk this step.
func chunked(cands []*sequence) bool {
	for _, s := range cands {
		if s.chunk > 0 {
			return true
		}
	}
	return false
}

// gather is called when requests wait and nothing runs: it waits for more
// arrivals (moving them to the waiting queue) until MaxNumSeqs wait, the
// window ends, or the engine is closed.
func (e *Engine) gather() {
	if !e.cost.ready() {
		return
	}
	window := min(gatherMax, e.cost.predict(stepShape{decodes: 1})/4)
	if window <= 0 {
		return
	}
	t := time.NewTimer(window)
	defer t.Stop()
	for len(e.waiting) < e.cfg.MaxNumSeqs {
		select {
		case <-e.wake:
			if e.takeIncoming() {
				e.poke() // the loop sees the close on its next turn
				return
			}
		case <-t.C:
			return
		}
	}
}

// countHeld sets nHeld to the running sequences held for their cohort
// (preemption and cancellation may have taken some since the last step).
func (e *Engine) countHeld() {
	e.nHeld = 0
	for _, s := range e.running {
		if s.held {
			e.nHeld++
		}
	}
}
