package model

import (
	"errors"
	"fmt"
	"sync"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// Model is a loaded model: its configuration, its weights as views of the
// GGUF mapping, and the scratch buffers of one forward pass. A Model runs one
// Forward at a time (the scratch is shared): concurrent Forwards take turns,
// and Close waits for the one in flight.
type Model struct {
	mu      sync.Mutex // held by Forward: the scratch is the model's
	Config  Config
	Weights *Weights
	src     Source
	maxTok  int
	// roundAct rounds F16/BF16 matmul inputs to the weight type, as ggml does.
	roundAct bool
	// separate runs every projection as its own matmul instead of fusing
	// those that share an input (tests compare the two bit for bit).
	separate bool
	// perExpert runs a MoE layer's experts one by one even where
	// native.MoEFFN takes them all in one call (tests compare the two).
	perExpert bool
	s         scratch
	// yield keeps the Go runtime from preempting a long forward pass (yield.go).
	yield yielder
	// packed describes the weights repacked at load; freePacked unmaps
	// them (Close, after the mapping).
	packed     RepackStats
	freePacked func() error
}

// Option adjusts Load.
type Option func(*options) error

type options struct {
	maxBatch  int
	exactAct  bool
	separate  bool
	perExpert bool
	noRepack  bool
}

// WithMaxBatchTokens sets the most tokens one Forward may carry (default
// 512); the scratch buffers are sized for it once at load.
func WithMaxBatchTokens(n int) Option {
	return func(o *options) error {
		if n <= 0 {
			return fmt.Errorf("max batch tokens %d: want > 0", n)
		}
		o.maxBatch = n
		return nil
	}
}

// WithExactActivations keeps F16/BF16 matmul inputs in F32 instead of
// rounding them to the weight's type as ggml (and so llama.cpp) does. It is
// marginally more accurate but drifts from the llama.cpp references (e.g.
// stories260K-q8_0 by 0.29 instead of ≤ 0.12 in max |Δlogit|).
func WithExactActivations() Option {
	return func(o *options) error {
		o.exactAct = true
		return nil
	}
}

// Load opens the GGUF file at path, reads its hyperparameters and binds its
// weights in place. Unsupported architectures or tensor types and shape
// mismatches are errors here, naming the tensor. Close releases the file.
func Load(path string, opts ...Option) (*Model, error) {
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m, err := fromSource(fileSource{f}, o)
	if err != nil {
		_ = f.Close() // the load error is the one worth reporting
		return nil, fmt.Errorf("model: %s: %w", path, err)
	}
	return m, nil
}

func applyOptions(opts []Option) (options, error) {
	o := options{maxBatch: 512}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, fmt.Errorf("model: %w", err)
		}
	}
	return o, nil
}

func fromSource(src Source, o options) (*Model, error) {
	f := src.Meta()
	a, err := lookupArch(f.Architecture())
	if err != nil {
		return nil, err
	}
	c, err := readConfig(f, a)
	if err != nil {
		return nil, err
	}
	w, err := bindWeights(src, &c, a)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: c, Weights: w, src: src, maxTok: o.maxBatch, roundAct: !o.exactAct, separate: o.separate, perExpert: o.perExpert}
	if !o.noRepack {
		var release func([]byte) error
		if r, ok := src.(interface{ ReleasePages([]byte) error }); ok {
			release = r.ReleasePages // a GGUF mapping (a Hugging Face directory keeps its pages)
		}
		if m.packed, m.freePacked, err = repackWeights(w, release); err != nil {
			return nil, err
		}
	}
	m.s = newScratch(&c, o.maxBatch, m.roundAct)
	return m, nil
}

// File is the model's metadata (tokenizer, chat template, hyperparameters):
// the GGUF file itself, or a Hugging Face directory's metadata in GGUF terms.
// Nil once the model is closed.
func (m *Model) File() *gguf.File {
	if m.src == nil {
		return nil
	}
	return m.src.Meta()
}

// Repacked says which weights Load repacked (zero when none: WithRepack(false),
// or no faster layout on this CPU).
func (m *Model) Repacked() RepackStats { return m.packed }

// MaxBatchTokens is the most tokens one Forward accepts.
func (m *Model) MaxBatchTokens() int { return m.maxTok }

// Close releases the mapping, after any Forward in flight; Forward fails
// afterwards, and the weights must not be used.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock() // waits for a Forward in flight
	defer m.mu.Unlock()
	if m.src == nil {
		return nil
	}
	f := m.src
	m.src, m.Weights = nil, nil
	err := f.Close()
	if m.freePacked != nil {
		err = errors.Join(err, m.freePacked())
		m.freePacked = nil
	}
	if err != nil {
		return fmt.Errorf("model: close: %w", err)
	}
	return nil
}
