package control

import (
	"time"

	"github.com/kiln-llm/kiln/engine/sample"
)

// Request is one generation: a tokenized prompt and how to continue it.
type Request struct {
	ID     string  // for logs and metrics; optional
	Prompt []int32 // prompt token ids, BOS included when the model wants one
	Sample sample.Params
	// MaxTokens caps the generated tokens; 0 means until the context is full.
	MaxTokens int
	// MinTokens suppresses end-of-generation tokens, StopTokens and
	// StopStrings until this many tokens have been generated.
	MinTokens int
	// StopStrings end generation when the text contains one; the stop text
	// itself is not emitted. Matched across token boundaries.
	StopStrings []string
	// StopTokens end generation like the vocabulary's EOG tokens; the stop
	// token's text is not emitted.
	StopTokens []int32
	// RenderTokens are control tokens whose text Event.Text includes (all
	// others are left out): the markers of a tool-call format, such as
	// <|python_tag|> or [TOOL_CALLS], which its parser must see.
	RenderTokens []int32
	// IgnoreEOS keeps generating past the vocabulary's EOG tokens.
	IgnoreEOS bool
	// Logprobs asks for each generated token's logprob; TopLogprobs for that
	// many alternatives per token as well.
	Logprobs    bool
	TopLogprobs int
	// N is the number of choices (0 means 1). The prompt is prefilled once
	// and the choices fork its K/V copy-on-write; choice j samples with
	// Sample.Seed+j, so a seeded request stays reproducible.
	N int
	// BestOf sequences are generated (0 means N) and the N with the highest
	// cumulative logprob are returned, best first; their events arrive only
	// when all have finished. With Beam it is the beam width.
	BestOf int
	// Beam, when set, replaces sampling with beam search (see BeamSearch).
	Beam *BeamSearch
	// Constraint, when set, limits the tokens sampled (constrained
	// decoding); the engine owns it once submitted.
	Constraint Constraint
	// SessionID keeps this sequence's K/V after it finishes, so that a
	// follow-up request of the same session whose prompt extends this one's
	// tokens prefills only the new tokens.
	SessionID string
	// Priority orders admission and prefill (vLLM's priority scheduling):
	// a lower value goes first; ties go in arrival order. Default 0.
	Priority int
}

// choices is the number of choices returned.
func (r *Request) choices() int { return max(r.N, 1) }

// width is the number of sequences generated at once: best_of, the beam
// width.
func (r *Request) width() int { return max(r.BestOf, r.choices()) }

// maxTopLogprobs bounds TopLogprobs (OpenAI allows 20).
const maxTopLogprobs = 20

func (r *Request) validate(vocab int) error {
	switch {
	case len(r.Prompt) == 0:
		return badParam("prompt", "no tokens")
	case r.MaxTokens < 0:
		return badParam("max_tokens", "%d, want >= 0", r.MaxTokens)
	case r.MinTokens < 0:
		return badParam("min_tokens", "%d, want >= 0", r.MinTokens)
	case r.MaxTokens > 0 && r.MinTokens > r.MaxTokens:
		return badParam("min_tokens", "%d exceeds max_tokens %d", r.MinTokens, r.MaxTokens)
	case r.TopLogprobs < 0 || r.TopLogprobs > maxTopLogprobs:
		return badParam("top_logprobs", "%d, want 0..%d", r.TopLogprobs, maxTopLogprobs)
	case r.N < 0:
		return badParam("n", "%d, want >= 1", r.N)
	case r.BestOf != 0 && r.BestOf < r.choices():
		return badParam("best_of", "%d is less than n (%d)", r.BestOf, r.choices())
	case r.width() > 1 && r.SessionID != "":
		return badParam("session_id", "a session keeps one sequence's K/V; n, best_of and beam search need one sequence")
	}
	if r.Beam != nil {
		if err := r.Beam.validate(); err != nil {
			return err
		}
	}
	for i, t := range r.Prompt {
		if t < 0 || int(t) >= vocab {
			return badParam("prompt", "token %d: id %d outside the vocabulary [0, %d)", i, t, vocab)
		}
	}
	for _, t := range r.StopTokens {
		if t < 0 || int(t) >= vocab {
			return badParam("stop_token_ids", "stop token id %d outside the vocabulary [0, %d)", t, vocab)
		}
	}
	for _, t := range r.RenderTokens {
		if t < 0 || int(t) >= vocab {
			return badParam("", "render token id %d outside the vocabulary [0, %d)", t, vocab)
		}
	}
	for _, s := range r.StopStrings {
		if s == "" {
			return badParam("stop", "empty stop string")
		}
	}
	if err := r.Sample.Validate(); err != nil {
		return &ParamError{Err: err}
	}
	return nil
}

// FinishReason says why a sequence ended, in OpenAI's words where it has them.
type FinishReason string

// The finish reasons.
const (
	FinishStop   FinishReason = "stop"   // an EOG token, a stop token or a stop string
	FinishLength FinishReason = "length" // max_tokens or the context
	FinishAbort  FinishReason = "abort"  // the request's context was cancelled, or shutdown
	FinishError  FinishReason = "error"  // the engine failed; Event.Err says why
)

// TokenLogprob is one generated token's logprob with its alternatives.
type TokenLogprob struct {
	ID      int32
	Logprob float32
	Top     []sample.TokenLogprob // TopLogprobs best, best first
}

// Usage counts a request's tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CachedTokens are prompt tokens whose K/V was reused (prefix cache or
	// session) instead of computed.
	CachedTokens int `json:"cached_tokens"`
	// DiscardedTokens were generated for sequences not returned (best_of
	// beyond n); only choice 0's final event counts them.
	DiscardedTokens int `json:"discarded_tokens,omitempty"`
	// AcceptedPredictionTokens and RejectedPredictionTokens count the
	// speculative draft tokens verified for this sequence that the model
	// kept and dropped (OpenAI's completion_tokens_details names).
	// Accepted ones are also in CompletionTokens.
	AcceptedPredictionTokens int `json:"accepted_prediction_tokens,omitempty"`
	RejectedPredictionTokens int `json:"rejected_prediction_tokens,omitempty"`
}

// Timings are a finished request's latencies.
type Timings struct {
	Queued     time.Duration // submit to first scheduled
	FirstToken time.Duration // submit to first generated token (TTFT)
	Total      time.Duration // submit to finish
	// Preemptions counts how often the sequence was evicted and recomputed.
	Preemptions int
}

// Event is a piece of one choice's output. A choice's events concatenate:
// a consumer that falls behind receives several steps merged into one. A
// choice's last event has a FinishReason (and Usage and Timings); the
// channel is closed after every choice's last event.
type Event struct {
	Index    int            // the choice, 0..N-1
	Tokens   []int32        // generated ids, in order (EOG and stop tokens included)
	Text     string         // newly complete UTF-8 text (stop text and EOG text excluded)
	Logprobs []TokenLogprob // one per token of Tokens, when asked
	Finish   FinishReason
	Usage    *Usage
	Timings  *Timings
	Err      error // with FinishError or FinishAbort
}

// merge appends e2 to e (an undelivered event absorbing a later one).
func (e *Event) merge(e2 Event) {
	e.Tokens = append(e.Tokens, e2.Tokens...)
	e.Text += e2.Text
	e.Logprobs = append(e.Logprobs, e2.Logprobs...)
	if e2.Finish != "" {
		e.Finish, e.Usage, e.Timings, e.Err = e2.Finish, e2.Usage, e2.Timings, e2.Err
	}
}

func (e *Event) empty() bool {
	return len(e.Tokens) == 0 && e.Text == "" && e.Finish == ""
}
