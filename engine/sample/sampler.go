// Package sample turns a row of logits into the next token for one request,
// following llama.cpp's default sampler chain:
//
//	logit bias -> penalties -> top-k -> typical-p -> top-p -> min-p
//	-> temperature -> softmax -> draw
//
// with temperature <= 0 meaning greedy (argmax after bias and penalties,
// lowest id on ties). Each request owns a Sampler: its penalty history, its
// seeded RNG (xoshiro256**, see rng.go) and reusable buffers, so Sample
// allocates nothing per token. Logprobs reports OpenAI's log-probabilities
// of the raw logits. NaN logits are never chosen; +Inf logits share the mass.
package sample

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
)

// ErrNoCandidates is returned by Sample when every logit is -Inf or NaN
// after logit bias and penalties, so no token can be drawn.
var ErrNoCandidates = errors.New("sample: no candidate token (every logit is -Inf or NaN)")

// ErrLogitsSize is returned by Sample when the logits row does not match
// the vocabulary size the Sampler was built for.
var ErrLogitsSize = errors.New("sample: logits length does not match the vocabulary size")

// biasEntry is one logit_bias entry, kept in a slice sorted by id so
// applying it needs no map iteration.
type biasEntry struct {
	id   int32
	bias float32
}

// Sampler draws tokens for one request. It is not safe for concurrent use;
// the scheduler calls it from one goroutine per step. It holds one
// vocabulary-sized float32 row, plus a candidate buffer sized on first use:
// top_k entries when 0 < top_k <= 1024, the vocabulary (16 bytes a token)
// when a sampled request has no small top-k, nothing for greedy requests.
type Sampler struct {
	params Params
	vocab  int
	bias   []biasEntry
	hist   history
	rng    rng
	work   []float32   // [vocab] logits after bias and penalties
	cand   []candidate // storage behind filter.cand, grown once on first use
	f      filter
}

// New validates p and returns a Sampler for a vocabulary of vocabSize
// tokens, its RNG seeded with p.Seed. Its buffers are allocated here, once.
func New(p Params, vocabSize int) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if vocabSize <= 0 {
		return nil, fmt.Errorf("sample: vocabulary size must be > 0, got %d", vocabSize)
	}
	s := &Sampler{
		params: p,
		vocab:  vocabSize,
		hist:   newHistory(p.PenaltyLastN),
		rng:    newRNG(p.Seed),
		work:   make([]float32, vocabSize),
	}
	s.params.LogitBias = maps.Clone(p.LogitBias) // not aliased to the caller's map
	for id, b := range p.LogitBias {
		if int(id) >= vocabSize {
			return nil, fmt.Errorf("logit_bias token id %d out of range [0, %d)", id, vocabSize)
		}
		s.bias = append(s.bias, biasEntry{id, b})
	}
	slices.SortFunc(s.bias, func(a, b biasEntry) int { return int(a.id) - int(b.id) })
	return s, nil
}

// Params returns the parameters the Sampler was built with.
func (s *Sampler) Params() Params { return s.params }

// Accept records a generated token in the penalty window, where all three
// penalties see it. Feeding prompt tokens through Accept too gives
// llama.cpp's semantics (one window over the context for every penalty);
// see AcceptPrompt for vLLM's. Ids outside the vocabulary are ignored.
func (s *Sampler) Accept(token int32) {
	if token < 0 || int(token) >= s.vocab || !s.params.penaltiesOn() {
		return
	}
	s.hist.accept(token, false)
}

// AcceptPrompt records a prompt token in the penalty window for the
// repetition penalty only, so presence and frequency penalties count
// generated tokens alone, as OpenAI and vLLM define them, while the
// repetition penalty still covers the prompt. Prompt tokens occupy window
// slots like any other. Ids outside the vocabulary are ignored.
func (s *Sampler) AcceptPrompt(token int32) {
	if token < 0 || int(token) >= s.vocab || !s.params.penaltiesOn() {
		return
	}
	s.hist.accept(token, true)
}

// Reset forgets the penalty window (for a sequence recomputed from
// scratch); the RNG stream continues.
func (s *Sampler) Reset() { s.hist.reset() }

// Sample picks the next token from logits (one row, len == vocabulary
// size), which it does not modify. It returns ErrNoCandidates, never
// panics, when no token is possible.
func (s *Sampler) Sample(logits []float32) (int32, error) {
	if len(logits) != s.vocab {
		return -1, fmt.Errorf("%w: got %d, want %d", ErrLogitsSize, len(logits), s.vocab)
	}
	s.adjust(logits)
	if s.params.Temperature <= 0 {
		return s.argmax()
	}
	if err := s.filter(); err != nil {
		return -1, err
	}
	return s.draw(), nil
}

// adjust copies logits into work and applies logit bias, then penalties.
func (s *Sampler) adjust(logits []float32) {
	copy(s.work, logits)
	for _, b := range s.bias {
		s.work[b.id] += b.bias
	}
	if p := s.params; p.penaltiesOn() {
		s.hist.apply(s.work, p.RepetitionPenalty, p.FrequencyPenalty, p.PresencePenalty)
	}
}

// argmax returns the id of the largest adjusted logit, the lowest id on
// ties; NaN and -Inf are never chosen.
func (s *Sampler) argmax() (int32, error) {
	best := -1
	bestL := float32(math.Inf(-1))
	for i, l := range s.work {
		if l > bestL { // false for NaN and for -Inf against the initial -Inf
			best, bestL = i, l
		}
	}
	if best < 0 {
		return -1, ErrNoCandidates
	}
	return int32(best), nil
}

// heapTopKMax is the largest top-k selected with a heap straight from the
// logits; above it, gathering every candidate and introselecting is cheaper.
const heapTopKMax = 1024

// filter gathers the finite candidates (NaN and -Inf dropped, +Inf clamped
// to the largest float32 so the softmax stays defined) and runs top-k,
// typical-p, top-p and min-p over them, in llama.cpp's order.
func (s *Sampler) filter() error {
	p := s.params
	s.f = filter{minKeep: max(p.MinKeep, 1)}
	if p.TopK > 0 && p.TopK <= heapTopKMax && p.TopK < s.vocab {
		s.grow(p.TopK)
		s.f.cand = gatherTopK(s.cand[:0], s.work, p.TopK)
		s.f.sorted = len(s.f.cand)
	} else {
		s.grow(s.vocab)
		s.f.cand = gatherAll(s.cand[:0], s.work)
		s.f.topK(p.TopK)
	}
	if len(s.f.cand) == 0 {
		return ErrNoCandidates
	}
	s.f.typical(p.TypicalP)
	s.f.topP(p.TopP)
	s.f.minP(p.MinP)
	return nil
}

// grow makes the candidate buffer hold at least n entries.
func (s *Sampler) grow(n int) {
	if cap(s.cand) < n {
		s.cand = make([]candidate, 0, n)
	}
}

// sanitize maps a logit to its candidate value: ok is false for NaN and
// -Inf (never drawn), and +Inf becomes the largest float32.
func sanitize(l float32) (v float32, ok bool) {
	if !(l > float32(math.Inf(-1))) {
		return 0, false
	}
	return min(l, math.MaxFloat32), true
}

// gatherAll appends every drawable logit of work to c as a candidate.
func gatherAll(c []candidate, work []float32) []candidate {
	for i, l := range work {
		if v, ok := sanitize(l); ok {
			c = append(c, candidate{id: int32(i), logit: v})
		}
	}
	return c
}

// gatherTopK appends the k best drawable logits of work to c, sorted
// best-first: one pass keeping a k-entry heap whose root is the worst kept
// candidate, so most logits cost a single comparison and nothing is written
// for them.
func gatherTopK(c []candidate, work []float32, k int) []candidate {
	for i, l := range work {
		v, ok := sanitize(l)
		if !ok {
			continue
		}
		x := candidate{id: int32(i), logit: v}
		if len(c) < k {
			c = append(c, x)
			candSiftUp(c, len(c)-1)
		} else if v > c[0].logit { // later ids lose ties, so > suffices
			c[0] = x
			candSiftDown(c, 0)
		}
	}
	slices.SortFunc(c, compareCand)
	return c
}

// candSiftUp restores the worst-at-root heap property above index i.
func candSiftUp(h []candidate, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !better(h[parent], h[i]) {
			return
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

// candSiftDown restores the worst-at-root heap property below index i.
func candSiftDown(h []candidate, i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// draw applies the temperature, turns the surviving candidates' logits
// into weights exp((l - max)/T) in float64, and picks one with probability
// proportional to its weight using one uniform draw from the RNG. Scaling
// the difference from the max (rather than dividing the logits first) keeps
// clamped +Inf logits and tiny temperatures finite.
func (s *Sampler) draw() int32 {
	c := s.f.cand
	maxL := float64(s.f.maxLogit())
	invT := 1 / float64(s.params.Temperature)
	var total float64
	for i := range c {
		w := float32(1) // the max itself, even when invT overflowed to +Inf
		if d := float64(c[i].logit) - maxL; d != 0 {
			w = float32(math.Exp(d * invT))
		}
		c[i].p = w
		total += float64(w)
	}
	u := s.rng.float64() * total
	var acc float64
	last := c[0].id
	for _, x := range c {
		if x.p <= 0 {
			continue
		}
		acc += float64(x.p)
		last = x.id
		if u < acc {
			return x.id
		}
	}
	return last
}
