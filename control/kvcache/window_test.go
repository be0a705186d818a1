package kvcache

import (
	"slices"
	"testing"
)

// TestWindowBoundsLongDecode: with a window, a long decode holds at most
// Window/BlockSize+2 blocks however long it runs; the blocks it released
// are counted, and the pool holds no leak when it ends.
func TestWindowBoundsLongDecode(t *testing.T) {
	tests := []struct {
		name            string
		window, bs      int
		prompt, decode  int
		prefixCaching   bool
		wantMaxPeakUsed int
	}{
		{"window 8 block 4", 8, 4, 5, 300, false, 4},
		{"window 8 block 4, prefix caching", 8, 4, 5, 300, true, 4},
		{"window 5 block 4", 5, 4, 9, 200, true, 4},
		{"window 1 block 4", 1, 4, 3, 50, true, 2},
		{"window 64 block 16", 64, 16, 40, 1000, true, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 64, BlockSize: tt.bs, PrefixCaching: tt.prefixCaching, Window: tt.window})
			s, _ := prefill(t, p, seqTokens(0, tt.prompt))
			for i := range tt.decode {
				if _, err := p.AppendSlots(s, 1); err != nil {
					t.Fatalf("token %d: %v", i, err)
				}
				if err := p.Commit(s, seqTokens(tt.prompt+i, 1)); err != nil {
					t.Fatal(err)
				}
				if err := checkPool(p, []*Seq{s}); err != nil {
					t.Fatalf("token %d: %v", i, err)
				}
			}
			n := tt.prompt + tt.decode
			wantGone := (n - tt.window + 1) / tt.bs
			st := p.Stats()
			if st.PeakUsedBlocks > tt.wantMaxPeakUsed || st.UsedBlocks != len(s.BlockTable())-wantGone {
				t.Errorf("peak used %d (want <= %d), used %d with %d entries of which %d gone",
					st.PeakUsedBlocks, tt.wantMaxPeakUsed, st.UsedBlocks, len(s.BlockTable()), wantGone)
			}
			if st.WindowReleases != int64(wantGone) {
				t.Errorf("%d window releases, want %d", st.WindowReleases, wantGone)
			}
			p.Free(s)
			if err := checkPool(p, nil); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.UsedBlocks != 0 {
				t.Errorf("%d blocks used after Free", st.UsedBlocks)
			}
		})
	}
}

// TestWindowPrefixReuse defines how a windowed sequence's released blocks
// serve later prompts: a released block that was registered stays cached,
// so a prompt with the same prefix reuses the whole chain while it is
// cached (its blocks before the new sequence's window are released again
// at once); once the first block is evicted its descendants leave the cache
// with it and the prompt is recomputed from the start.
func TestWindowPrefixReuse(t *testing.T) {
	const bs, window = 4, 6
	p := mustPool(t, Config{NumBlocks: 12, BlockSize: bs, PrefixCaching: true, Window: window})
	a, _ := prefill(t, p, seqTokens(0, 21)) // blocks 0..5; 0..3 wholly before position 21-6+1 = 16
	if got, want := a.BlockTable(), []int32{GoneBlock, GoneBlock, GoneBlock, GoneBlock, 4, 5}; !slices.Equal(got, want) {
		t.Fatalf("table after a 21-token prefill with window %d: %v, want %v", window, got, want)
	}
	wantStats(t, p, 6, 4, 2)

	// While a runs: a prompt sharing 20 tokens hits all five full blocks;
	// the three before its first query's window (position 20-6+1 = 15) are
	// released again at once.
	b := p.NewSeq()
	cached, err := p.AllocatePrompt(b, append(seqTokens(0, 20), 99))
	if err != nil || cached != 20 {
		t.Fatalf("AllocatePrompt: cached %d, %v; want 20", cached, err)
	}
	if got, want := b.BlockTable(), []int32{GoneBlock, GoneBlock, GoneBlock, 3, 4, 6}; !slices.Equal(got, want) {
		t.Fatalf("table of the hit: %v, want %v", got, want)
	}
	if err := checkPool(p, []*Seq{a, b}); err != nil {
		t.Fatal(err)
	}
	p.Free(a)
	p.Free(b)

	// Fill the pool with unrelated prompts: the oldest released blocks (the
	// first of the chain) are evicted first, and the chain goes with them.
	c, _ := prefill(t, p, seqTokens(1000, 9*bs))
	if st := p.Stats(); st.Evictions == 0 {
		t.Fatalf("no eviction: %+v", st)
	}
	d := p.NewSeq()
	if cached, err := p.AllocatePrompt(d, append(seqTokens(0, 20), 99)); err != nil || cached != 0 {
		t.Fatalf("after evicting the first block: cached %d, %v; want 0", cached, err)
	}
	if err := checkPool(p, []*Seq{c, d}); err != nil {
		t.Fatal(err)
	}
}

// TestWindowForkAndTruncate: a fork shares only the blocks its parent
// still holds, and both, truncated and freed, leave no reference behind.
func TestWindowForkAndTruncate(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true, Window: 4})
	s, _ := prefill(t, p, seqTokens(0, 13))
	c := p.Fork(s)
	if !slices.Equal(c.BlockTable(), s.BlockTable()) || c.BlockTable()[1] != GoneBlock || c.BlockTable()[2] == GoneBlock {
		t.Fatalf("fork table %v, parent %v", c.BlockTable(), s.BlockTable())
	}
	for _, q := range []*Seq{s, c} {
		if _, err := p.AppendSlots(q, 6); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(q, seqTokens(13, 2)); err != nil {
			t.Fatal(err)
		}
		if err := p.Truncate(q, 15); err != nil {
			t.Fatal(err)
		}
	}
	if err := checkPool(p, []*Seq{s, c}); err != nil {
		t.Fatal(err)
	}
	p.Free(s)
	p.Free(c)
	if err := checkPool(p, nil); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.UsedBlocks != 0 {
		t.Fatalf("%d blocks still used", st.UsedBlocks)
	}
}

func TestWindowConfig(t *testing.T) {
	if _, err := New(Config{NumBlocks: 4, BlockSize: 4, Window: -1}); err == nil {
		t.Fatal("a negative window was accepted")
	}
}
