package kvcache

import (
	"slices"
	"testing"
)

// cat concatenates token slices.
func cat(parts ...[]int32) []int32 { return slices.Concat(parts...) }

func TestPrefixHits(t *testing.T) {
	base := seqTokens(0, 12)
	tests := []struct {
		name        string
		first       []int32
		freeFirst   bool
		second      []int32
		wantCached  int
		wantInTable int // leading blocks of second's table equal to first's
	}{
		{"identical, first alive", base[:10], false, base[:10], 8, 2},
		{"identical, first freed", base[:10], true, base[:10], 8, 2},
		{"diverges inside block 1", base[:10], false, cat(base[:6], []int32{99, 98, 97}), 4, 1},
		{"diverges at first token", base[:10], false, cat([]int32{99}, base[1:10]), 0, 0},
		{"whole prompt cached: last block recomputed", base, true, base, 8, 2},
		{"shorter prompt", base, false, base[:5], 4, 1},
		{"prompt of exactly one cached block", base, false, base[:4], 0, 0},
		{"extends the first", base[:8], true, cat(base[:8], []int32{50}), 8, 2},
		{"partial block of first is not reusable", base[:6], false, base[:7], 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 32, BlockSize: 4, PrefixCaching: true})
			a, cachedA := prefill(t, p, tt.first)
			if cachedA != 0 {
				t.Fatalf("first prompt hit %d in an empty cache", cachedA)
			}
			tableA := slices.Clone(a.BlockTable())
			var live []*Seq
			if tt.freeFirst {
				p.Free(a)
			} else {
				live = append(live, a)
			}
			b := p.NewSeq()
			cached, err := p.AllocatePrompt(b, tt.second)
			if err != nil {
				t.Fatal(err)
			}
			if cached != tt.wantCached || b.Computed() != cached || b.Len() != len(tt.second) {
				t.Fatalf("cached %d (Computed %d, Len %d), want %d", cached, b.Computed(), b.Len(), tt.wantCached)
			}
			// A freed first seq's uncached blocks may come back by index, so
			// only a live one shows which blocks are truly shared.
			tableB := b.BlockTable()
			for i, blk := range tableB {
				shared := i < len(tableA) && blk == tableA[i]
				if (i < tt.wantInTable && !shared) || (!tt.freeFirst && i >= tt.wantInTable && shared) {
					t.Fatalf("table %v vs first's %v: block %d shared = %v", tableB, tableA, i, shared)
				}
			}
			st := p.Stats()
			if st.PrefixQueries != int64(len(tt.first)+len(tt.second)) || st.PrefixHits != int64(tt.wantCached) {
				t.Fatalf("queries %d hits %d", st.PrefixQueries, st.PrefixHits)
			}
			live = append(live, b)
			if err := checkPool(p, live); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(b, tt.second[cached:]); err != nil {
				t.Fatal(err)
			}
			for _, s := range live {
				p.Free(s)
			}
			if err := checkPool(p, nil); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.UsedBlocks != 0 {
				t.Fatalf("used %d after freeing all", st.UsedBlocks)
			}
		})
	}
}

func TestPartialBlockCachedOnceFull(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
	a, _ := prefill(t, p, seqTokens(0, 6))
	if _, c := prefill(t, p, cat(seqTokens(0, 6), []int32{99, 98, 97})); c != 4 {
		t.Fatalf("partial block reused: cached %d, want 4", c)
	}
	// Decoding fills a's partial block, which then becomes reusable.
	for i := 6; i < 8; i++ {
		if _, err := p.AppendSlots(a, 1); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(a, []int32{int32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := p.NewSeq()
	if got, _ := p.AllocatePrompt(c, seqTokens(0, 9)); got != 8 {
		t.Fatalf("after decode filled the block: cached %d, want 8", got)
	}
	if c.BlockTable()[1] != a.BlockTable()[1] {
		t.Fatal("the decoded block is not the one reused")
	}
}

func TestDuplicatePrefixRegisteredOnce(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
	P := seqTokens(0, 8)
	x, y := cat(P, seqTokens(100, 4), []int32{1}), cat(P, seqTokens(200, 4), []int32{2})
	// Both admitted before either computed anything: no hits.
	a, b := p.NewSeq(), p.NewSeq()
	for _, s := range []struct {
		seq    *Seq
		prompt []int32
	}{{a, x}, {b, y}} {
		if c, err := p.AllocatePrompt(s.seq, s.prompt); err != nil || c != 0 {
			t.Fatalf("AllocatePrompt = %d, %v", c, err)
		}
	}
	if err := p.Commit(a, x); err != nil {
		t.Fatal(err)
	}
	if err := p.Commit(b, y); err != nil {
		t.Fatal(err)
	}
	// a registered P and its own block; b's copies of P are duplicates, but
	// its own block 2 is registered, chained to a's P.
	c, cached := prefill(t, p, cat(y[:12], []int32{3}))
	if cached != 12 {
		t.Fatalf("cached %d, want 12", cached)
	}
	ta, tb, tc := a.BlockTable(), b.BlockTable(), c.BlockTable()
	if tc[0] != ta[0] || tc[1] != ta[1] || tc[2] != tb[2] {
		t.Fatalf("tables a %v b %v c %v: want c = a[0] a[1] b[2] fresh", ta, tb, tc)
	}
	if err := checkPool(p, []*Seq{a, b, c}); err != nil {
		t.Fatal(err)
	}
	// b's duplicate blocks go to the free list, not the cache; its block 2
	// stays with c.
	p.Free(b)
	wantStats(t, p, 16-6, 0, 6)
	p.Free(c)
	p.Free(a)
	wantStats(t, p, 16-4, 4, 0) // P (2), a's block 2, b's block 2
}

func TestLRUEvictionOrder(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 6, BlockSize: 2, PrefixCaching: true})
	prompts := [][]int32{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}
	var seqs []*Seq
	for _, pr := range prompts {
		s, _ := prefill(t, p, pr)
		seqs = append(seqs, s)
	}
	tables := make([][]int32, 3)
	for i, s := range seqs {
		tables[i] = slices.Clone(s.BlockTable())
		p.Free(s)
	}
	// Released in order a, b, c, each back to front.
	want := []int32{tables[0][1], tables[0][0], tables[1][1], tables[1][0], tables[2][1], tables[2][0]}
	if got := lruOrder(p); !slices.Equal(got, want) {
		t.Fatalf("evictable order %v, want %v", got, want)
	}
	// A hit on b takes b's first block out of the evictable set; the fresh
	// block for the rest evicts the least recently released: a's last.
	hit, cached := prefill(t, p, []int32{5, 6, 7, 8})
	if cached != 2 {
		t.Fatalf("cached %d", cached)
	}
	if got := hit.BlockTable()[1]; got != tables[0][1] {
		t.Fatalf("fresh block %d, want a's last block %d (LRU)", got, tables[0][1])
	}
	if st := p.Stats(); st.Evictions != 1 || st.CachedBlocks != 4 {
		t.Fatalf("stats %+v", st)
	}
	// b's first block, used again, is released last: evicted last. The
	// recomputed copy of b's second block is a duplicate (b's own is still
	// cached), so it goes to the free list.
	p.Free(hit)
	want = []int32{tables[0][0], tables[1][1], tables[2][1], tables[2][0], tables[1][0]}
	if got := lruOrder(p); !slices.Equal(got, want) {
		t.Fatalf("evictable order %v, want %v", got, want)
	}
	if _, c := prefill(t, p, []int32{1, 2, 3, 4, 5}); c != 2 {
		t.Fatalf("cached %d, want 2: a's first block only, its second was evicted", c)
	}
}

func TestCollisionsNeverHit(t *testing.T) {
	sum := func(t []int32) uint64 {
		var s uint64
		for _, x := range t {
			s += uint64(x)
		}
		return s
	}
	tests := []struct {
		name   string
		hash   func(uint64, []int32) uint64
		warm   [][]int32 // prefilled and kept alive, in order
		prompt []int32
		want   int
	}{
		{"constant hash, same first block", func(uint64, []int32) uint64 { return 7 },
			[][]int32{{1, 2, 3, 4, 5}}, []int32{1, 2, 3, 4, 5}, 2},
		{"constant hash, different tokens", func(uint64, []int32) uint64 { return 7 },
			[][]int32{{1, 2, 3, 4, 5}}, []int32{2, 1, 3, 4, 5}, 0},
		{"hash of tokens only, same tokens after a different parent",
			func(_ uint64, t []int32) uint64 { return sum(t) },
			[][]int32{{1, 2, 3, 4, 0}, {9, 9, 3, 4, 0}}, []int32{9, 9, 3, 4, 1}, 2},
		{"hash of tokens only, whole chain equal",
			func(_ uint64, t []int32) uint64 { return sum(t) },
			[][]int32{{1, 2, 3, 4, 0}}, []int32{1, 2, 3, 4, 1}, 4},
		{"weak hash, permuted tokens", func(p uint64, t []int32) uint64 { return p*31 + sum(t) },
			[][]int32{{1, 2, 3, 4, 0}}, []int32{2, 1, 4, 3, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 16, BlockSize: 2, PrefixCaching: true})
			p.hash = tt.hash
			var live []*Seq
			for _, w := range tt.warm {
				s, _ := prefill(t, p, w)
				live = append(live, s)
			}
			s, cached := prefill(t, p, tt.prompt)
			if cached != tt.want {
				t.Fatalf("cached %d, want %d", cached, tt.want)
			}
			if err := checkPool(p, append(live, s)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestEvictedParentNeverReachedThroughItsHash is the case a parent-hash
// check alone gets wrong: block X was cached after prefix a1; a1 is evicted
// and a different prefix b1 with the same hash is cached; b1+X's tokens must
// not hit X, whose K/V was computed after a1.
func TestEvictedParentNeverReachedThroughItsHash(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 5, BlockSize: 2, PrefixCaching: true})
	p.hash = func(parent uint64, t []int32) uint64 { // [1 2] and [2 1] collide
		h := parent * 31
		for _, x := range t {
			h += uint64(x)
		}
		return h
	}
	s1, s2 := p.NewSeq(), p.NewSeq()
	for _, c := range []struct {
		s      *Seq
		prompt []int32
	}{{s1, []int32{1, 2, 7}}, {s2, []int32{1, 2, 6, 6, 0}}} {
		if _, err := p.AllocatePrompt(c.s, c.prompt); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(s1, []int32{1, 2, 7}); err != nil { // registers a1 = [1 2]
		t.Fatal(err)
	}
	if err := p.Commit(s2, []int32{1, 2, 6, 6, 0}); err != nil { // a1 duplicate; X = [6 6] registered under a1
		t.Fatal(err)
	}
	p.Free(s1) // a1 evictable while X is in use by s2
	s3, cached := prefill(t, p, []int32{2, 1, 9})
	if cached != 0 {
		t.Fatalf("b1 hit a1: cached %d", cached)
	}
	if st := p.Stats(); st.Evictions != 1 {
		t.Fatalf("evictions %d, want 1 (a1)", st.Evictions)
	}
	if err := checkPool(p, []*Seq{s2, s3}); err != nil {
		t.Fatal(err)
	}
	p.Free(s3) // b1 = [2 1] cached under a1's old hash
	p.Free(s2) // X left the cache with a1, so it is freed, not cached
	wantStats(t, p, 4, 1, 0)
	if _, cached := prefill(t, p, []int32{2, 1, 6, 6, 0}); cached != 2 {
		t.Fatalf("cached %d, want 2 (b1 only, never X)", cached)
	}
}

func TestResetPrefixCache(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
	live, _ := prefill(t, p, seqTokens(0, 9))
	gone, _ := prefill(t, p, seqTokens(100, 9))
	p.Free(gone)
	wantStats(t, p, 16-3-2, 2, 3)
	before := p.Stats()
	p.ResetPrefixCache()
	wantStats(t, p, 16-3, 0, 3)
	if st := p.Stats(); st.Evictions != before.Evictions || st.PrefixQueries != before.PrefixQueries {
		t.Fatal("reset changed counters")
	}
	if _, c := prefill(t, p, seqTokens(100, 9)); c != 0 {
		t.Fatalf("dropped prefix hit %d", c)
	}
	// Blocks in use stay cached.
	if _, c := prefill(t, p, seqTokens(0, 9)); c != 8 {
		t.Fatalf("live prefix cached %d, want 8", c)
	}
	_ = live
}

func TestPrefixCachingOff(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4})
	a, _ := prefill(t, p, seqTokens(0, 9))
	b, cached := prefill(t, p, seqTokens(0, 9))
	if cached != 0 {
		t.Fatalf("cached %d without prefix caching", cached)
	}
	p.Free(a)
	p.Free(b)
	wantStats(t, p, 8, 0, 0)
	if st := p.Stats(); st.PrefixQueries != 0 || st.PrefixHits != 0 {
		t.Fatalf("counted queries without prefix caching: %+v", st)
	}
}

func TestRecomputeAfterPreemptionHits(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
	prompt := seqTokens(0, 10)
	s, _ := prefill(t, p, prompt)
	all := slices.Clone(prompt)
	for i := range 7 { // decode 7 tokens
		if _, err := p.AppendSlots(s, 1); err != nil {
			t.Fatal(err)
		}
		tok := int32(500 + i)
		if err := p.Commit(s, []int32{tok}); err != nil {
			t.Fatal(err)
		}
		all = append(all, tok)
	}
	p.Free(s) // preempted
	cached, err := p.AllocatePrompt(s, all)
	if err != nil || cached != 16 {
		t.Fatalf("re-admission cached %d, %v; want 16 of %d", cached, err, len(all))
	}
}
