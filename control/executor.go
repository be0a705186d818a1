package control

import (
	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/engine/batch"
)

// Executor is what the scheduler needs of an engine: one forward pass over a
// flattened step of tokens from many sequences, against a paged K/V cache
// whose blocks the scheduler hands out. Declared here, on the consumer's
// side, so scheduler tests run on a fake; engine/model's Executor is the
// real one (wired up by the composition root).
type Executor interface {
	// VocabSize is the length of one logits row.
	VocabSize() int
	// MaxBatchTokens is the most tokens one Forward may carry.
	MaxBatchTokens() int
	// ContextLen is the model's trained context in tokens (0: unknown).
	ContextLen() int
	// NumBlocks and BlockSize describe the K/V cache the block indices of
	// Step.Seqs refer to.
	NumBlocks() int
	BlockSize() int
	// CopyBlocks copies K/V blocks (copy-on-write of shared blocks), in order.
	CopyBlocks(copies []kvcache.Copy) error
	// Forward evaluates s, stores the new tokens' K/V and writes one logits
	// row per entry of s.Outputs into logits, in order.
	Forward(s *Step, logits []float32) error
}

// WindowedExecutor is an Executor whose model reads at most
// AttentionWindow() positions back in every layer (a sliding window on
// every layer; 0: no such bound). The engine then releases each sequence's
// K/V blocks older than that while it runs (kvcache.Config.Window), and the
// executor accepts kvcache.GoneBlock for them in block tables. Optional, so
// fakes and wrappers need not implement it.
type WindowedExecutor interface {
	Executor
	AttentionWindow() int
}

// Step is one forward pass (the engine's batch.Step): the tokens of every
// scheduled sequence, flattened; each sequence's tokens contiguous and in
// position order.
type Step = batch.Step

// StepSeq is one scheduled sequence's K/V view.
type StepSeq = batch.Seq
