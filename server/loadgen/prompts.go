package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Streams of the seeded generator: each use of randomness draws from its own
// PCG stream, so that changing the load shape (the arrivals) leaves the
// prompts of a given --seed unchanged, and vice versa.
const (
	streamPrefix   = 1
	streamPrompts  = 2
	streamArrivals = 3
)

// words are short, common English words. Byte-level BPE vocabularies
// (Llama 3, Qwen2, SmolLM2, GPT-2) and SentencePiece llama vocabularies hold
// each of them, with its leading space, as a single token, so a prompt of n
// words is about n tokens (plus a BOS and, for chat, the template's tokens).
// The approximation only sizes the prompts: the report uses the
// prompt_tokens the server counts.
var words = strings.Fields(`
the of and to in is was for on that with as by at from it his an be are
this which or had not but have were her they one all their has been who
she there more when would will some out up into can time than its only
other new then also two over first after most may such these them city
made well later many where any each work used part world year should both
found between under while three still being during those same could four
best name since through school small team long great high water state life
back large group people game family right good house place might early
five last home old own book day story take know make light line night man
woman child hand head eye face door room road tree river stone green blue
red black white sound music word letter
`)

// TokenRange is a half-open range [Lo, Hi) of token ids. When set
// (--prompt-token-ids), prompts are arrays of ids drawn uniformly from it
// instead of words: every server that takes token-id prompts on
// /v1/completions (kiln, vLLM, llama-server) then evaluates exactly
// InputLen tokens, the same ids, whatever its tokenizer does with text,
// which is what a side-by-side comparison needs.
type TokenRange struct{ Lo, Hi int }

// Set reports whether r is a range to draw from (Hi > Lo).
func (r TokenRange) Set() bool { return r.Hi > r.Lo }

func (r TokenRange) String() string { return fmt.Sprintf("%d:%d", r.Lo, r.Hi) }

// ParseTokenRange parses --prompt-token-ids LO:HI, 0 <= LO < HI.
func ParseTokenRange(s string) (TokenRange, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), ":")
	a, errA := strconv.Atoi(lo)
	b, errB := strconv.Atoi(hi)
	if !ok || errA != nil || errB != nil || a < 0 || b <= a || b > 1<<31-1 {
		return TokenRange{}, fmt.Errorf("--prompt-token-ids %q: want LO:HI, token ids with 0 <= LO < HI", s)
	}
	return TokenRange{Lo: a, Hi: b}, nil
}

// Prompt is one request's synthetic input.
type Prompt struct {
	Text string
	// IDs, when not nil, is the prompt as token ids (Options.PromptIDs);
	// Text is then empty.
	IDs []int32
	// Words is the prompt's length in words (its approximate token count)
	// or in ids, used only when the server reports no usage.
	Words int
	// MaxTokens is the request's max_tokens (and min_tokens with
	// FixedOutput).
	MaxTokens int
}

// Prompts returns the NumRequests prompts of o, a pure function of its
// seed and lengths: SharedPrefixLen words (or token ids) common to all,
// then each prompt's own, InputLen of them give or take InputLenRange.
func Prompts(o Options) []Prompt {
	if o.PromptIDs.Set() {
		return idPrompts(o)
	}
	prefix := randomWords(rand.New(rand.NewPCG(o.Seed, streamPrefix)), o.SharedPrefixLen)
	rng := rand.New(rand.NewPCG(o.Seed, streamPrompts))
	ps := make([]Prompt, o.NumRequests)
	for i := range ps {
		in := sampleLen(rng, o.InputLen, o.InputLenRange)
		out := sampleLen(rng, o.OutputLen, o.OutputLenRange)
		own := randomWords(rng, in)
		text := own
		if prefix != "" {
			text = prefix + " " + own
		}
		ps[i] = Prompt{Text: text, Words: o.SharedPrefixLen + in, MaxTokens: out}
	}
	return ps
}

// idPrompts is Prompts for token-id prompts: the same lengths as word
// prompts of the seed, ids uniform in o.PromptIDs.
func idPrompts(o Options) []Prompt {
	prefix := randomIDs(rand.New(rand.NewPCG(o.Seed, streamPrefix)), o.SharedPrefixLen, o.PromptIDs)
	rng := rand.New(rand.NewPCG(o.Seed, streamPrompts))
	ps := make([]Prompt, o.NumRequests)
	for i := range ps {
		in := sampleLen(rng, o.InputLen, o.InputLenRange)
		out := sampleLen(rng, o.OutputLen, o.OutputLenRange)
		ids := append(append(make([]int32, 0, len(prefix)+in), prefix...), randomIDs(rng, in, o.PromptIDs)...)
		ps[i] = Prompt{IDs: ids, Words: len(ids), MaxTokens: out}
	}
	return ps
}

// randomIDs draws n token ids uniformly from r.
func randomIDs(rng *rand.Rand, n int, r TokenRange) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.Lo + rng.IntN(r.Hi-r.Lo))
	}
	return ids
}

// sampleLen draws a length uniformly from the integers in
// [n·(1-r), n·(1+r)], as vLLM's random dataset does with its range ratio,
// and never below 1.
func sampleLen(rng *rand.Rand, n int, r float64) int {
	lo, hi := int(float64(n)*(1-r)), int(float64(n)*(1+r))
	lo = max(lo, 1)
	hi = max(hi, lo)
	return lo + rng.IntN(hi-lo+1)
}

// randomWords joins n words drawn from the list.
func randomWords(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}
