package kvcache

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/batch"
)

// Seq is one sequence's block table. The zero value is unusable: Pool.NewSeq
// makes one, bound to that pool. A Seq is driven from one goroutine (the
// scheduler's); the Pool serializes it against everything else.
type Seq struct {
	pool       *Pool
	blocks     []int32  // blocks holding positions 0.. in order; len == ceil(n/BlockSize); the first gone are GoneBlock
	gone       int      // leading entries released by the window (Config.Window)
	n          int      // reserved slots: positions 0..n-1 have a block
	computed   int      // committed slots: positions 0..computed-1 hold computed K/V
	hash       uint64   // chained hash of the last full committed block (rootHash before any)
	chainOK    bool     // the committed full blocks are exactly the cache entry chainID
	chainID    uint64   // cache entry id equal to the prefix of full committed blocks (0: none yet)
	chainBlock int32    // block holding entry chainID (-1: none), to see whether it is still live
	key        BlockKey // content key of the last full committed block (KeepEvicted only)
}

// Copy asks the engine to copy the K/V of block Src into block Dst in every
// layer, before the forward that follows the AppendSlots that returned it.
// Perform copies in the order they were returned, across all calls of a
// step: a released source may be reused as a later destination. It is the
// engine's batch.Copy, so the list goes to the executor as it is.
type Copy = batch.Copy

// NewSeq returns an empty sequence bound to p.
func (p *Pool) NewSeq() *Seq {
	s := &Seq{pool: p}
	s.reset()
	return s
}

// reset empties s (keeping its table's capacity for reuse).
func (s *Seq) reset() {
	s.blocks = s.blocks[:0]
	s.n, s.computed, s.gone = 0, 0, 0
	s.hash, s.chainOK, s.chainID, s.chainBlock = rootHash, true, 0, -1
	s.key = BlockKey{}
}

// own checks that s was made by p.
func (p *Pool) own(s *Seq) error {
	if s == nil || s.pool != p {
		return ErrBadSeq
	}
	return nil
}

// BlockTable returns the blocks holding positions 0..Len()-1 in order,
// ceil(Len()/BlockSize) of them: what the engine's batch takes as a
// sequence's block table. With a Config.Window, leading entries whose
// blocks were released are GoneBlock. The slice is s's own, valid until the next Pool
// call on s; do not modify it.
func (s *Seq) BlockTable() []int32 {
	if s == nil || s.pool == nil {
		return nil
	}
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.blocks[:len(s.blocks):len(s.blocks)]
}

// Len is the number of token slots s has reserved: positions 0..Len()-1 have
// a slot in BlockTable. AllocatePrompt sets it to the prompt's length and
// AppendSlots(n) adds n. The first Computed() of them are committed.
func (s *Seq) Len() int {
	if s == nil || s.pool == nil {
		return 0
	}
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.n
}

// Computed is the number of leading slots whose K/V is computed: the cached
// prefix found by AllocatePrompt plus every token Committed since. The next
// forward of s starts at position Computed().
func (s *Seq) Computed() int {
	if s == nil || s.pool == nil {
		return 0
	}
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.computed
}

// AppendSlots reserves n more slots after s's current Len (decode: n = 1),
// allocating blocks as needed. If the first new slot falls in a last block
// that someone else can see (shared after a Fork, or registered in the
// prefix cache), that block is copied on write: s gets a fresh block in its
// place and the returned Copy says what the engine must copy first. At most
// one Copy is returned. On ErrNoSpace s and the pool are unchanged.
func (p *Pool) AppendSlots(s *Seq, n int) ([]Copy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.own(s); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("kvcache: append slots: n = %d, must be >= 0", n)
	}
	if n == 0 {
		return nil, nil
	}
	need := p.blocksFor(s.n+n) - len(s.blocks)
	cow := false
	if s.n%p.cfg.BlockSize != 0 {
		last := &p.blocks[s.blocks[len(s.blocks)-1]]
		cow = last.ref > 1 || last.id != 0
	}
	if cow {
		need++
	}
	if need > p.available() {
		return nil, ErrNoSpace
	}
	var copies []Copy
	if cow {
		// Allocate before releasing, so the source cannot come back as the
		// destination.
		src := s.blocks[len(s.blocks)-1]
		dst := p.allocBlock()
		if p.cfg.PrefixCaching {
			copy(p.blockTokens(dst), p.blockTokens(src))
		}
		p.release(src)
		s.blocks[len(s.blocks)-1] = dst
		copies = []Copy{{Src: src, Dst: dst}}
		need--
	}
	for range need {
		s.blocks = append(s.blocks, p.allocBlock())
	}
	s.n += n
	return copies, nil
}

// Fork returns a child of s that shares every block holding s's committed
// tokens (their refcounts go up); the child's Len and Computed are s's
// Computed. Slots s reserved but has not committed stay s's alone. Later
// writes by either into a shared block go through copy-on-write. A nil or
// foreign s yields nil.
func (p *Pool) Fork(s *Seq) *Seq {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.own(s) != nil {
		return nil
	}
	c := &Seq{pool: p}
	c.blocks = append([]int32(nil), s.blocks[:p.blocksFor(s.computed)]...)
	for _, b := range c.blocks[s.gone:] {
		p.blocks[b].ref++
	}
	c.n, c.computed, c.gone = s.computed, s.computed, s.gone
	c.hash, c.chainOK, c.chainID, c.chainBlock, c.key = s.hash, s.chainOK, s.chainID, s.chainBlock, s.key
	return c
}

// Free releases s's blocks (refcounts down). A block left unreferenced goes
// back to the free list, unless it is registered in the prefix cache, in
// which case it becomes evictable, the most recently used. The table is
// released back to front so that a prefix's deeper blocks are evicted before
// the blocks they extend. s becomes empty and may be reused; freeing twice,
// or a nil or foreign s, is a no-op.
func (p *Pool) Free(s *Seq) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.own(s) != nil {
		return
	}
	for i := len(s.blocks) - 1; i >= s.gone; i-- {
		p.release(s.blocks[i])
	}
	s.reset()
}

// Truncate drops s's reserved slots from position n on: the tail that a
// forward wrote but the scheduler will not Commit (the rejected draft
// tokens of speculative decoding). Blocks left without a slot go back to
// the pool; their K/V is garbage that a later forward overwrites. Only
// uncommitted slots can go: n must lie in [Computed(), Len()].
func (p *Pool) Truncate(s *Seq, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.own(s); err != nil {
		return err
	}
	if n < s.computed || n > s.n {
		return fmt.Errorf("kvcache: truncate to %d: want a length in [%d, %d] (Computed, Len)", n, s.computed, s.n)
	}
	keep := p.blocksFor(n)
	for i := len(s.blocks) - 1; i >= max(keep, s.gone); i-- {
		p.release(s.blocks[i])
	}
	s.blocks = s.blocks[:keep]
	s.n = n
	return nil
}
