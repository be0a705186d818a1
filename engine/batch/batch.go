// Package batch is the vocabulary the scheduler (control) and the engine
// (engine/model) share for one forward step: the flattened tokens of many
// sequences, each sequence's view of the paged K/V cache, and the block
// copies of copy-on-write. It is plain data and imports nothing, so control
// can speak it without reaching into the engine's kernels, and the engine
// can execute it without copying it field by field.
package batch

// Step is one forward pass: the tokens of every scheduled sequence,
// flattened; each sequence's tokens contiguous and in position order, and
// the sequences in index order.
type Step struct {
	Tokens  []int32 // [n] token ids
	Pos     []int32 // [n] positions
	Seq     []int32 // [n] index into Seqs, non-decreasing
	Seqs    []Seq   // one per scheduled sequence
	Outputs []int32 // token rows whose logits are wanted, ascending
}

// Seq is one scheduled sequence's K/V view.
type Seq struct {
	BlockTable []int32 // K/V blocks holding positions 0.. in order; >= ceil(CtxLen/BlockSize) entries
	CtxLen     int     // tokens in the cache after this step, the new ones included
}

// GoneBlock is the block-table entry of a block a sequence has released
// because it lies wholly before every layer's sliding window: no query of
// the sequence reads its positions again. Only a model whose every layer
// has a window accepts it, and only before the window of the step's first
// query.
const GoneBlock int32 = -1

// Copy asks for K/V block Src to be copied into block Dst (in every layer):
// the copy half of copy-on-write when a shared block is about to be written.
type Copy struct{ Src, Dst int32 }

// Reset empties s, keeping its buffers for the next step.
func (s *Step) Reset() {
	s.Tokens, s.Pos, s.Seq, s.Seqs, s.Outputs = s.Tokens[:0], s.Pos[:0], s.Seq[:0], s.Seqs[:0], s.Outputs[:0]
}
