package control

import (
	"fmt"
	"slices"
	"time"
)

// SpeculativeConfig turns on speculative decoding, by prompt lookup
// (vLLM's "ngram" method, no draft model: a decoding sequence whose last
// NgramMax..NgramMin tokens occurred earlier in its tokens proposes the up
// to Tokens tokens that followed them there) or by a draft model (method
// "draft": Draft proposes Tokens tokens by greedy argmax; see draft.go).
// The drafts ride in the step as extra rows of the sequence (prefill-like:
// one forward verifies them all), and the longest prefix the model itself
// would have produced is kept.
//
// Sampling is unchanged: every row is sampled as a plain decode would
// sample it (the same logits — the kernels are batch-invariant and decode
// ≡ prefill — the same processors, the same per-request RNG consumed once
// per generated position), and draft j is accepted iff the token sampled
// at its position equals it. So outputs, greedy or seeded, are the ones a
// run without speculation produces, token for token; the target
// distribution is kept exactly because the drafter is deterministic.
type SpeculativeConfig struct {
	// Method is "" (off), "ngram" or "draft".
	Method string
	// Tokens is the most draft tokens per sequence and step (K).
	Tokens int
	// NgramMin and NgramMax bound the length of the suffix looked up.
	NgramMin, NgramMax int
	// Draft is the draft model's executor (method "draft"), with its own
	// K/V cache; its vocabulary must be the target's (the composition root
	// compares the tokenizers).
	Draft Executor
}

func (c SpeculativeConfig) validate() error {
	switch c.Method {
	case "":
		if c.Tokens != 0 {
			return fmt.Errorf("control: num_speculative_tokens %d without a speculative method", c.Tokens)
		}
		return nil
	case "ngram":
		if c.Draft != nil {
			return fmt.Errorf("control: a draft model with speculative method ngram: want method draft")
		}
	case "draft":
		if c.Draft == nil {
			return fmt.Errorf("control: speculative method draft without a draft model")
		}
		if c.Tokens < 1 || c.Tokens > 16 {
			return fmt.Errorf("control: num_speculative_tokens %d: want 1..16", c.Tokens)
		}
		return nil
	default:
		return fmt.Errorf("control: speculative method %q: want ngram or draft", c.Method)
	}
	switch {
	case c.Tokens < 1 || c.Tokens > 16:
		return fmt.Errorf("control: num_speculative_tokens %d: want 1..16", c.Tokens)
	case c.NgramMin < 1:
		return fmt.Errorf("control: ngram_min %d: want >= 1", c.NgramMin)
	case c.NgramMax < c.NgramMin || c.NgramMax > 16:
		return fmt.Errorf("control: ngram_max %d: want ngram_min (%d)..16", c.NgramMax, c.NgramMin)
	}
	return nil
}

// specState adapts a sequence's drafting to how well it goes. A rejected
// draft costs its rows (on a CPU a step of 5 rows of a small model costs
// about 2.5 decode steps, measured on SmolLM2-135M), so drafts grow only
// while they are accepted (the length doubles after a fully accepted
// draft, up to Tokens) and fall to one token after a miss, and a miss
// pauses drafting (4 steps, doubling to specMaxPause while misses go on).
// Text the drafter never predicts then costs a few one-token probes per
// hundred steps. A draft model, which agrees most of the time where it
// agrees at all, pauses only from the second miss in a row: its one-token
// probe after a miss is cheap, and a pause after each chance miss would
// forgo most of its gain.
type specState struct {
	drafted, accepted int  // totals, for the usage
	k                 int  // the next draft's length (0: not yet set)
	pause             int  // steps left without drafting
	backoff           int  // the next pause
	misses            int  // drafts in a row with none accepted
	draftFull         bool // the draft model's context cannot hold another draft
	catchUp           bool // this step: feed the draft model what it lacks, without drafting
}

const specMaxPause = 256 // steps

// verification is a speculative sequence's rows in this step's logits.
type verification struct {
	s    *sequence
	rows []float32 // 1+len(s.draft) rows
}

// canSpeculate reports whether s's drafts can be verified: not under a
// constraint (a draft token the grammar forbids would need the grammar
// rolled back), not in a beam search, and not before a sampling group has
// forked.
func (s *sequence) canSpeculate() bool {
	if s.req.Constraint != nil {
		return false
	}
	g := s.group
	return g == nil || (g.beam == nil && g.forked)
}

// speculate gives each decoding sequence its drafts, reserving their K/V
// slots; it returns the budget left for prefill.
func (e *Engine) speculate(budget int) int {
	k := e.cfg.Speculative.Tokens
	if k == 0 {
		return budget
	}
	d := e.drafter
	if d != nil {
		d.begin()
	}
	for _, s := range e.running {
		if s.chunk != 1 || s.remaining() != 1 || !s.canSpeculate() || budget <= minPrefillChunk {
			continue
		}
		if s.spec.pause > 0 {
			s.spec.pause--
			continue
		}
		if s.spec.k == 0 {
			s.spec.k = k
		}
		n := min(s.spec.k, budget-minPrefillChunk, s.maxLen-len(s.tokens)-1)
		if n <= 0 {
			continue
		}
		var draft []int32
		if d != nil {
			// Placeholders: runDrafts fills them once prefill is scheduled.
			draft = append(s.draft[:0], make([]int32, d.reserve(s, n))...)
		} else {
			draft = proposeNgram(s.tokens, e.cfg.Speculative.NgramMin, e.cfg.Speculative.NgramMax, n, s.draft[:0])
		}
		if len(draft) == 0 {
			continue
		}
		cp, err := e.pool.AppendSlots(s.kv, len(draft))
		if err != nil {
			continue // no room for drafts: a plain decode
		}
		e.copies = append(e.copies, cp...)
		s.draft = draft
		budget -= len(draft)
		e.shape.tokens += len(draft)
		e.shape.keys += len(draft)*len(s.tokens) + len(draft)*(len(draft)+1)/2
	}
	return budget
}

// proposeNgram appends to dst the k tokens that followed the latest
// earlier occurrence of tokens' last n tokens, trying n from nmax down to
// nmin; nothing when no suffix recurs. When the occurrence is so recent
// that what followed it runs into the end of tokens (a loop of period p =
// l-n-i), the draft goes on with the loop: draft[j] is token i+n+j of
// tokens followed by the draft itself, so a text repeating one token
// drafts k of it, not one.
func proposeNgram(tokens []int32, nmin, nmax, k int, dst []int32) []int32 {
	l := len(tokens)
	for n := min(nmax, l-1); n >= nmin; n-- {
		suffix := tokens[l-n:]
		for i := l - n - 1; i >= 0; i-- {
			if tokens[i] == suffix[0] && slices.Equal(tokens[i:i+n], suffix) {
				start := len(dst)
				for j := range k {
					if p := i + n + j; p < l {
						dst = append(dst, tokens[p])
					} else {
						dst = append(dst, dst[start+p-l])
					}
				}
				return dst
			}
		}
	}
	return dst
}

// verify samples s's rows in order, as plain decodes would, accepting each
// draft token the model's own choice equals; the K/V of the rejected
// positions is dropped.
func (e *Engine) verify(v verification, now time.Time) {
	s, vocab := v.s, e.exec.VocabSize()
	d := s.draft
	accepted := 0
	s.spec.drafted += len(d) // before any finish, which reads these for the usage
	for j := 0; j <= len(d); j++ {
		p := pick{s: s, row: v.rows[j*vocab : (j+1)*vocab]}
		p.run()
		e.commitPick(&p, now)
		if s.finished || j == len(d) || p.id != d[j] {
			break
		}
		if err := e.pool.Commit(s.kv, d[j:j+1]); err != nil {
			e.finish(s, FinishError, fmt.Errorf("control: %w", err))
			break
		}
		s.computed++
		s.spec.accepted++
		accepted++
	}
	if !s.finished {
		// Keep a slot for the token just sampled when one was reserved.
		if err := e.pool.Truncate(s.kv, min(len(s.tokens), s.kv.Len())); err != nil {
			e.finish(s, FinishError, fmt.Errorf("control: %w", err))
		} else if e.drafter != nil {
			e.drafter.settle(s, accepted)
		}
	}
	switch {
	case accepted == len(d):
		s.spec.k, s.spec.backoff, s.spec.misses = min(2*s.spec.k, e.cfg.Speculative.Tokens), 0, 0
	case accepted > 0:
		s.spec.backoff, s.spec.misses = 0, 0
	default:
		s.spec.k = 1
		s.spec.misses++
		if e.drafter == nil || s.spec.misses > 1 {
			s.spec.backoff = min(max(2*s.spec.backoff, 4), specMaxPause)
			s.spec.pause = s.spec.backoff
		}
	}
	nd, na, method := uint64(len(d)), uint64(accepted), e.cfg.Speculative.Method
	e.met.update(func(m *Metrics) {
		m.DraftTokens += nd
		m.AcceptedTokens += na
		c := m.Spec[method]
		c.Drafts += nd
		c.Accepted += na
		m.Spec[method] = c
	})
	s.draft = s.draft[:0]
}
