package kvcache

import (
	"fmt"
	"testing"
)

// mustPool makes a pool or fails the test.
func mustPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seqTokens returns n tokens start, start+1, ...
func seqTokens(start, n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(start + i)
	}
	return t
}

// prefill allocates prompt on a new seq and commits what was not cached.
func prefill(t testing.TB, p *Pool, prompt []int32) (*Seq, int) {
	t.Helper()
	s := p.NewSeq()
	cached, err := p.AllocatePrompt(s, prompt)
	if err != nil {
		t.Fatalf("AllocatePrompt(%d tokens): %v", len(prompt), err)
	}
	if err := p.Commit(s, prompt[cached:]); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return s, cached
}

// wantStats compares the occupancy part of p's Stats.
func wantStats(t *testing.T, p *Pool, free, cached, used int) {
	t.Helper()
	st := p.Stats()
	if st.FreeBlocks != free || st.CachedBlocks != cached || st.UsedBlocks != used {
		t.Fatalf("stats free/cached/used = %d/%d/%d, want %d/%d/%d",
			st.FreeBlocks, st.CachedBlocks, st.UsedBlocks, free, cached, used)
	}
}

// checkPool verifies every structural invariant of p given the live seqs.
// live must be every seq of p that holds blocks.
func checkPool(p *Pool, live []*Seq) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.blocks)
	refs := make([]int32, n)
	for i, s := range live {
		if s.pool != p {
			return fmt.Errorf("seq %d belongs to another pool", i)
		}
		if len(s.blocks) != p.blocksFor(s.n) || s.computed < 0 || s.computed > s.n {
			return fmt.Errorf("seq %d: %d blocks for Len %d, Computed %d", i, len(s.blocks), s.n, s.computed)
		}
		seen := map[int32]bool{}
		for j, b := range s.blocks {
			if (j < s.gone) != (b == GoneBlock) {
				return fmt.Errorf("seq %d: entry %d = %d, but %d leading entries are gone", i, j, b, s.gone)
			}
			if b == GoneBlock {
				continue
			}
			if b < 0 || int(b) >= n {
				return fmt.Errorf("seq %d: block %d out of range", i, b)
			}
			if seen[b] {
				return fmt.Errorf("seq %d: block %d twice in its table", i, b)
			}
			seen[b] = true
			refs[b]++
		}
	}
	where := make([]string, n)
	for _, b := range p.free {
		if where[b] != "" {
			return fmt.Errorf("block %d twice on the free list", b)
		}
		where[b] = "free"
	}
	nLRU := 0
	prev := int32(-1)
	for b := p.lruHead; b >= 0; b = p.blocks[b].next {
		if where[b] != "" {
			return fmt.Errorf("block %d on the evictable list and %q", b, where[b])
		}
		if p.blocks[b].prev != prev {
			return fmt.Errorf("block %d: evictable prev link %d, want %d", b, p.blocks[b].prev, prev)
		}
		where[b] = "lru"
		prev = b
		nLRU++
	}
	if p.lruTail != prev {
		return fmt.Errorf("evictable tail %d, want %d", p.lruTail, prev)
	}
	used := 0
	for b := range n {
		bl := &p.blocks[b]
		if bl.ref != refs[b] {
			return fmt.Errorf("block %d: refcount %d, %d live seqs hold it", b, bl.ref, refs[b])
		}
		switch {
		case bl.ref > 0:
			used++
			if bl.state != stateUsed || where[b] != "" {
				return fmt.Errorf("block %d: ref %d but state %d, listed %q", b, bl.ref, bl.state, where[b])
			}
		case where[b] == "free":
			if bl.state != stateFree || bl.id != 0 {
				return fmt.Errorf("block %d: on the free list with state %d, id %d", b, bl.state, bl.id)
			}
		case where[b] == "lru":
			if bl.state != stateCached || bl.id == 0 {
				return fmt.Errorf("block %d: evictable with state %d, id %d", b, bl.state, bl.id)
			}
		default:
			return fmt.Errorf("block %d: unreferenced but in no list", b)
		}
	}
	if len(p.free)+nLRU+used != n || nLRU != p.nCached || used != p.nUsed {
		return fmt.Errorf("free %d + cached %d (counter %d) + used %d (counter %d) != %d",
			len(p.free), nLRU, p.nCached, used, p.nUsed, n)
	}
	registered := 0
	for b := range n {
		bl := &p.blocks[b]
		if bl.id == 0 {
			if len(bl.children) != 0 {
				return fmt.Errorf("block %d: unregistered with children", b)
			}
			continue
		}
		registered++
		if p.cache[bl.hash] != int32(b) {
			return fmt.Errorf("block %d: registered under %#x but the cache maps it to %d", b, bl.hash, p.cache[bl.hash])
		}
		if bl.parentID == 0 {
			if bl.parent != -1 {
				return fmt.Errorf("block %d: first block with parent %d", b, bl.parent)
			}
		} else {
			if bl.parent < 0 {
				return fmt.Errorf("block %d: entry %d has parent id %d but no parent block", b, bl.id, bl.parentID)
			}
			pb := &p.blocks[bl.parent]
			if pb.id != bl.parentID || int(bl.childIdx) >= len(pb.children) || pb.children[bl.childIdx] != int32(b) {
				return fmt.Errorf("block %d: broken parent link to %d (entry %d)", b, bl.parent, bl.parentID)
			}
			if bl.id <= bl.parentID {
				return fmt.Errorf("block %d: entry %d older than its parent %d", b, bl.id, bl.parentID)
			}
		}
		for _, c := range bl.children {
			if p.blocks[c].parent != int32(b) || p.blocks[c].parentID != bl.id {
				return fmt.Errorf("block %d: child %d does not point back", b, c)
			}
		}
	}
	if registered != len(p.cache) {
		return fmt.Errorf("%d registered blocks, %d cache entries", registered, len(p.cache))
	}
	return nil
}
