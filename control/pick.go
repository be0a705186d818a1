package control

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/kiln-llm/kiln/engine/sample"
)

// pick is one sequence's sampling in a step: the per-sequence work (bans
// and the constraint's mask, the sampler, the constraint's advance,
// logprobs), which touches nothing shared, so the picks of a step run in
// parallel; commitPick then applies the result in step order. Sampling a
// 128k-token row at temperature 1 costs about 2 ms (an exp per token), so
// with many streams it is worth the cores the kernels leave idle between
// forwards. The outcome is the same as sampling one by one.
type pick struct {
	s   *sequence
	row []float32
	id  int32
	lp  *TokenLogprob
	end FinishReason // set when sampling itself ends the sequence
	err error
}

// run samples p.s's next token from p.row.
func (p *pick) run() {
	s := p.s
	masked := s.logitsFor(p.row)
	if s.req.Constraint != nil && allMasked(masked) {
		// The constraint is complete and only an end token could follow,
		// but min_tokens bans those: end here rather than emit junk.
		p.end = FinishStop
		return
	}
	id, err := s.sampler.Sample(masked)
	if err != nil {
		p.end, p.err = FinishError, fmt.Errorf("control: sampling: %w", err)
		return
	}
	if s.req.Constraint != nil {
		if err := s.req.Constraint.Accept(id); err != nil {
			p.end, p.err = FinishError, fmt.Errorf("control: constrained decoding: %w", err)
			return
		}
	}
	p.id = id
	p.lp = s.tokenLogprob(id, p.row)
	if g := s.group; g != nil && g.holds() {
		l := float32(0)
		if p.lp != nil {
			l = p.lp.Logprob
		} else {
			l, _ = sample.Logprobs(p.row, id, 0)
		}
		s.score += float64(l)
	}
}

// runPicks runs picks, in parallel across the available cores when there
// are several.
func runPicks(picks []pick) {
	workers := min(len(picks), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range picks {
			picks[i].run()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(picks) {
					return
				}
				picks[i].run()
			}
		})
	}
	wg.Wait()
}
