package loadgen

import (
	"math/rand/v2"
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

// Prompt is one request's synthetic input.
type Prompt struct {
	Text string
	// Words is the prompt's length in words: its approximate token count,
	// used only when the server reports no usage.
	Words int
	// MaxTokens is the request's max_tokens (and min_tokens with
	// FixedOutput).
	MaxTokens int
}

// Prompts returns the NumRequests prompts of o, a pure function of its
// seed and lengths: SharedPrefixLen words common to all, then each prompt's
// own words, InputLen of them give or take InputLenRange.
func Prompts(o Options) []Prompt {
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
