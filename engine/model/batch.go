package model

import (
	"errors"
	"fmt"

	"github.com/kiln-llm/kiln/engine/batch"
)

// ErrBatch marks a malformed Batch; Forward wraps it with the details.
var ErrBatch = errors.New("model: bad batch")

// Batch is one forward step over tokens from many sequences, flattened the
// way the scheduler builds it (decodes and prefill chunks alike). Tokens of a
// sequence are contiguous, in position order, and sequences appear in index
// order, because attention gives each sequence a contiguous run of queries.
type Batch struct {
	KV     *KVCache
	Tokens []int32 // [n] token ids
	Pos    []int32 // [n] positions; sequence s's tokens are Seqs[s].CtxLen-n_s .. CtxLen-1
	Seq    []int32 // [n] index into Seqs, non-decreasing, every sequence present
	// Slots are the KV slots the new tokens are written to
	// (block*BlockSize + offset). Nil means: derive them from the block
	// tables; when given they must agree with the tables.
	Slots []int32
	Seqs  []SeqState
	// Outputs are the token rows whose logits Forward writes, ascending, in
	// that order. Nil means the last token of every sequence; empty (not
	// nil) means none: a prefill chunk that only fills the K/V cache.
	Outputs []int32
	// Hidden, when not nil, receives every token's final hidden state
	// after the output norm ([n, NEmbd], the head's input): what an
	// embeddings endpoint pools. Nil (the usual case) costs nothing.
	Hidden []float32
}

// SeqState is what attention needs of one sequence: its block table and
// its context length once this batch is stored (the scheduler's batch.Seq).
type SeqState = batch.Seq

// NumOutputs is the number of logit rows Forward writes for b.
func (b *Batch) NumOutputs() int {
	if b.Outputs != nil {
		return len(b.Outputs)
	}
	return len(b.Seqs)
}

// plan is the validated, kernel-ready form of a Batch, held in the Model's
// scratch so a step allocates nothing once the buffers have grown.
type plan struct {
	slots     []int32 // [n]
	qStart    []int32 // [nSeq+1]
	ctxLens   []int32 // [nSeq]
	tables    []int32 // [nSeq*maxBlocks]
	maxBlocks int
	outputs   []int32 // token rows wanting logits
}

func badBatch(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBatch, fmt.Sprintf(format, args...))
}

// preparePlan checks b against the model and cache and fills p.
func (m *Model) preparePlan(b *Batch, p *plan) error {
	n := len(b.Tokens)
	switch {
	case b.KV == nil:
		return badBatch("nil KV cache")
	case n == 0:
		return badBatch("no tokens")
	case n > m.maxTok:
		return badBatch("%d tokens exceed max batch tokens %d", n, m.maxTok)
	case len(b.Pos) != n || len(b.Seq) != n:
		return badBatch("len(Pos)=%d len(Seq)=%d, want %d", len(b.Pos), len(b.Seq), n)
	case b.Slots != nil && len(b.Slots) != n:
		return badBatch("len(Slots)=%d, want %d", len(b.Slots), n)
	case len(b.Seqs) == 0:
		return badBatch("no sequences")
	case len(b.KV.Layers) != m.Config.NLayer:
		return badBatch("KV cache has %d layers, model %d", len(b.KV.Layers), m.Config.NLayer)
	}
	if l := &b.KV.Layers[0]; l.NHead != m.Config.NHead || l.NHeadKV != m.Config.NHeadKV || l.HeadDim != m.Config.HeadDim {
		return badBatch("KV cache is for %d/%d heads of %d dims, model has %d/%d of %d",
			l.NHead, l.NHeadKV, l.HeadDim, m.Config.NHead, m.Config.NHeadKV, m.Config.HeadDim)
	}
	kv := b.KV
	nSeq := len(b.Seqs)
	p.qStart = grow(p.qStart, nSeq+1)
	p.ctxLens = grow(p.ctxLens, nSeq)
	p.slots = grow(p.slots, n)
	p.maxBlocks = 1
	for s, st := range b.Seqs {
		if st.CtxLen <= 0 {
			return badBatch("sequence %d: context length %d", s, st.CtxLen)
		}
		need := (st.CtxLen + kv.BlockSize - 1) / kv.BlockSize
		if len(st.BlockTable) < need {
			return badBatch("sequence %d: block table has %d blocks, context %d needs %d", s, len(st.BlockTable), st.CtxLen, need)
		}
		for j, blk := range st.BlockTable[:need] {
			if blk == batch.GoneBlock {
				continue // checked below, once the first query's position is known
			}
			if blk < 0 || int(blk) >= kv.NBlocks {
				return badBatch("sequence %d: block table entry %d = %d outside [0, %d)", s, j, blk, kv.NBlocks)
			}
		}
		p.maxBlocks = max(p.maxBlocks, need)
		p.ctxLens[s] = int32(st.CtxLen)
	}
	// Group the tokens by sequence and check positions and slots.
	i := 0
	for s := range nSeq {
		p.qStart[s] = int32(i)
		start := i
		for i < n && int(b.Seq[i]) == s {
			i++
		}
		nq := i - start
		if nq == 0 {
			if i < n && (b.Seq[i] < 0 || int(b.Seq[i]) >= nSeq) {
				return badBatch("token %d: sequence %d outside [0, %d)", i, b.Seq[i], nSeq)
			}
			return badBatch("sequence %d has no tokens here (tokens must be grouped by sequence in index order)", s)
		}
		ctx := b.Seqs[s].CtxLen
		if nq > ctx {
			return badBatch("sequence %d: %d new tokens but context length %d", s, nq, ctx)
		}
		table := b.Seqs[s].BlockTable
		if err := m.checkGone(table[:(ctx+kv.BlockSize-1)/kv.BlockSize], ctx-nq, kv.BlockSize); err != nil {
			return badBatch("sequence %d: %v", s, err)
		}
		for j := start; j < i; j++ {
			want := ctx - nq + (j - start)
			if int(b.Pos[j]) != want {
				return badBatch("token %d of sequence %d: position %d, want %d (contiguous, ending at CtxLen-1)", j, s, b.Pos[j], want)
			}
			slot := kv.Slot(table, want)
			if b.Slots != nil && b.Slots[j] != slot {
				return badBatch("token %d: slot %d disagrees with the block table (%d)", j, b.Slots[j], slot)
			}
			p.slots[j] = slot
		}
	}
	if i != n {
		return badBatch("token %d: sequence %d out of order or outside [0, %d)", i, b.Seq[i], nSeq)
	}
	p.qStart[nSeq] = int32(n)
	p.tables = grow(p.tables, nSeq*p.maxBlocks)
	for s, st := range b.Seqs {
		row := p.tables[s*p.maxBlocks : (s+1)*p.maxBlocks]
		k := copy(row, st.BlockTable[:min(len(st.BlockTable), p.maxBlocks)])
		clear(row[k:])
		for j, blk := range row[:k] {
			if blk == batch.GoneBlock {
				row[j] = 0 // never read (checkGone); the kernels want an index in range
			}
		}
	}
	return m.prepareOutputs(b, p)
}

// checkGone accepts GoneBlock entries (blocks the scheduler released, see
// batch.GoneBlock) only where no query of the step reads them: the model
// reads at most KVWindow positions back in every layer, and the block lies
// wholly before the window of the first query, at position first.
func (m *Model) checkGone(table []int32, first, blockSize int) error {
	w := m.Config.KVWindow()
	for j, blk := range table {
		if blk != batch.GoneBlock {
			continue
		}
		if w == 0 {
			return fmt.Errorf("block table entry %d is gone, but the model has layers without a sliding window", j)
		}
		if (j+1)*blockSize > first-w+1 {
			return fmt.Errorf("block table entry %d is gone, but the query at position %d reads from position %d (window %d)",
				j, first, max(first-w+1, 0), w)
		}
	}
	return nil
}

func (m *Model) prepareOutputs(b *Batch, p *plan) error {
	n := len(b.Tokens)
	if b.Outputs == nil {
		p.outputs = grow(p.outputs, len(b.Seqs))
		for s := range b.Seqs {
			p.outputs[s] = p.qStart[s+1] - 1
		}
		return nil
	}
	for j, r := range b.Outputs {
		if r < 0 || int(r) >= n || (j > 0 && r <= b.Outputs[j-1]) {
			return badBatch("Outputs[%d] = %d: want ascending rows in [0, %d)", j, r, n)
		}
	}
	p.outputs = grow(p.outputs, len(b.Outputs))
	copy(p.outputs, b.Outputs)
	return nil
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, max(n, 2*cap(s)))
	}
	return s[:n]
}
