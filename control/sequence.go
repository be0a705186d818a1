package control

import (
	"context"
	"math"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// eventBuffer is each request's channel capacity; a consumer further behind
// gets merged events instead of stalling the step loop.
const eventBuffer = 8

// sequence is one sequence inside the engine: a request, or one member of
// a request's group (n > 1, best_of, beams). Owned by the step loop.
type sequence struct {
	req   Request
	ctx   context.Context
	box   *outbox // the request's channel
	index int     // the choice this sequence's events are for
	group *group  // nil for a single-sequence request

	tokens   []int32 // prompt, then generated
	nPrompt  int
	maxLen   int // len(tokens) at which generation stops for length
	kv       *kvcache.Seq
	dkv      *kvcache.Seq // the draft model's K/V (speculative method draft), or nil
	computed int          // leading tokens whose K/V is in the cache
	chunk    int          // tokens scheduled in the current step
	held     bool         // its prompt's last token waits for its cohort (cohort.go)
	cached   int          // prompt tokens reused from the cache (or the spill) at first admission
	ahead    *readAhead   // spilled prompt blocks read before admission (nil: none)
	admitted uint64       // admission order; the youngest is preempted first
	arrival  uint64       // submission order; the waiting queue's tie-break
	session  *session
	draft    []int32   // speculative tokens verified this step, after the chunk
	spec     specState // speculation's per-sequence bookkeeping

	sampler   *sample.Sampler
	dec       *tokenizer.StreamDecoder
	stop      stopMatcher
	stopToken map[int32]bool
	suppress  []int32   // EOG and stop ids, banned until MinTokens
	row       []float32 // scratch copy of a logits row when suppressing

	pending     Event   // built this step or not yet delivered
	score       float64 // cumulative logprob of the generated tokens (groups)
	beamRow     []float32
	hasRow      bool // beamRow holds this step's logits (beam search)
	generated   int
	preemptions int
	submitted   time.Time
	scheduled   time.Time // first scheduled (zero before)
	firstToken  time.Time
	lastToken   time.Time
	finished    bool
}

// remaining is the tokens still to evaluate before the next sample.
func (s *sequence) remaining() int { return len(s.tokens) - s.computed }

// wantsOutput says whether this step's chunk reaches the last token, so its
// logits row must be sampled.
func (s *sequence) wantsOutput() bool { return s.computed+s.chunk == len(s.tokens) }

// logitsFor returns the row to sample from: row itself, or a copy with
// EOG and stop tokens banned while fewer than MinTokens were generated and
// the constraint's mask applied. row itself stays intact for logprobs.
func (s *sequence) logitsFor(row []float32) []float32 {
	suppress := s.generated < s.req.MinTokens && len(s.suppress) > 0
	if !suppress && s.req.Constraint == nil {
		return row
	}
	s.row = append(s.row[:0], row...)
	if suppress {
		for _, id := range s.suppress {
			s.row[id] = float32(math.Inf(-1))
		}
	}
	if s.req.Constraint != nil {
		s.req.Constraint.Mask(s.row)
	}
	return s.row
}

// emit adds a generated token (with its logprob) to the pending event.
func (s *sequence) emit(id int32, lp *TokenLogprob, text string) {
	s.pending.Tokens = append(s.pending.Tokens, id)
	if lp != nil {
		s.pending.Logprobs = append(s.pending.Logprobs, *lp)
	}
	s.pending.Text += text
}

// deliver hands the pending event to the request's outbox (members of a
// group that ranks its outputs keep theirs until the end).
func (s *sequence) deliver() {
	if s.group != nil && s.group.holds() {
		return
	}
	s.box.put(s.index, s.pending)
	s.pending = Event{}
	s.box.flush()
}
