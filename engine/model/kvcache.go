package model

import (
	"fmt"

	"github.com/kiln-llm/kiln/native"
)

// KVCache is the paged K/V storage of every layer of one model: NBlocks
// blocks of BlockSize tokens per layer, in F16 (llama.cpp's default), F32
// (which matches the `-kvf32` references to float32 rounding) or Q8_0 (34
// bytes per 32 values, each token's row of each KV head quantized on its
// own, so about half of F16's memory; see native.KVLayout). Which blocks a
// sequence owns is the caller's business (a block manager or a Session); a
// block index means the same block in every layer.
type KVCache struct {
	Type      native.Type
	BlockSize int
	NBlocks   int
	Layers    []native.KVLayout // one per model layer, pools owned here
}

// NewKVCache allocates a cache for m with nBlocks blocks of blockSize tokens
// in kvType (native.F32, native.F16 or native.Q8_0).
func (m *Model) NewKVCache(nBlocks, blockSize int, kvType native.Type) (*KVCache, error) {
	if nBlocks <= 0 || blockSize <= 0 {
		return nil, fmt.Errorf("model: kv cache: blocks=%d block_size=%d must be positive", nBlocks, blockSize)
	}
	if !native.KVTypeSupported(kvType) {
		return nil, fmt.Errorf("model: kv cache: type %v (want f32, f16 or q8_0)", kvType)
	}
	c := &m.Config
	kv := &KVCache{Type: kvType, BlockSize: blockSize, NBlocks: nBlocks, Layers: make([]native.KVLayout, c.NLayer)}
	for i := range kv.Layers {
		l := native.KVLayout{
			NHead: c.NHead, NHeadKV: c.NHeadKV, HeadDim: c.HeadDim,
			BlockSize: blockSize, KVType: kvType, NBlocks: nBlocks, Scale: c.AttnScale,
		}
		n := nBlocks * l.BlockBytes()
		l.K, l.V = make([]byte, n), make([]byte, n)
		kv.Layers[i] = l
	}
	return kv, nil
}

// KVBlockBytes is the memory one K/V block of blockSize tokens takes in
// kvType across all of m's layers (K and V), for sizing a pool from a byte
// budget. A Q8_0 row of a head_dim that is not a multiple of 32 is padded to
// whole blocks, so such models save less (or, below 17 dims, nothing).
func (m *Model) KVBlockBytes(blockSize int, kvType native.Type) int64 {
	c := &m.Config
	l := native.KVLayout{NHead: c.NHead, NHeadKV: c.NHeadKV, HeadDim: c.HeadDim, BlockSize: blockSize, KVType: kvType}
	return 2 * int64(l.BlockBytes()) * int64(c.NLayer)
}

// Slot is the cache slot of token position pos for a sequence whose block
// table is table, or -1 when the table is too short.
func (kv *KVCache) Slot(table []int32, pos int) int32 {
	b := pos / kv.BlockSize
	if pos < 0 || b >= len(table) {
		return -1
	}
	return table[b]*int32(kv.BlockSize) + int32(pos%kv.BlockSize)
}

// CopyBlock copies block src's K and V into block dst in every layer: the
// copy half of copy-on-write when a shared block is about to be written.
func (kv *KVCache) CopyBlock(src, dst int) error {
	if src < 0 || dst < 0 || src >= kv.NBlocks || dst >= kv.NBlocks {
		return fmt.Errorf("model: kv cache: copy block %d to %d of %d", src, dst, kv.NBlocks)
	}
	if src == dst {
		return nil
	}
	for i := range kv.Layers {
		l := &kv.Layers[i]
		n := l.BlockBytes()
		copy(l.K[dst*n:(dst+1)*n], l.K[src*n:(src+1)*n])
		copy(l.V[dst*n:(dst+1)*n], l.V[src*n:(src+1)*n])
	}
	return nil
}

// KVBytesPerToken is the K/V memory one token of context takes in kvType
// across all of m's layers (K and V).
func (m *Model) KVBytesPerToken(kvType native.Type) int64 {
	return m.KVBlockBytes(1, kvType)
}
