package kvcache

import "github.com/kiln-llm/kiln/engine/batch"

// GoneBlock is the block-table entry of a block released by the window:
// the engine's batch.GoneBlock.
const GoneBlock = batch.GoneBlock

// releaseOutOfWindow releases the leading blocks of s that no query of s
// will read again. Queries only move forward: the next one is at position
// Computed() and reads Computed()-Window+1 on, and every later query reads
// later still (Truncate never goes below Computed, and a Fork starts at its
// parent's Computed). So every block wholly before that position is dead
// for s; its table entry becomes GoneBlock and its reference is dropped.
//
// A released block is released like any other: freed, or, if registered in
// the prefix cache, kept as an evictable cached block whose K/V is intact,
// so a later prompt with the same prefix still hits it. Prefix reuse walks
// the chain from the first block, so it reaches exactly as far as the chain
// is still cached: once a released block is evicted, its cached descendants
// leave the cache with it and a later prompt recomputes from there. Blocks
// that s still holds keep their entries until then.
//
// Released from the front, the oldest blocks become the least recently
// released cached blocks and are evicted first under pressure.
func (p *Pool) releaseOutOfWindow(s *Seq) {
	w := p.cfg.Window
	if w <= 0 {
		return
	}
	first := s.computed - w + 1 // first position the next query reads
	if first <= 0 {
		return
	}
	dead := first / p.cfg.BlockSize // blocks wholly before it
	for ; s.gone < dead; s.gone++ {
		p.release(s.blocks[s.gone])
		s.blocks[s.gone] = GoneBlock
		p.windowReleases++
	}
}
