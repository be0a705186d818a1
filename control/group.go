package control

import (
	"fmt"
	"slices"

	"github.com/kiln-llm/kiln/engine/sample"
)

// group is a request of several sequences: n > 1 choices, best_of, or a
// beam search. Its first sequence (the root) is prefilled alone; when the
// prompt is computed the others fork from it, sharing the prompt's K/V
// blocks copy-on-write (one prefill, whatever the width).
//
// Choices of a plain n > 1 request stream as they are generated, each under
// its own Event.Index. With best_of > n, and for beam search, the members
// hold their events: the ranking decides at the end which are returned.
type group struct {
	n, width int
	box      *outbox
	proto    *sequence  // the root as submitted, to restart a beam search
	beam     *beamState // nil for sampling
	forked   bool
	sawToken bool        // the first token was generated (TTFT observed)
	live     []*sequence // unfinished members: running or waiting
	held     []*sequence // finished members waiting for the ranking
	failure  *Event      // the first abort or error among held members
	stamp    uint64      // slotsInUse's visit mark
}

// holds reports whether members' events wait for the end (ranking).
func (g *group) holds() bool { return g.beam != nil || g.width > g.n }

// slots is how many of max_num_seqs the group reserves: its width until it
// has forked, then its unfinished members (a beam search keeps its width).
func (g *group) slots() int {
	if g.beam != nil || !g.forked {
		return g.width
	}
	return len(g.live)
}

// slotsInUse counts the running sequences' claim on max_num_seqs: one per
// plain sequence, a group's slots once however many members run.
func (e *Engine) slotsInUse() int {
	e.stamp++
	n := 0
	for _, s := range e.running {
		g := s.group
		if g == nil {
			n++
			continue
		}
		if g.stamp != e.stamp {
			g.stamp = e.stamp
			n += g.slots()
		}
	}
	return n
}

// slotsNeeded is what admitting s adds to slotsInUse (call right after it).
func (e *Engine) slotsNeeded(s *sequence) int {
	g := s.group
	switch {
	case g == nil:
		return 1
	case g.stamp == e.stamp:
		return 0 // another member runs: the group's slots are counted
	default:
		return g.slots()
	}
}

// cloneSeq forks p: a new member of p's group in p's exact state, sharing
// p's computed K/V blocks. The sampler is shared until the caller replaces
// it (beams do not sample).
func (e *Engine) cloneSeq(p *sequence) *sequence {
	c := *p
	c.tokens = slices.Grow(slices.Clone(p.tokens), 16)
	c.kv, c.computed, c.chunk, c.ahead, c.dkv = nil, 0, 0, nil, nil
	if p.kv != nil {
		c.kv, c.computed = e.pool.Fork(p.kv), p.computed
	}
	if e.drafter != nil {
		c.dkv = e.drafter.fork(p)
	}
	c.dec = p.dec.Clone()
	c.row, c.beamRow, c.hasRow = nil, nil, false
	c.pending = p.snapshot()
	if p.req.Constraint != nil {
		c.req.Constraint = p.req.Constraint.Clone()
	}
	e.nAdmit++
	c.admitted = e.nAdmit
	return &c
}

// snapshot is a deep copy of s's pending event.
func (s *sequence) snapshot() Event {
	ev := s.pending
	ev.Tokens = slices.Clone(ev.Tokens)
	ev.Logprobs = slices.Clone(ev.Logprobs)
	return ev
}

// forkChoices makes the other width-1 members of root's sampling group,
// right before root samples its first token; member j samples with the
// request's seed + j.
func (e *Engine) forkChoices(root *sequence) []*sequence {
	g := root.group
	g.forked = true
	kids := make([]*sequence, 0, g.width-1)
	for j := 1; j < g.width; j++ {
		c := e.cloneSeq(root)
		c.index = j
		sp := root.req.Sample
		sp.Seed += uint64(j)
		sm, err := sample.New(sp, e.exec.VocabSize())
		if err != nil { // cannot happen: Submit built root's sampler from the same params
			c.sampler = root.sampler
		} else {
			for _, id := range c.tokens {
				sm.AcceptPrompt(id)
			}
			c.sampler = sm
		}
		g.live = append(g.live, c)
		e.running = append(e.running, c)
		kids = append(kids, c)
	}
	return kids
}

// retire ends a member without an event of its own (a pruned beam, the
// beams left when a search ends): its blocks are freed and it leaves the
// running and waiting lists at the next sweep.
func (e *Engine) retire(s *sequence) {
	if s.finished {
		return
	}
	s.finished = true
	if s.kv != nil {
		e.pool.Free(s.kv)
		s.kv = nil
	}
	e.freeDraft(s)
}

// groupFinish routes a member's final event (already in s.pending) to the
// group: straight to its choice for plain n > 1, into the ranking for
// best_of, and for a beam search (only aborts and errors end members that
// way) to every choice.
func (e *Engine) groupFinish(s *sequence) {
	g := s.group
	g.live = slices.DeleteFunc(g.live, func(x *sequence) bool { return x == s })
	final := s.pending
	switch {
	case g.beam != nil:
		e.failGroup(g, final)
	case !g.holds():
		g.box.put(s.index, s.pending)
		s.pending = Event{}
		if !g.forked {
			// The root ended (abort, error) before forking: so does every choice.
			for j := 1; j < g.n; j++ {
				g.box.put(j, failedChoice(final, s.nPrompt))
			}
		}
		g.box.flush()
	default:
		if (final.Finish == FinishAbort || final.Finish == FinishError) && g.failure == nil {
			g.failure = &final
		}
		g.held = append(g.held, s)
		if len(g.live) == 0 {
			e.rankHeld(g)
		}
	}
}

// failedChoice is the final event of a choice that could not be generated.
func failedChoice(final Event, nPrompt int) Event {
	return Event{Finish: final.Finish, Err: final.Err, Usage: &Usage{PromptTokens: nPrompt}, Timings: final.Timings}
}

// failGroup ends every choice of g with final's abort or error and retires
// its other members.
func (e *Engine) failGroup(g *group, final Event) {
	for _, m := range g.live {
		e.retire(m)
	}
	g.live = nil
	for i := range g.n {
		g.box.put(i, failedChoice(final, g.proto.nPrompt))
	}
	g.box.flush()
}

// rankHeld returns the n members with the highest cumulative logprob, best
// first (vLLM's best_of); choice 0 counts the discarded members' tokens.
func (e *Engine) rankHeld(g *group) {
	if g.failure != nil {
		for i := range g.n {
			g.box.put(i, failedChoice(*g.failure, g.proto.nPrompt))
		}
		g.box.flush()
		return
	}
	slices.SortStableFunc(g.held, func(a, b *sequence) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return a.index - b.index
	})
	discarded := 0
	for _, s := range g.held[g.n:] {
		discarded += s.generated
	}
	for i, s := range g.held[:g.n] {
		ev := s.pending
		if i == 0 && ev.Usage != nil {
			u := *ev.Usage
			u.DiscardedTokens = discarded
			ev.Usage = &u
		}
		g.box.put(i, ev)
	}
	g.held = nil
	g.box.flush()
}

// finishChoice puts a beam search's choice i with its usage and timings.
func (e *Engine) finishChoice(g *group, i int, ev Event) {
	p := g.proto
	now := e.cfg.Now()
	ev.Usage = &Usage{PromptTokens: p.nPrompt, CompletionTokens: len(ev.Tokens), CachedTokens: p.cached}
	t := &Timings{Total: now.Sub(p.submitted), Preemptions: p.preemptions}
	if !p.scheduled.IsZero() {
		t.Queued = p.scheduled.Sub(p.submitted)
	}
	ev.Timings = t
	g.box.put(i, ev)
	e.met.update(func(m *Metrics) {
		m.Requests[ev.Finish]++
		m.EndToEnd.observe(seconds(t.Total))
	})
}

// restartBeam preempts a whole beam search: every member's blocks are
// freed and the search starts over from its prompt, at the front of the
// queue. Beam search is deterministic and nothing was delivered yet, so the
// result is the same; forks are rebuilt from one prefill, which keeps the
// search within the blocks it needed the first time.
func (e *Engine) restartBeam(g *group) {
	for _, s := range g.live {
		e.retire(s)
	}
	e.running = slices.DeleteFunc(e.running, func(s *sequence) bool { return s.finished })
	e.dropFinishedWaiting()
	g.proto.preemptions++
	root := e.cloneSeq(g.proto)
	g.live = []*sequence{root}
	g.beam = &beamState{params: g.beam.params}
	e.enqueue(root)
	e.nWaiting.Add(1)
	e.met.update(func(m *Metrics) { m.Preemptions++ })
}

// dropFinishedWaiting removes retired members from the waiting queue.
func (e *Engine) dropFinishedWaiting() {
	n := len(e.waiting)
	e.waiting = slices.DeleteFunc(e.waiting, func(s *sequence) bool { return s.finished })
	e.nWaiting.Add(int64(len(e.waiting) - n))
}

// groupAlone reports whether only g's members run: preempting them would
// free nothing another sequence could use.
func (e *Engine) groupAlone(g *group) bool {
	for _, s := range e.running {
		if s.group != g {
			return false
		}
	}
	return true
}

// errBeamTooWide is the error of a beam search the K/V cache cannot hold
// even alone.
func errBeamTooWide(width int) error {
	return fmt.Errorf("control: the K/V cache cannot hold a beam search of width %d over this prompt; lower best_of/n or max_tokens", width)
}
