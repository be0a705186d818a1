package native

import (
	"math"
	"runtime"
)

// KVLayout is one layer's paged KV cache: NBlocks blocks of BlockSize tokens
// for every KV head, laid out [block][kv_head][slot][row] in KVType, K and V
// in separate pools of the same shape. A row holds one token's HeadDim
// values of one KV head: F32, F16, or Q8_0 (ceil(HeadDim/32) GGUF blocks of
// 34 bytes, each row quantized on its own as llama.cpp quantizes Q8_0, a
// HeadDim that is not a multiple of 32 zero-padded to whole blocks).
type KVLayout struct {
	NHead     int     // query heads
	NHeadKV   int     // KV heads (GQA: NHead % NHeadKV == 0)
	HeadDim   int     // dims per head
	BlockSize int     // tokens per block
	KVType    Type    // F32, F16 or Q8_0
	NBlocks   int     // blocks in each pool
	Scale     float32 // score scale; 0 means 1/sqrt(HeadDim)
	K, V      []byte  // the pools, each >= NBlocks*BlockBytes() bytes
}

// KVTypeSupported reports whether t can be a K/V cache type.
func KVTypeSupported(t Type) bool { return t == F32 || t == F16 || t == Q8_0 }

// KVRowBytes is the size of one cache row of headDim values in t (0 when t
// is not a K/V cache type): Q8_0 rows are whole 32-value blocks.
func KVRowBytes(t Type, headDim int) int {
	switch t {
	case F32:
		return 4 * headDim
	case F16:
		return 2 * headDim
	case Q8_0:
		return (headDim + QK8_0 - 1) / QK8_0 * RowSize(Q8_0, QK8_0)
	}
	return 0
}

// BlockBytes is the size of one block of one pool.
func (l *KVLayout) BlockBytes() int {
	return l.NHeadKV * l.BlockSize * KVRowBytes(l.KVType, l.HeadDim)
}

// kvFields mirrors the scalar head of kiln_kv_layout (kiln.h); it holds no
// pointers, so the cgo binding may pass it to C as it is.
type kvFields struct {
	NHead, NHeadKV, HeadDim, BlockSize, KVType, NBlocks int32
	Scale                                               float32
	_                                                   int32
}

func (l *KVLayout) fields(op string) (kvFields, error) {
	if l == nil {
		return kvFields{}, argError(op, ErrNull, "nil layout")
	}
	if l.NHead <= 0 || l.NHeadKV <= 0 || l.HeadDim <= 0 || l.BlockSize <= 0 || l.NBlocks <= 0 || l.NHead%l.NHeadKV != 0 {
		return kvFields{}, argError(op, ErrSize, "heads=%d kv_heads=%d head_dim=%d block_size=%d blocks=%d",
			l.NHead, l.NHeadKV, l.HeadDim, l.BlockSize, l.NBlocks)
	}
	if !KVTypeSupported(l.KVType) {
		return kvFields{}, argError(op, ErrType, "kv type %v (want f32, f16 or q8_0)", l.KVType)
	}
	if need := l.NBlocks * l.BlockBytes(); len(l.K) < need || len(l.V) < need {
		return kvFields{}, argError(op, ErrSize, "len(K)=%d len(V)=%d < %d", len(l.K), len(l.V), need)
	}
	scale := l.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(l.HeadDim)))
	}
	return kvFields{
		NHead: int32(l.NHead), NHeadKV: int32(l.NHeadKV), HeadDim: int32(l.HeadDim),
		BlockSize: int32(l.BlockSize), KVType: int32(l.KVType), NBlocks: int32(l.NBlocks), Scale: scale,
	}, nil
}

// KVStore writes rows k, v [len(slots), NHeadKV, HeadDim] into the cache at
// slots (block*BlockSize + offset); a negative slot skips its token.
func KVStore(l *KVLayout, k, v []float32, slots []int32) error {
	const op = "kv_store"
	f, err := l.fields(op)
	if err != nil {
		return err
	}
	row := l.NHeadKV * l.HeadDim
	if len(slots) == 0 || len(k) < len(slots)*row || len(v) < len(slots)*row {
		return argError(op, ErrSize, "tokens=%d len(k)=%d len(v)=%d", len(slots), len(k), len(v))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bKVStore(&f, ptr(l.K), ptr(l.V), ptr(k), ptr(v), ptr(slots), int64(len(slots)))
	runtime.KeepAlive(l)
	runtime.KeepAlive(k)
	runtime.KeepAlive(v)
	runtime.KeepAlive(slots)
	return check(op, rc)
}

// AttnDecode attends one query per sequence: q, out [len(seqLens), NHead,
// HeadDim]; sequence s sees its first seqLens[s] cached tokens through
// blockTables[s*maxBlocks:].
func AttnDecode(l *KVLayout, q, out []float32, blockTables []int32, maxBlocks int, seqLens []int32) error {
	const op = "attn_decode"
	f, err := l.fields(op)
	if err != nil {
		return err
	}
	nSeq := len(seqLens)
	row := l.NHead * l.HeadDim
	if nSeq == 0 || maxBlocks <= 0 || len(q) < nSeq*row || len(out) < nSeq*row || len(blockTables) < nSeq*maxBlocks {
		return argError(op, ErrSize, "seqs=%d max_blocks=%d len(q)=%d len(out)=%d len(block_tables)=%d",
			nSeq, maxBlocks, len(q), len(out), len(blockTables))
	}
	if err := load(); err != nil {
		return err
	}
	rc := bAttnDecode(&f, ptr(l.K), ptr(l.V), ptr(q), ptr(out), int64(nSeq), ptr(blockTables), int32(maxBlocks), ptr(seqLens))
	runtime.KeepAlive(l)
	runtime.KeepAlive(q)
	runtime.KeepAlive(out)
	runtime.KeepAlive(blockTables)
	runtime.KeepAlive(seqLens)
	return check(op, rc)
}

// AttnPrefill attends many causal queries per sequence, flash-style:
// sequence s owns query rows qStart[s]..qStart[s+1]-1 (len(qStart) = seqs+1)
// and ctxLens[s] cached tokens including its new ones.
func AttnPrefill(l *KVLayout, q, out []float32, qStart, ctxLens, blockTables []int32, maxBlocks int) error {
	const op = "attn_prefill"
	f, nSeq, err := l.prefillArgs(op, q, out, qStart, ctxLens, blockTables, maxBlocks)
	if err != nil {
		return err
	}
	rc := bAttnPrefill(&f, ptr(l.K), ptr(l.V), ptr(q), ptr(out), int64(nSeq), ptr(qStart), ptr(ctxLens), ptr(blockTables), int32(maxBlocks))
	runtime.KeepAlive(l)
	runtime.KeepAlive(q)
	runtime.KeepAlive(out)
	runtime.KeepAlive(qStart)
	runtime.KeepAlive(ctxLens)
	runtime.KeepAlive(blockTables)
	return check(op, rc)
}

// prefillArgs checks the arguments AttnPrefill and AttnWindow share (the
// layout, one q_start entry per sequence plus one, a block table per
// sequence, q and out holding every query row) and loads the library.
func (l *KVLayout) prefillArgs(op string, q, out []float32, qStart, ctxLens, blockTables []int32, maxBlocks int) (kvFields, int, error) {
	f, err := l.fields(op)
	if err != nil {
		return f, 0, err
	}
	nSeq := len(ctxLens)
	if nSeq == 0 || len(qStart) != nSeq+1 || maxBlocks <= 0 || len(blockTables) < nSeq*maxBlocks {
		return f, 0, argError(op, ErrSize, "seqs=%d len(q_start)=%d max_blocks=%d len(block_tables)=%d",
			nSeq, len(qStart), maxBlocks, len(blockTables))
	}
	nq := int(qStart[nSeq])
	row := l.NHead * l.HeadDim
	if nq <= 0 || len(q) < nq*row || len(out) < nq*row {
		return f, 0, argError(op, ErrSize, "queries=%d len(q)=%d len(out)=%d", nq, len(q), len(out))
	}
	return f, nSeq, load()
}
