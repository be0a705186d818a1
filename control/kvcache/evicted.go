package kvcache

import (
	"crypto/sha256"
	"encoding/binary"
)

// BlockKey names a full block's exact prefix across processes: k_i =
// SHA-256(k_{i-1} ‖ the block's tokens as little-endian int32), with k_{-1}
// all zero. Unlike the pool's 64-bit chained hash, whose hits are made
// exact by comparing tokens and parent entries, a key stands alone: a cache
// outside the pool (a file named by it) trusts it to mean the same tokens
// from the start of the sequence, which SHA-256's collision resistance
// makes safe even against chosen prompts.
type BlockKey [32]byte

// ChainKey is the key of a block holding tokens after the prefix parent.
func ChainKey(parent BlockKey, tokens []int32) BlockKey {
	buf := make([]byte, 0, len(parent)+4*len(tokens))
	buf = append(buf, parent[:]...)
	for _, t := range tokens {
		buf = binary.LittleEndian.AppendUint32(buf, uint32(t))
	}
	return sha256.Sum256(buf)
}

// PromptKeys appends to dst the keys of prompt's full blocks that
// AllocatePrompt may reuse (those ending before its last token), in order.
func PromptKeys(dst []BlockKey, prompt []int32, blockSize int) []BlockKey {
	if blockSize <= 0 || len(prompt) == 0 {
		return dst
	}
	var k BlockKey
	for i := range (len(prompt) - 1) / blockSize {
		k = ChainKey(k, prompt[i*blockSize:(i+1)*blockSize])
		dst = append(dst, k)
	}
	return dst
}

// Evicted is a cached block the pool dropped (Config.KeepEvicted): Key and
// Tokens say what it held, and its K/V is still in block Block until the
// next write into that block (the next CopyBlocks or Forward, which may
// reuse it at once), so whoever keeps it reads the bytes before those.
type Evicted struct {
	Block  int32
	Key    BlockKey
	Tokens []int32 // BlockSize tokens
}

// TakeEvicted appends the blocks evicted since the last call to dst and
// forgets them.
func (p *Pool) TakeEvicted(dst []Evicted) []Evicted {
	p.mu.Lock()
	defer p.mu.Unlock()
	dst = append(dst, p.evicted...)
	clear(p.evicted)
	p.evicted = p.evicted[:0]
	return dst
}

// EvictAll drops every evictable cached block as an eviction would,
// recording each for TakeEvicted (not counted in Stats.Evictions): on
// shutdown, everything the cache holds can then be kept beyond the pool.
// Registered blocks still in use stay cached.
func (p *Pool) EvictAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.lruHead >= 0 {
		p.uncache(p.lruHead, dropFlush)
	}
}

// CachedPrefix is the number of prompt's leading full blocks that
// AllocatePrompt would find in the cache now, without taking them: where a
// cache beyond the pool has to start. 0 without PrefixCaching.
func (p *Pool) CachedPrefix(prompt []int32) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cfg.PrefixCaching || len(prompt) == 0 {
		return 0
	}
	bs := p.cfg.BlockSize
	h, id := rootHash, uint64(0)
	for i := range (len(prompt) - 1) / bs {
		chunk := prompt[i*bs : (i+1)*bs]
		hi := p.hash(h, chunk)
		b, ok := p.lookup(hi, id, chunk)
		if !ok {
			return i
		}
		h, id = hi, p.blocks[b].id
	}
	return (len(prompt) - 1) / bs
}
