package model

import (
	"github.com/kiln-llm/kiln/engine/batch"
	"github.com/kiln-llm/kiln/native"
)

// Executor runs the scheduler's steps (batch.Step) on a Model with its own
// paged K/V cache; it satisfies control.Executor. Several Executors (and
// Sessions) may share one Model: its Forwards take turns.
type Executor struct {
	m     *Model
	kv    *KVCache
	batch Batch
}

// NewExecutor allocates a K/V cache of numBlocks blocks of blockSize tokens
// in kvType (native.F16, native.F32 or native.Q8_0) for m.
func NewExecutor(m *Model, numBlocks, blockSize int, kvType native.Type) (*Executor, error) {
	kv, err := m.NewKVCache(numBlocks, blockSize, kvType)
	if err != nil {
		return nil, err
	}
	return &Executor{m: m, kv: kv}, nil
}

// VocabSize is the length of one logits row.
func (e *Executor) VocabSize() int { return e.m.Config.NVocab }

// MaxBatchTokens is the most tokens one Forward may carry.
func (e *Executor) MaxBatchTokens() int { return e.m.MaxBatchTokens() }

// ContextLen is the model's trained context in tokens.
func (e *Executor) ContextLen() int { return e.m.Config.NCtx }

// AttentionWindow is how many positions back every layer reads
// (Config.KVWindow; 0: all): the scheduler releases the K/V blocks older
// than that, and Forward accepts batch.GoneBlock for them.
func (e *Executor) AttentionWindow() int { return e.m.Config.KVWindow() }

// NumBlocks is the number of blocks of the K/V cache.
func (e *Executor) NumBlocks() int { return e.kv.NBlocks }

// BlockSize is the number of tokens of one K/V block.
func (e *Executor) BlockSize() int { return e.kv.BlockSize }

// CopyBlocks copies K/V blocks in order (copy-on-write of shared blocks).
func (e *Executor) CopyBlocks(copies []batch.Copy) error {
	for _, c := range copies {
		if err := e.kv.CopyBlock(int(c.Src), int(c.Dst)); err != nil {
			return err
		}
	}
	return nil
}

// Forward evaluates s against the executor's cache and writes one logits
// row per entry of s.Outputs (none when it is empty or nil: the scheduler
// always names its output rows).
func (e *Executor) Forward(s *batch.Step, logits []float32) error {
	b := &e.batch
	b.KV, b.Tokens, b.Pos, b.Seq, b.Seqs, b.Outputs = e.kv, s.Tokens, s.Pos, s.Seq, s.Seqs, s.Outputs
	if b.Outputs == nil {
		b.Outputs = []int32{} // no output rows, not Forward's "last of each"
	}
	return e.m.Forward(b, logits)
}

// KVBlockBytes is the size of one K/V block across every layer, K and V:
// what ReadBlock fills and WriteBlock takes.
func (e *Executor) KVBlockBytes() int { return e.kv.BlockBytes() }

// KVGeometry describes the K/V cache's blocks (KVCache.Geometry).
func (e *Executor) KVGeometry() string { return e.kv.Geometry() }

// ReadBlock copies the K/V bytes of block b into dst (KVBlockBytes long),
// so a prefix cache can keep the block after the pool reuses it.
func (e *Executor) ReadBlock(b int32, dst []byte) error { return e.kv.ReadBlock(int(b), dst) }

// WriteBlock puts bytes ReadBlock produced back into block b.
func (e *Executor) WriteBlock(b int32, src []byte) error { return e.kv.WriteBlock(int(b), src) }
