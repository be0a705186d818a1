package control

import (
	"fmt"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

// Executor is what the scheduler needs of an engine: one forward pass over a
// flattened step of tokens from many sequences, against a paged K/V cache
// whose blocks the scheduler hands out. Declared here, on the consumer's
// side, so scheduler tests can run on a fake.
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

// Step is one forward pass: the tokens of every scheduled sequence,
// flattened; each sequence's tokens contiguous and in position order.
type Step struct {
	Tokens  []int32   // [n] token ids
	Pos     []int32   // [n] positions
	Seq     []int32   // [n] index into Seqs, non-decreasing
	Seqs    []StepSeq // one per scheduled sequence
	Outputs []int32   // token rows whose logits are wanted, ascending
}

// StepSeq is one scheduled sequence's K/V view.
type StepSeq struct {
	BlockTable []int32 // blocks holding positions 0.. in order
	CtxLen     int     // tokens in the cache after this step, the new ones included
}

func (s *Step) reset() {
	s.Tokens, s.Pos, s.Seq, s.Seqs, s.Outputs = s.Tokens[:0], s.Pos[:0], s.Seq[:0], s.Seqs[:0], s.Outputs[:0]
}

// ModelExecutor runs Steps on a loaded model with its own paged K/V cache.
// Several ModelExecutors may share one Model only if their Forwards never
// overlap (a Model runs one Forward at a time).
type ModelExecutor struct {
	m     *model.Model
	kv    *model.KVCache
	batch model.Batch
}

// NewModelExecutor allocates a K/V cache of numBlocks blocks of blockSize
// tokens in kvType (native.F16 or native.F32) for m.
func NewModelExecutor(m *model.Model, numBlocks, blockSize int, kvType native.Type) (*ModelExecutor, error) {
	kv, err := m.NewKVCache(numBlocks, blockSize, kvType)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return &ModelExecutor{m: m, kv: kv}, nil
}

// KVBlockBytes is the memory one K/V block of blockSize tokens takes in
// kvType across all of m's layers, for sizing the pool from a byte budget.
func KVBlockBytes(m *model.Model, blockSize int, kvType native.Type) int {
	c := m.Config
	l := native.KVLayout{NHead: c.NHead, NHeadKV: c.NHeadKV, HeadDim: c.HeadDim, BlockSize: blockSize, KVType: kvType}
	return 2 * l.BlockBytes() * c.NLayer
}

// VocabSize implements Executor.
func (e *ModelExecutor) VocabSize() int { return e.m.Config.NVocab }

// MaxBatchTokens implements Executor.
func (e *ModelExecutor) MaxBatchTokens() int { return e.m.MaxBatchTokens() }

// ContextLen implements Executor.
func (e *ModelExecutor) ContextLen() int { return e.m.Config.NCtx }

// NumBlocks implements Executor.
func (e *ModelExecutor) NumBlocks() int { return e.kv.NBlocks }

// BlockSize implements Executor.
func (e *ModelExecutor) BlockSize() int { return e.kv.BlockSize }

// CopyBlocks implements Executor.
func (e *ModelExecutor) CopyBlocks(copies []kvcache.Copy) error {
	for _, c := range copies {
		if err := e.kv.CopyBlock(int(c.Src), int(c.Dst)); err != nil {
			return fmt.Errorf("control: %w", err)
		}
	}
	return nil
}

// Forward implements Executor.
func (e *ModelExecutor) Forward(s *Step, logits []float32) error {
	b := &e.batch
	b.KV, b.Tokens, b.Pos, b.Seq, b.Outputs = e.kv, s.Tokens, s.Pos, s.Seq, s.Outputs
	if b.Outputs == nil {
		b.Outputs = []int32{} // no output rows, not the model's "last of each"
	}
	b.Seqs = b.Seqs[:0]
	for _, q := range s.Seqs {
		b.Seqs = append(b.Seqs, model.SeqState{BlockTable: q.BlockTable, CtxLen: q.CtxLen})
	}
	return e.m.Forward(b, logits)
}
