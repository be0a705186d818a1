package model

import (
	"fmt"
	"strings"
)

// The raw bytes of one K/V block, for a prefix cache that keeps blocks
// beyond the pool (in RAM or on disk) and puts them back later. A block's
// bytes are laid out layer by layer, each layer's K block then its V block,
// exactly as the pools hold them: whatever the element type (F16, F32 or a
// quantized one), BlockBytes comes from the layouts, so nothing here
// assumes a dtype. Putting back bytes read from the same model, dtype and
// block size restores the block bit for bit, so a sequence continuing over
// it computes what it would have computed over the original.

// BlockBytes is the size of one block across every layer, K and V: the
// length ReadBlock fills and WriteBlock takes.
func (kv *KVCache) BlockBytes() int {
	n := 0
	for i := range kv.Layers {
		n += 2 * kv.Layers[i].BlockBytes()
	}
	return n
}

// ReadBlock copies block b of every layer (K then V) into dst, which must
// be BlockBytes long.
func (kv *KVCache) ReadBlock(b int, dst []byte) error {
	if err := kv.checkBlockIO("read", b, len(dst)); err != nil {
		return err
	}
	off := 0
	for i := range kv.Layers {
		l := &kv.Layers[i]
		n := l.BlockBytes()
		off += copy(dst[off:], l.K[b*n:(b+1)*n])
		off += copy(dst[off:], l.V[b*n:(b+1)*n])
	}
	return nil
}

// WriteBlock overwrites block b of every layer with src, bytes ReadBlock
// produced (for the same model, dtype and block size).
func (kv *KVCache) WriteBlock(b int, src []byte) error {
	if err := kv.checkBlockIO("write", b, len(src)); err != nil {
		return err
	}
	off := 0
	for i := range kv.Layers {
		l := &kv.Layers[i]
		n := l.BlockBytes()
		off += copy(l.K[b*n:(b+1)*n], src[off:])
		off += copy(l.V[b*n:(b+1)*n], src[off:])
	}
	return nil
}

func (kv *KVCache) checkBlockIO(op string, b, n int) error {
	if b < 0 || b >= kv.NBlocks {
		return fmt.Errorf("model: kv cache: %s block %d of %d", op, b, kv.NBlocks)
	}
	if want := kv.BlockBytes(); n != want {
		return fmt.Errorf("model: kv cache: %s block: %d bytes, want %d", op, n, want)
	}
	return nil
}

// Geometry describes what the bytes of a block mean: element type, tokens
// per block, and each layer's K/V heads, head size and block bytes. Two
// caches whose Geometry differs cannot exchange blocks; a spilled block
// records it and is refused by a cache of another shape.
func (kv *KVCache) Geometry() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kv=%v block=%d layers=%d", kv.Type, kv.BlockSize, len(kv.Layers))
	for i := range kv.Layers {
		l := &kv.Layers[i]
		fmt.Fprintf(&b, " %d:%dx%d/%dB", i, l.NHeadKV, l.HeadDim, l.BlockBytes())
	}
	return b.String()
}
