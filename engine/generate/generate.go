package generate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// ErrEmptyPrompt is returned when the prompt tokenizes to nothing (an empty
// prompt for a vocabulary that adds no BOS): there is nothing to condition on.
var ErrEmptyPrompt = errors.New("generate: the prompt has no tokens")

// Options are one generation's settings; start from DefaultOptions.
type Options struct {
	// MaxTokens is the most tokens to generate (> 0).
	MaxTokens int
	// Sample are the sampling settings (temperature 0 = greedy).
	Sample sample.Params
	// CtxLen is the KV cache size in tokens; 0 means prompt + MaxTokens,
	// capped at the model's trained context. Generation stops when full.
	CtxLen int
	// KVType is the K/V cache element type, native.F16, native.F32 or native.Q8_0.
	KVType native.Type
	// ParseSpecial turns control-token texts in the prompt into their ids,
	// as llama.cpp's CLI does.
	ParseSpecial bool
}

// DefaultOptions are llama.cpp CLI-like defaults: 128 tokens, F16 K/V,
// special tokens parsed, and sample.DefaultParams.
func DefaultOptions() Options {
	return Options{MaxTokens: 128, Sample: sample.DefaultParams(), KVType: native.F16, ParseSpecial: true}
}

// StopReason says why generation ended.
type StopReason string

// The reasons Generate stops.
const (
	StopEOG     StopReason = "eog"     // the model produced an end-of-generation token
	StopLength  StopReason = "length"  // MaxTokens were generated
	StopContext StopReason = "context" // the KV cache is full
)

// Stats describe one generation. Prefill covers evaluating the prompt;
// decode covers every later step (sample, stream, evaluate one token), so
// DecodeTokens is the number of single-token forward passes, one less than
// the generated tokens when the last one was not evaluated.
type Stats struct {
	PromptTokens    int           `json:"prompt_tokens"`
	PrefillTime     time.Duration `json:"prefill_ns"`
	GeneratedTokens int           `json:"generated_tokens"` // the EOG token, if any, not counted
	DecodeTokens    int           `json:"decode_forwards"`
	DecodeTime      time.Duration `json:"decode_ns"`
	Stop            StopReason    `json:"stop"`
	Tokens          []int32       `json:"tokens"` // the generated ids, the EOG token excluded
}

// PrefillTPS is prompt tokens per second of prefill (0 if unmeasured).
func (s Stats) PrefillTPS() float64 { return rate(s.PromptTokens, s.PrefillTime) }

// DecodeTPS is single-token forward passes per second of decode.
func (s Stats) DecodeTPS() float64 { return rate(s.DecodeTokens, s.DecodeTime) }

func rate(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Validate checks o against m before anything is allocated.
func (o Options) Validate() error {
	if o.MaxTokens <= 0 {
		return fmt.Errorf("generate: max tokens must be > 0, got %d", o.MaxTokens)
	}
	if o.CtxLen < 0 {
		return fmt.Errorf("generate: context length must be >= 0 (0 = prompt + max tokens), got %d", o.CtxLen)
	}
	if !native.KVTypeSupported(o.KVType) {
		return fmt.Errorf("generate: kv type %v: want f16, f32 or q8_0", o.KVType)
	}
	if err := o.Sample.Validate(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

// Generate tokenizes prompt with the vocabulary's BOS rule and continues it,
// calling onText (if not nil) with each piece of newly complete UTF-8 text as
// soon as it exists; the pieces concatenate to the decoded continuation.
// It returns when an EOG token is sampled, MaxTokens are generated, the
// context is full or ctx is done (then with ctx's error and the stats so far).
func Generate(ctx context.Context, m *model.Model, tok *tokenizer.Tokenizer, prompt string, o Options, onText func(string)) (Stats, error) {
	ids := tok.Encode(prompt, true, o.ParseSpecial)
	return GenerateTokens(ctx, m, tok, ids, o, onText)
}

// GenerateTokens is Generate from already tokenized prompt ids.
func GenerateTokens(ctx context.Context, m *model.Model, tok *tokenizer.Tokenizer, ids []int32, o Options, onText func(string)) (st Stats, err error) {
	st.PromptTokens = len(ids)
	if err := o.Validate(); err != nil {
		return st, err
	}
	if len(ids) == 0 {
		return st, ErrEmptyPrompt
	}
	ctxLen := o.CtxLen
	if ctxLen == 0 {
		ctxLen = len(ids) + o.MaxTokens
		if n := m.Config.NCtx; n > 0 && ctxLen > n {
			ctxLen = n
		}
	}
	if len(ids) >= ctxLen {
		return st, fmt.Errorf("generate: the prompt's %d tokens leave no room to generate in a context of %d tokens", len(ids), ctxLen)
	}
	smp, err := sample.New(o.Sample, m.Config.NVocab)
	if err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	sess, err := m.NewSession(ctxLen, o.KVType)
	if err != nil {
		return st, fmt.Errorf("generate: %w", err)
	}
	for _, id := range ids {
		smp.AcceptPrompt(id)
	}
	emit := func(s string) {
		if s != "" && onText != nil {
			onText(s)
		}
	}

	start := time.Now()
	logits, err := sess.Eval(ids) // chunks of m.MaxBatchTokens()
	st.PrefillTime = time.Since(start)
	if err != nil {
		return st, fmt.Errorf("generate: prefill: %w", err)
	}

	dec := tok.NewStreamDecoder()
	defer func() { emit(dec.Flush()) }()
	start = time.Now()
	defer func() { st.DecodeTime = time.Since(start) }()
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		next, err := smp.Sample(logits)
		if err != nil {
			return st, fmt.Errorf("generate: token %d: %w", st.GeneratedTokens, err)
		}
		if tok.IsEOG(next) {
			st.Stop = StopEOG
			return st, nil
		}
		smp.Accept(next)
		st.Tokens = append(st.Tokens, next)
		st.GeneratedTokens++
		emit(dec.Add(next))
		if st.GeneratedTokens >= o.MaxTokens {
			st.Stop = StopLength
			return st, nil
		}
		if sess.Len() >= ctxLen {
			st.Stop = StopContext
			return st, nil
		}
		if logits, err = sess.Eval([]int32{next}); err != nil {
			return st, fmt.Errorf("generate: decode at position %d: %w", sess.Len(), err)
		}
		st.DecodeTokens++
	}
}
