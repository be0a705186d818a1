package kvcache

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Config sizes a Pool. It matches the engine's KV cache: NumBlocks blocks of
// BlockSize token slots.
type Config struct {
	NumBlocks     int  // blocks in the pool (> 0)
	BlockSize     int  // tokens per block (> 0; the scheduler's default is 16)
	PrefixCaching bool // reuse full blocks across sequences by a chained hash of their tokens
	// KeepEvicted (with PrefixCaching) gives every cached block a BlockKey
	// and records the cached blocks dropped for room, for TakeEvicted: a
	// prefix cache beyond the pool (RAM, disk) keeps their K/V.
	KeepEvicted bool
	// Window > 0 says the model reads back at most Window positions: a
	// query at position q reads q-Window+1..q in every layer (a model whose
	// every layer has a sliding window). Commit then releases each block
	// that falls wholly before the next query's window (see window.go).
	// 0: every position stays readable while the sequence lives.
	Window int
}

// Validate reports the first problem with c, so a bad configuration fails at
// start-up with a message that names the field.
func (c Config) Validate() error {
	switch {
	case c.NumBlocks <= 0:
		return fmt.Errorf("kvcache: NumBlocks = %d, must be > 0", c.NumBlocks)
	case c.BlockSize <= 0:
		return fmt.Errorf("kvcache: BlockSize = %d, must be > 0", c.BlockSize)
	case c.Window < 0:
		return fmt.Errorf("kvcache: Window = %d, must be >= 0 (0: no window)", c.Window)
	case int64(c.NumBlocks)*int64(c.BlockSize) > math.MaxInt32:
		// The engine addresses a token slot as block*BlockSize+offset in an int32.
		return fmt.Errorf("kvcache: NumBlocks*BlockSize = %d*%d exceeds %d token slots (slot indices are int32)",
			c.NumBlocks, c.BlockSize, math.MaxInt32)
	}
	return nil
}

// ErrNoSpace is returned when an allocation needs more blocks than are free
// or evictable. Nothing was changed: the scheduler can preempt a sequence
// and retry.
var ErrNoSpace = errors.New("kvcache: not enough free or evictable blocks")

// ErrBadSeq is returned when a nil Seq, or one made by another Pool, is
// passed to a Pool: its block indices would mean nothing here.
var ErrBadSeq = errors.New("kvcache: sequence is nil or belongs to another pool")

// Stats is a snapshot of a Pool. FreeBlocks+CachedBlocks+UsedBlocks ==
// TotalBlocks always.
type Stats struct {
	TotalBlocks  int // blocks in the pool
	FreeBlocks   int // on the free list: no sequence, no cached content
	CachedBlocks int // refcount 0 but holding a cached prefix: evictable, reusable by a prompt
	UsedBlocks   int // refcount > 0: in some sequence's block table
	// PeakUsedBlocks is the most blocks ever used at once: what proves that
	// forks share their prompt's blocks.
	PeakUsedBlocks int

	PrefixQueries int64 // prompt tokens looked up in the prefix cache (successful AllocatePrompt calls, PrefixCaching on)
	PrefixHits    int64 // of those, tokens found in the cache
	Evictions     int64 // cached blocks dropped to make room for allocations (ResetPrefixCache is not counted)
	// WindowReleases counts blocks running sequences released because they
	// fell out of the attention window (Config.Window).
	WindowReleases int64
}

// HitRate is PrefixHits/PrefixQueries, or 0 before any query; it is the
// number a metrics endpoint wants.
func (s Stats) HitRate() float64 {
	if s.PrefixQueries == 0 {
		return 0
	}
	return float64(s.PrefixHits) / float64(s.PrefixQueries)
}

// blockState says which of the three disjoint sets a block is in.
type blockState uint8

const (
	stateFree   blockState = iota // on Pool.free
	stateCached                   // refcount 0, registered, on the evictable LRU list
	stateUsed                     // refcount > 0
)

// block is the bookkeeping of one KV block.
type block struct {
	ref        int32      // live sequences whose table holds this block
	state      blockState // see blockState
	prev, next int32      // evictable-list neighbours while stateCached (-1 at the ends)

	// Prefix-cache entry, meaningful while id != 0 (the block is registered).
	id       uint64   // unique, never reused: identifies this entry's exact prefix
	hash     uint64   // chained hash, the key in Pool.cache
	parentID uint64   // id of the entry for the previous block of the prefix, 0 for the first block
	parent   int32    // block holding that entry, -1 for the first block
	childIdx int32    // this block's index in the parent's children
	children []int32  // registered blocks whose parent entry is this one
	key      BlockKey // the prefix's content key (KeepEvicted only)
}

// Pool hands out the blocks of one engine replica's KV cache to sequences
// and keeps full blocks cached for prefix reuse. It is safe for concurrent
// use.
type Pool struct {
	mu     sync.Mutex
	cfg    Config
	blocks []block // [NumBlocks]
	free   []int32 // free list, used as a LIFO stack (deterministic, warm reuse)

	lruHead, lruTail int32 // evictable list: head is the least recently released
	nCached, nUsed   int
	peakUsed         int

	cache  map[uint64]int32                      // chained hash -> registered block
	tokens []int32                               // [NumBlocks*BlockSize] committed token of each slot (PrefixCaching only)
	nextID uint64                                // last entry id handed out
	hash   func(parent uint64, t []int32) uint64 // chained block hash; a field so tests can force collisions
	stack  []int32                               // scratch for uncache
	// evicted are the cached blocks dropped since the last TakeEvicted
	// (KeepEvicted only).
	evicted []Evicted

	prefixQueries, prefixHits, evictions, windowReleases int64
}

// New returns a Pool of cfg.NumBlocks free blocks, or the reason cfg is
// unusable.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pool{
		cfg:     cfg,
		blocks:  make([]block, cfg.NumBlocks),
		free:    make([]int32, cfg.NumBlocks),
		lruHead: -1, lruTail: -1,
		hash: chainHash,
	}
	for i := range p.blocks {
		p.blocks[i].prev, p.blocks[i].next, p.blocks[i].parent = -1, -1, -1
		// Top of the stack is block 0, so a fresh pool allocates 0, 1, 2, ...
		p.free[i] = int32(cfg.NumBlocks - 1 - i)
	}
	if cfg.PrefixCaching {
		p.cache = make(map[uint64]int32)
		p.tokens = make([]int32, cfg.NumBlocks*cfg.BlockSize)
	}
	return p, nil
}

// Config returns the configuration p was made with.
func (p *Pool) Config() Config { return p.cfg }

// Stats returns a consistent snapshot of p's occupancy and counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		TotalBlocks:    len(p.blocks),
		FreeBlocks:     len(p.free),
		CachedBlocks:   p.nCached,
		UsedBlocks:     p.nUsed,
		PeakUsedBlocks: p.peakUsed,
		PrefixQueries:  p.prefixQueries,
		PrefixHits:     p.prefixHits,
		Evictions:      p.evictions,
		WindowReleases: p.windowReleases,
	}
}

// CanAllocate reports whether a fresh allocation of nTokens slots would
// succeed now, counting evictable blocks and ignoring prefix hits (which can
// only lower the need), for admission decisions. nTokens <= 0 needs nothing.
func (p *Pool) CanAllocate(nTokens int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocksFor(nTokens) <= p.available()
}

// blocksFor is the number of blocks that hold n tokens.
func (p *Pool) blocksFor(n int) int {
	if n <= 0 {
		return 0
	}
	return (n + p.cfg.BlockSize - 1) / p.cfg.BlockSize
}

// available is the number of blocks an allocation can take: free ones and
// evictable cached ones.
func (p *Pool) available() int { return len(p.free) + p.nCached }

// allocBlock takes a block for a sequence, with refcount 1: the top of the
// free list, else the least recently released cached block (evicted). The
// caller has checked available().
func (p *Pool) allocBlock() int32 {
	if len(p.free) == 0 {
		p.uncache(p.lruHead, dropEvict)
	}
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	bl := &p.blocks[b]
	bl.state, bl.ref = stateUsed, 1
	p.nUsed++
	p.peakUsed = max(p.peakUsed, p.nUsed)
	return b
}

// acquire adds a reference to block b, taking it off the evictable list if
// it was cached.
func (p *Pool) acquire(b int32) {
	bl := &p.blocks[b]
	if bl.state == stateCached {
		p.lruRemove(b)
		p.nCached--
		bl.state = stateUsed
		p.nUsed++
		p.peakUsed = max(p.peakUsed, p.nUsed)
	}
	bl.ref++
}

// release drops a reference to block b. At zero a registered block becomes
// evictable (most recently released, so evicted last); any other block goes
// back to the free list.
func (p *Pool) release(b int32) {
	bl := &p.blocks[b]
	bl.ref--
	if bl.ref > 0 {
		return
	}
	p.nUsed--
	if bl.id != 0 {
		bl.state = stateCached
		p.nCached++
		p.lruPushBack(b)
		return
	}
	bl.state = stateFree
	p.free = append(p.free, b)
}

// lruPushBack appends b to the evictable list as its most recent entry.
func (p *Pool) lruPushBack(b int32) {
	bl := &p.blocks[b]
	bl.prev, bl.next = p.lruTail, -1
	if p.lruTail >= 0 {
		p.blocks[p.lruTail].next = b
	} else {
		p.lruHead = b
	}
	p.lruTail = b
}

// lruRemove unlinks b from the evictable list.
func (p *Pool) lruRemove(b int32) {
	bl := &p.blocks[b]
	if bl.prev >= 0 {
		p.blocks[bl.prev].next = bl.next
	} else {
		p.lruHead = bl.next
	}
	if bl.next >= 0 {
		p.blocks[bl.next].prev = bl.prev
	} else {
		p.lruTail = bl.prev
	}
	bl.prev, bl.next = -1, -1
}
