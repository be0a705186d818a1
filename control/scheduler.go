package control

// The step loop, modelled on vLLM's: schedule() picks this step's tokens
// under the token budget (decodes first, with their speculative drafts,
// then prefill chunks of running and then waiting sequences), execute()
// runs one forward over all of them, and update() samples, appends, emits
// events and retires finished sequences.
//
// Scheduling invariants (hold in every step):
//   - Every decoding sequence is in every step (one row, plus its drafts):
//     prefill never displaces a decode, so a stream's inter-token latency
//     is the step's cost, which prefillBudget keeps within Config.MaxITL
//     as the step cost model predicts it, down to minPrefillChunk tokens.
//   - While a prompt waits and budget remains, a step carries at least
//     minPrefillChunk prefill tokens (or what remains of the budget):
//     prefill always progresses.
//   - The waiting queue is ordered by (Priority, arrival); admission takes
//     its head only (no overtaking), prefill goes by (Priority, admission)
//     and no prefilling sequence takes more than half the prefill budget
//     while another prefills. Preemption takes the youngest sequence of
//     the lowest priority.
//   - A held sequence (cohort.go) has exactly its last prompt token left
//     and is in no step until its cohort starts, when every held sequence
//     is in the same step; nothing is held while no prefill runs.
//   - Drafts are verified in the step they are proposed: after update no
//     sequence holds drafts, and a rejected draft's slots are truncated
//     (s.kv.Len() <= len(s.tokens) for a running sequence that was
//     verified), so its K/V is never committed nor seen.
//   - With spilling, K/V bytes move in one order each step: blocks the
//     pool evicted are read out (drainEvicted), then the step's copies run,
//     then spilled blocks loaded at admission are written and only then
//     committed (applyImports), then the forward; so no block is read after
//     it was overwritten, and no block is registered (seen by another
//     prompt, evicted, spilled) before it holds its bytes.
//
// Invariants (hold between steps):
//   - Every sequence is in exactly one place: incoming (Submit's side),
//     waiting, running, or finished (its final event handed to deliver()).
//   - A running sequence s owns s.kv with s.kv.Computed() == s.computed and
//     s.kv.Len() >= s.computed (within a step, a sequence admitted with
//     spilled blocks counts them in s.computed from its admission, and in
//     s.kv from applyImports, before the forward); a waiting one owns no blocks (s.kv == nil),
//     except a session resumption, which owns its session's blocks.
//   - s.tokens[:s.computed] are in the K/V cache; s.tokens[s.computed:] are
//     not; sampling happens exactly when a step evaluates the last token.
//   - A finished sequence's blocks are released (or kept by its session),
//     its context watcher stopped, and its channel closed after the final
//     event; nothing of it remains in the loop.
//   - nWaiting == len(incoming) + len(waiting).
// Batch invariance: each sequence's logits depend only on its own tokens
// (the kernels are row- and batch-invariant), so greedy output is the same
// whatever else shares a step, and recompute after preemption is exact.

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
)

func (e *Engine) loop() {
	defer close(e.loopDone)
	if e.cfg.BindThread != nil {
		runtime.LockOSThread() // never unlocked: see Config.BindThread
		if unbind := e.cfg.BindThread(); unbind != nil {
			defer unbind()
		}
	}
	for {
		closed := e.takeIncoming()
		if closed {
			e.abortAll(ErrClosed)
			e.flushSpill()
			return
		}
		e.reapCancelled()
		if len(e.running) == 0 && len(e.waiting) == 0 {
			e.setRunning()
			<-e.wake
			continue
		}
		if len(e.running) == 0 {
			e.gather() // requests reach an idle engine: let a burst gather (cohort.go)
			e.reapCancelled()
		}
		ran := e.runStep()
		e.setRunning()
		if !ran {
			<-e.wake // nothing could run: wait for a submit, cancel or close
		}
	}
}

// takeIncoming moves submitted sequences to the waiting queue.
func (e *Engine) takeIncoming() (closed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.incoming {
		e.enqueue(s)
	}
	clear(e.incoming)
	e.incoming = e.incoming[:0]
	return e.closed
}

// reapCancelled finishes every sequence whose context is done.
func (e *Engine) reapCancelled() {
	e.dropFinishedWaiting()
	keep := e.waiting[:0]
	for _, s := range e.waiting {
		if err := s.ctx.Err(); err != nil {
			e.nWaiting.Add(-1)
			e.finish(s, FinishAbort, err)
			continue
		}
		keep = append(keep, s)
	}
	clear(e.waiting[len(keep):])
	e.waiting = keep
	keepR := e.running[:0]
	for _, s := range e.running {
		if err := s.ctx.Err(); err != nil {
			e.finish(s, FinishAbort, err)
			continue
		}
		keepR = append(keepR, s)
	}
	clear(e.running[len(keepR):])
	e.running = keepR
}

func (e *Engine) abortAll(err error) {
	for _, s := range e.waiting {
		e.nWaiting.Add(-1)
		e.finish(s, FinishAbort, err)
	}
	for _, s := range e.running {
		e.finish(s, FinishAbort, err)
	}
	e.waiting, e.running = nil, nil
	e.mu.Lock()
	for id, ss := range e.sessions {
		ss.release(e.pool, e.draftPool())
		delete(e.sessions, id)
	}
	e.mu.Unlock()
}

// runStep schedules, executes and updates one step; false if nothing ran.
func (e *Engine) runStep() bool {
	start := e.cfg.Now()
	e.schedule()
	e.drainEvicted(time.Time{}) // evicted blocks' bytes leave before anything overwrites them
	if len(e.sched) == 0 {
		if err := e.applyImports(); err != nil {
			e.dropFinished()
		}
		return false
	}
	defer e.observeStep(start)
	err := e.exec.CopyBlocks(e.copies)
	if ierr := e.applyImports(); err == nil {
		err = ierr
	}
	if err == nil {
		err = e.exec.Forward(&e.step, e.logits[:len(e.step.Outputs)*e.exec.VocabSize()])
	}
	e.met.update(func(m *Metrics) {
		m.Steps++
		m.StepTokens += uint64(len(e.step.Tokens))
	})
	if err != nil {
		e.failStep(err)
		return true
	}
	e.update()
	return true
}

// schedule fills e.step and e.sched for this step.
func (e *Engine) schedule() {
	e.step.Reset()
	e.sched, e.copies = e.sched[:0], e.copies[:0]
	e.shape = stepShape{}
	budget := e.cfg.MaxBatchTokens

	// Decodes reserve their one slot first; on shortage idle sessions go,
	// then the youngest of the lowest-priority running sequences is
	// preempted. (Prefills reserved every slot at admission.)
	for i := 0; i < len(e.running); {
		s := e.running[i]
		s.chunk = 0
		s.draft = s.draft[:0]
		if s.remaining() != 1 || s.held {
			i++
			continue
		}
		if need := len(s.tokens) - s.kv.Len(); need > 0 {
			cp, err := e.pool.AppendSlots(s.kv, need)
			if errors.Is(err, kvcache.ErrNoSpace) {
				if e.evictIdleSession() {
					continue
				}
				vi := e.victim()
				victim := e.running[vi]
				if g := victim.group; g != nil && g.beam != nil {
					if e.groupAlone(g) {
						e.failGroup(g, Event{Finish: FinishError, Err: errBeamTooWide(g.width)})
						e.running = e.running[:0]
					} else {
						e.restartBeam(g)
					}
					// Members left from anywhere in running: rescan.
					i, budget = 0, e.cfg.MaxBatchTokens
					continue
				}
				if victim.chunk > 0 { // a decode already counted in this step
					budget += victim.chunk
					e.shape.decodes--
					e.shape.keys -= len(victim.tokens)
				}
				e.running = append(e.running[:vi], e.running[vi+1:]...)
				e.preempt(victim)
				if vi < i {
					i--
				}
				continue // s itself may have been the victim
			}
			if err != nil {
				e.finish(s, FinishError, fmt.Errorf("control: %w", err))
				e.running = append(e.running[:i], e.running[i+1:]...)
				continue
			}
			e.copies = append(e.copies, cp...)
		}
		s.chunk = 1
		budget-- // never below 0: len(running) <= MaxNumSeqs <= MaxBatchTokens
		e.shape.decodes++
		e.shape.keys += len(s.tokens)
		i++
	}
	budget = e.speculate(budget)
	e.countHeld()
	e.schedulePrefill(e.prefillBudget(budget))
	if e.drafter != nil {
		e.runDrafts() // after prefill: its chunks are mirrored in the draft
	}
	for _, s := range e.running {
		if s.chunk > 0 {
			e.addToStep(s)
		}
	}
}

// victim is the index in running of the sequence to preempt: the youngest
// of those with the lowest priority (the largest Priority value).
func (e *Engine) victim() int {
	vi := len(e.running) - 1
	for i := vi - 1; i >= 0; i-- {
		if e.running[i].req.Priority > e.running[vi].req.Priority {
			vi = i
		}
	}
	return vi
}

// setRunning publishes the running gauge.
func (e *Engine) setRunning() {
	n := len(e.running)
	e.met.update(func(m *Metrics) { m.Running = n })
}

// admit gives s its blocks (reusing cached prefixes or its session's K/V);
// false when the pool cannot hold it yet.
func (e *Engine) admit(s *sequence) (bool, error) {
	for {
		err := e.allocate(s)
		if err == nil {
			break
		}
		if !errors.Is(err, kvcache.ErrNoSpace) {
			return false, err
		}
		if !e.evictIdleSession() {
			return false, nil
		}
	}
	e.nAdmit++
	s.admitted = e.nAdmit
	if s.scheduled.IsZero() {
		s.scheduled = e.cfg.Now()
		e.met.update(func(m *Metrics) {
			m.PromptTokens += uint64(s.nPrompt)
			m.Queue.observe(seconds(s.scheduled.Sub(s.submitted)))
		})
		if g := s.group; g != nil {
			g.proto.scheduled, g.proto.cached = s.scheduled, s.cached
		}
	}
	return true, nil
}

// allocate reserves K/V for every token of s that is not computed: its
// session's K/V when the prompt extends the session's tokens, else fresh
// blocks after whatever prefix the cache holds.
func (e *Engine) allocate(s *sequence) error {
	if s.kv == nil && s.session != nil && s.preemptions == 0 {
		e.mu.Lock()
		kv, n := s.session.resume(e.pool, s.tokens)
		dkv := s.session.takeDraft()
		e.mu.Unlock()
		if kv != nil {
			cp, err := e.pool.AppendSlots(kv, len(s.tokens)-n)
			if err == nil {
				e.dropAhead(s)
				e.copies = append(e.copies, cp...)
				s.kv, s.computed, s.cached = kv, n, n
				s.dkv, dkv = dkv, nil // holds a prefix of the kept tokens: the draft goes on from it
				return nil
			}
			e.pool.Free(kv) // recompute instead; full blocks may still hit the prefix cache
		}
		if dkv != nil {
			e.draftPool().Free(dkv)
		}
	}
	kv := e.pool.NewSeq()
	cached, err := e.pool.AllocatePrompt(kv, s.tokens)
	if err != nil {
		return err
	}
	cached = e.loadAhead(s, kv, cached)
	s.kv, s.computed = kv, cached
	if s.preemptions == 0 {
		s.cached = cached
	}
	return nil
}

// preempt frees s's blocks and requeues it by its priority and arrival
// (ahead of every later arrival of its priority): it will be recomputed
// (prompt and generated tokens) when blocks are free again.
func (e *Engine) preempt(s *sequence) {
	e.pool.Free(s.kv)
	e.freeDraft(s)
	s.kv, s.computed, s.chunk, s.held = nil, 0, 0, false
	s.draft = s.draft[:0]
	s.preemptions++
	e.enqueue(s)
	e.nWaiting.Add(1)
	e.met.update(func(m *Metrics) { m.Preemptions++ })
}

// addToStep appends s's scheduled chunk to the step.
func (e *Engine) addToStep(s *sequence) {
	idx := int32(len(e.step.Seqs))
	for i := s.computed; i < s.computed+s.chunk; i++ {
		e.step.Tokens = append(e.step.Tokens, s.tokens[i])
		e.step.Pos = append(e.step.Pos, int32(i))
		e.step.Seq = append(e.step.Seq, idx)
	}
	if s.wantsOutput() {
		e.step.Outputs = append(e.step.Outputs, int32(len(e.step.Tokens)-1))
	}
	// Draft tokens follow the decode token, each with its logits row.
	for j, t := range s.draft {
		e.step.Tokens = append(e.step.Tokens, t)
		e.step.Pos = append(e.step.Pos, int32(s.computed+s.chunk+j))
		e.step.Seq = append(e.step.Seq, idx)
		e.step.Outputs = append(e.step.Outputs, int32(len(e.step.Tokens)-1))
	}
	e.step.Seqs = append(e.step.Seqs, StepSeq{BlockTable: s.kv.BlockTable(), CtxLen: s.computed + s.chunk + len(s.draft)})
	e.sched = append(e.sched, s)
}

// failStep finishes every sequence of a step whose forward failed.
func (e *Engine) failStep(err error) {
	err = fmt.Errorf("control: forward: %w", err)
	for _, s := range e.sched {
		e.finish(s, FinishError, err)
	}
	e.dropFinished()
}

// update commits the step's K/V, samples every sequence that reached its
// last token, and retires the finished ones.
func (e *Engine) update() {
	vocab := e.exec.VocabSize()
	out := 0
	now := e.cfg.Now()
	for _, s := range e.sched {
		chunk := s.tokens[s.computed : s.computed+s.chunk]
		want := s.wantsOutput()
		first := out
		if want {
			out += 1 + len(s.draft)
		}
		if err := e.pool.Commit(s.kv, chunk); err != nil {
			e.finish(s, FinishError, fmt.Errorf("control: %w", err))
			continue
		}
		s.computed += s.chunk
		s.chunk = 0
		if !want {
			continue
		}
		if len(s.draft) > 0 {
			e.specs = append(e.specs, verification{s: s, rows: e.logits[first*vocab : out*vocab]})
			continue
		}
		row := e.logits[first*vocab : out*vocab]
		g := s.group
		switch {
		case g != nil && g.beam != nil:
			s.beamRow, s.hasRow = append(s.beamRow[:0], row...), true
			if !slices.Contains(e.beams, g) {
				e.beams = append(e.beams, g)
			}
		case g != nil && !g.forked:
			kids := e.forkChoices(s)
			e.picks = append(e.picks, pick{s: s, row: row})
			for _, c := range kids {
				e.picks = append(e.picks, pick{s: c, row: row})
			}
			e.kids = append(e.kids, kids...)
		default:
			e.picks = append(e.picks, pick{s: s, row: row})
		}
	}
	runPicks(e.picks)
	for i := range e.picks {
		e.commitPick(&e.picks[i], now)
	}
	clear(e.picks)
	e.picks = e.picks[:0]
	for _, v := range e.specs {
		e.verify(v, now)
	}
	clear(e.specs)
	e.specs = e.specs[:0]
	for _, g := range e.beams {
		if len(g.live) > 0 {
			e.beamStep(g, now)
		}
	}
	clear(e.beams)
	e.beams = e.beams[:0]
	e.dropFinished()
	for _, list := range [][]*sequence{e.sched, e.kids} {
		for _, s := range list {
			if !s.finished {
				s.deliver()
			}
		}
	}
	clear(e.kids)
	e.kids = e.kids[:0]
}

// dropFinished removes finished sequences from running.
func (e *Engine) dropFinished() {
	keep := e.running[:0]
	for _, s := range e.running {
		if !s.finished {
			keep = append(keep, s)
		}
	}
	clear(e.running[len(keep):])
	e.running = keep
}

// commitPick appends a sampled token to its sequence and applies every
// stop rule; a finished sequence is finished here.
func (e *Engine) commitPick(p *pick, now time.Time) {
	s, id, lp := p.s, p.id, p.lp
	if p.end != "" {
		e.finish(s, p.end, p.err)
		return
	}
	s.sampler.Accept(id)
	s.tokens = append(s.tokens, id)
	s.generated++
	if s.firstToken.IsZero() {
		s.firstToken = now
		e.met.update(func(m *Metrics) { m.TTFT.observe(seconds(now.Sub(s.submitted))) })
	} else {
		gap := now.Sub(s.lastToken)
		e.met.update(func(m *Metrics) { m.InterToken.observe(seconds(gap)) })
	}
	s.lastToken = now
	e.met.update(func(m *Metrics) { m.GeneratedTokens++ })

	canStop := s.generated >= s.req.MinTokens
	if canStop && ((!s.req.IgnoreEOS && e.tok.IsEOG(id)) || s.stopToken[id]) {
		s.emit(id, lp, "")
		e.finish(s, FinishStop, nil)
		return
	}
	text := s.dec.Add(id)
	if canStop {
		var stopped bool
		if text, stopped = s.stop.add(text); stopped {
			s.emit(id, lp, text)
			e.finish(s, FinishStop, nil)
			return
		}
	}
	s.emit(id, lp, text)
	if len(s.tokens) >= s.maxLen {
		e.finish(s, FinishLength, nil)
	}
}

// finish ends s: flushes its text, releases or keeps its blocks, records
// metrics and hands the final event to deliver. Idempotent.
func (e *Engine) finish(s *sequence, reason FinishReason, err error) {
	if s.finished {
		return
	}
	s.finished = true
	e.dropAhead(s)
	if reason == FinishLength || reason == FinishAbort || reason == FinishError {
		s.pending.Text += s.dec.Flush()
	}
	// Text held back as a possible stop string's start is text after all
	// (after a stop string matched nothing is held).
	s.pending.Text += s.stop.flush()
	now := e.cfg.Now()
	s.pending.Finish, s.pending.Err = reason, err
	s.pending.Usage = &Usage{PromptTokens: s.nPrompt, CompletionTokens: s.generated, CachedTokens: s.cached,
		AcceptedPredictionTokens: s.spec.accepted, RejectedPredictionTokens: s.spec.drafted - s.spec.accepted}
	t := &Timings{Total: now.Sub(s.submitted), Preemptions: s.preemptions}
	if !s.scheduled.IsZero() {
		t.Queued = s.scheduled.Sub(s.submitted)
	}
	if !s.firstToken.IsZero() {
		t.FirstToken = s.firstToken.Sub(s.submitted)
	}
	s.pending.Timings = t
	e.releaseBlocks(s, reason)
	e.met.update(func(m *Metrics) {
		m.Requests[reason]++
		m.EndToEnd.observe(seconds(t.Total))
	})
	if s.group != nil {
		e.groupFinish(s)
		return
	}
	s.deliver()
}

// releaseBlocks frees s's K/V, or gives it to s's session when s ended well.
func (e *Engine) releaseBlocks(s *sequence, reason FinishReason) {
	defer e.freeDraft(s) // unless a session kept it
	if s.session == nil {
		if s.kv != nil {
			e.pool.Free(s.kv)
		}
		s.kv = nil
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := s.session
	ss.busy = false
	if s.kv != nil && (reason == FinishStop || reason == FinishLength) && !ss.ended {
		// Slots reserved past the computed tokens (drafts not verified
		// when a stop came) would misplace the next turn's tokens.
		_ = e.pool.Truncate(s.kv, s.computed) // cannot fail: computed <= Len
		ss.keep(s.kv, s.tokens[:s.computed])
		if s.dkv != nil && s.dkv.Computed() <= s.computed {
			_ = e.draftPool().Truncate(s.dkv, s.dkv.Computed()) // drop unverified draft slots
			ss.dkv, s.dkv = s.dkv, nil
		}
		ss.lastUse = e.nAdmit
	} else if s.kv != nil {
		e.pool.Free(s.kv)
	}
	s.kv = nil
	if ss.ended {
		ss.release(e.pool, e.draftPool())
		delete(e.sessions, ss.id)
	}
}
