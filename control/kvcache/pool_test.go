package kvcache

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" for success
	}{
		{"ok", Config{NumBlocks: 8, BlockSize: 16, PrefixCaching: true}, ""},
		{"one block of one token", Config{NumBlocks: 1, BlockSize: 1}, ""},
		{"zero blocks", Config{NumBlocks: 0, BlockSize: 16}, "NumBlocks"},
		{"negative blocks", Config{NumBlocks: -1, BlockSize: 16}, "NumBlocks"},
		{"zero block size", Config{NumBlocks: 8, BlockSize: 0}, "BlockSize"},
		{"slots overflow int32", Config{NumBlocks: 1 << 27, BlockSize: 16}, "int32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if st := p.Stats(); st.FreeBlocks != tt.cfg.NumBlocks || st.TotalBlocks != tt.cfg.NumBlocks {
					t.Fatalf("fresh pool stats %+v", st)
				}
				if p.Config() != tt.cfg {
					t.Fatalf("Config() = %+v", p.Config())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New(%+v) error %v, want one naming %s", tt.cfg, err, tt.wantErr)
			}
		})
	}
}

func TestAllocateCommitFreeAccounting(t *testing.T) {
	for _, caching := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-caching", true: "caching"}[caching], func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: caching})
			s := p.NewSeq()
			cached, err := p.AllocatePrompt(s, seqTokens(0, 10))
			if err != nil || cached != 0 {
				t.Fatalf("AllocatePrompt = %d, %v", cached, err)
			}
			if got := s.BlockTable(); !slices.Equal(got, []int32{0, 1, 2}) {
				t.Fatalf("table %v, want [0 1 2] (fresh pool allocates in order)", got)
			}
			if s.Len() != 10 || s.Computed() != 0 {
				t.Fatalf("Len %d Computed %d, want 10 0", s.Len(), s.Computed())
			}
			wantStats(t, p, 5, 0, 3)
			if err := p.Commit(s, seqTokens(0, 6)); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(s, seqTokens(6, 4)); err != nil {
				t.Fatal(err)
			}
			if s.Computed() != 10 {
				t.Fatalf("Computed %d after committing all", s.Computed())
			}
			p.Free(s)
			if s.Len() != 0 || s.Computed() != 0 || len(s.BlockTable()) != 0 {
				t.Fatal("freed seq not empty")
			}
			if caching {
				wantStats(t, p, 6, 2, 0) // the two full blocks stay cached
			} else {
				wantStats(t, p, 8, 0, 0)
			}
			p.Free(s) // twice is harmless
			if err := checkPool(p, nil); err != nil {
				t.Fatal(err)
			}
			// The freed seq is reusable.
			if _, err := p.AllocatePrompt(s, seqTokens(100, 3)); err != nil {
				t.Fatal(err)
			}
			if err := checkPool(p, []*Seq{s}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAllocationOrderIsDeterministic(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 2})
	a, _ := prefill(t, p, seqTokens(0, 5)) // blocks 0 1 2
	b, _ := prefill(t, p, seqTokens(0, 3)) // blocks 3 4
	p.Free(a)
	// LIFO: a's blocks come back in a's order.
	c, _ := prefill(t, p, seqTokens(0, 6))
	if got := c.BlockTable(); !slices.Equal(got, []int32{0, 1, 2}) {
		t.Fatalf("after free, table %v, want [0 1 2]", got)
	}
	if got := b.BlockTable(); !slices.Equal(got, []int32{3, 4}) {
		t.Fatalf("second table %v, want [3 4]", got)
	}
}

func TestMisuseReturnsErrors(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 4, BlockSize: 2, PrefixCaching: true})
	other := mustPool(t, Config{NumBlocks: 4, BlockSize: 2})
	foreign := other.NewSeq()
	s, _ := prefill(t, p, seqTokens(0, 3))
	tests := []struct {
		name string
		call func() error
		want error // nil: any non-nil error
	}{
		{"allocate nil seq", func() error { _, err := p.AllocatePrompt(nil, []int32{1}); return err }, ErrBadSeq},
		{"allocate foreign seq", func() error { _, err := p.AllocatePrompt(foreign, []int32{1}); return err }, ErrBadSeq},
		{"allocate non-empty seq", func() error { _, err := p.AllocatePrompt(s, []int32{1}); return err }, nil},
		{"allocate empty prompt", func() error { _, err := p.AllocatePrompt(p.NewSeq(), nil); return err }, nil},
		{"commit foreign seq", func() error { return p.Commit(foreign, nil) }, ErrBadSeq},
		{"commit beyond slots", func() error { return p.Commit(s, []int32{9}) }, nil},
		{"append foreign seq", func() error { _, err := p.AppendSlots(foreign, 1); return err }, ErrBadSeq},
		{"append negative", func() error { _, err := p.AppendSlots(s, -1); return err }, nil},
	}
	before := p.Stats()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	if p.Stats() != before || s.Len() != 3 || s.Computed() != 3 {
		t.Fatalf("misuse changed state: %+v -> %+v, Len %d Computed %d", before, p.Stats(), s.Len(), s.Computed())
	}
	if p.Fork(foreign) != nil || p.Fork(nil) != nil {
		t.Fatal("Fork of a foreign seq should be nil")
	}
	p.Free(foreign) // no-op
	p.Free(nil)
	var zero Seq
	if zero.Len() != 0 || zero.BlockTable() != nil || zero.Computed() != 0 {
		t.Fatal("zero Seq accessors")
	}
	if _, err := p.AllocatePrompt(&zero, []int32{1}); !errors.Is(err, ErrBadSeq) {
		t.Fatalf("zero Seq: %v", err)
	}
	if err := checkPool(p, []*Seq{s}); err != nil {
		t.Fatal(err)
	}
}

func TestCanAllocate(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 4, BlockSize: 4, PrefixCaching: true})
	a, _ := prefill(t, p, seqTokens(0, 8)) // 2 blocks, both full
	p.Free(a)                              // 2 cached + 2 free: all 4 usable
	prefill(t, p, seqTokens(50, 2))        // takes free block 2: 1 free + 2 cached usable
	tests := []struct {
		n    int
		want bool
	}{{-1, true}, {0, true}, {1, true}, {12, true}, {13, false}, {100, false}}
	for _, tt := range tests {
		if got := p.CanAllocate(tt.n); got != tt.want {
			t.Errorf("CanAllocate(%d) = %v, want %v (stats %+v)", tt.n, got, tt.want, p.Stats())
		}
	}
}

func TestErrNoSpaceChangesNothing(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 6, BlockSize: 4, PrefixCaching: true})
	prompt := seqTokens(0, 12)
	a, _ := prefill(t, p, prompt) // blocks 0 1 2, all registered
	p.Free(a)                     // cached: 0 1 2, free: 3 4 5
	hold, _ := prefill(t, p, seqTokens(100, 8))
	// hold took blocks 3 4 from the free list: free 5, cached 0 1 2.
	before := p.Stats()
	lruBefore := lruOrder(p)

	t.Run("allocate prompt", func(t *testing.T) {
		s := p.NewSeq()
		// Hits blocks 0 1 2 (2 reusable: the last token's block is recomputed),
		// then needs 24/4-2 = 4 fresh blocks of the 1 free + 1 cached left.
		long := append(slices.Clone(prompt), seqTokens(500, 12)...)
		if _, err := p.AllocatePrompt(s, long); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("err %v, want ErrNoSpace", err)
		}
		if s.Len() != 0 || len(s.BlockTable()) != 0 {
			t.Fatal("failed allocation left blocks in the seq")
		}
		if p.Stats() != before || !slices.Equal(lruOrder(p), lruBefore) {
			t.Fatalf("stats %+v -> %+v, lru %v -> %v", before, p.Stats(), lruBefore, lruOrder(p))
		}
	})
	t.Run("append slots", func(t *testing.T) {
		if _, err := p.AppendSlots(hold, 4*5); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("err %v, want ErrNoSpace", err)
		}
		if hold.Len() != 8 || len(hold.BlockTable()) != 2 || p.Stats() != before {
			t.Fatal("failed append changed state")
		}
	})
	t.Run("append slots needing copy-on-write", func(t *testing.T) {
		q := mustPool(t, Config{NumBlocks: 2, BlockSize: 4})
		s, _ := prefill(t, q, seqTokens(0, 6)) // blocks 0 1, 1 partial
		c := q.Fork(s)
		before := q.Stats()
		if _, err := q.AppendSlots(c, 1); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("err %v, want ErrNoSpace", err)
		}
		if c.Len() != 6 || !slices.Equal(c.BlockTable(), []int32{0, 1}) || q.Stats() != before {
			t.Fatal("failed copy-on-write changed state")
		}
		if err := checkPool(q, []*Seq{s, c}); err != nil {
			t.Fatal(err)
		}
	})
	if err := checkPool(p, []*Seq{hold}); err != nil {
		t.Fatal(err)
	}
}

// lruOrder lists the evictable blocks, least recently released first.
func lruOrder(p *Pool) []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int32
	for b := p.lruHead; b >= 0; b = p.blocks[b].next {
		out = append(out, b)
	}
	return out
}

func TestAppendSlots(t *testing.T) {
	tests := []struct {
		name       string
		prompt, n  int
		wantBlocks int
	}{
		{"zero is a no-op", 5, 0, 2},
		{"fits in the last block", 5, 2, 2},
		{"exactly fills it", 5, 3, 2},
		{"crosses one boundary", 5, 4, 3},
		{"from a full block", 8, 1, 3},
		{"many blocks", 1, 20, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: true})
			s, _ := prefill(t, p, seqTokens(0, tt.prompt))
			copies, err := p.AppendSlots(s, tt.n)
			if err != nil || copies != nil {
				t.Fatalf("AppendSlots = %v, %v", copies, err)
			}
			if s.Len() != tt.prompt+tt.n || len(s.BlockTable()) != tt.wantBlocks || s.Computed() != tt.prompt {
				t.Fatalf("Len %d blocks %d Computed %d", s.Len(), len(s.BlockTable()), s.Computed())
			}
			if err := p.Commit(s, seqTokens(1000, tt.n)); err != nil {
				t.Fatal(err)
			}
			if err := checkPool(p, []*Seq{s}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatsFromOtherGoroutines(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			st := p.Stats()
			if st.FreeBlocks+st.CachedBlocks+st.UsedBlocks != st.TotalBlocks {
				t.Errorf("inconsistent snapshot %+v", st)
				return
			}
			_ = p.CanAllocate(8)
		}
	})
	for i := range 200 {
		s, _ := prefill(t, p, seqTokens(i%5, 10))
		if _, err := p.AppendSlots(s, 1); err != nil {
			t.Fatal(err)
		}
		p.Free(s)
	}
	close(stop)
	wg.Wait()
}

func TestStatsHitRate(t *testing.T) {
	if (Stats{}).HitRate() != 0 {
		t.Fatal("empty hit rate")
	}
	if r := (Stats{PrefixQueries: 8, PrefixHits: 2}).HitRate(); r != 0.25 {
		t.Fatalf("hit rate %v", r)
	}
}
