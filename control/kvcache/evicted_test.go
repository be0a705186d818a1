package kvcache

import (
	"slices"
	"testing"
)

// evictedKeys are the keys of evs, in order.
func evictedKeys(evs []Evicted) []BlockKey {
	out := make([]BlockKey, len(evs))
	for i, e := range evs {
		out[i] = e.Key
	}
	return out
}

// TestEvictedCarryPromptKeys: with KeepEvicted, the cached blocks an
// allocation evicts are recorded with the keys PromptKeys gives their
// prompt, their tokens and their block; nothing is recorded without it.
func TestEvictedCarryPromptKeys(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(map[bool]string{true: "keep", false: "off"}[keep], func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 4, BlockSize: 4, PrefixCaching: true, KeepEvicted: keep})
			prompt := seqTokens(100, 13) // 3 full blocks cached (the 4th holds the last token)
			s, _ := prefill(t, p, prompt)
			table := slices.Clone(s.BlockTable())
			p.Free(s)
			if got := p.TakeEvicted(nil); len(got) != 0 {
				t.Fatalf("%d evicted before any eviction", len(got))
			}
			// 16 fresh tokens need every block: the 3 cached ones go.
			o, _ := prefill(t, p, seqTokens(500, 16))
			evs := p.TakeEvicted(nil)
			if !keep {
				if len(evs) != 0 {
					t.Fatalf("%d evicted recorded without KeepEvicted", len(evs))
				}
				return
			}
			want := PromptKeys(nil, prompt, 4)
			if len(evs) != 3 {
				t.Fatalf("%d evicted, want 3", len(evs))
			}
			// Evicted deepest first (Free releases back to front); the
			// first eviction takes the head's descendants with it.
			for _, e := range evs {
				i := slices.Index(want, e.Key)
				if i < 0 {
					t.Fatalf("evicted block %d has a key PromptKeys does not give", e.Block)
				}
				if !slices.Equal(e.Tokens, prompt[i*4:(i+1)*4]) || e.Block != table[i] {
					t.Errorf("block %d: tokens %v in block %d, want %v in block %d", i, e.Tokens, e.Block, prompt[i*4:(i+1)*4], table[i])
				}
			}
			if st := p.Stats(); st.Evictions != 3 {
				t.Errorf("Evictions = %d, want 3", st.Evictions)
			}
			if got := p.TakeEvicted(nil); len(got) != 0 {
				t.Errorf("TakeEvicted returned %d again", len(got))
			}
			p.Free(o)
		})
	}
}

// TestKeysFollowHitsAndForks: a sequence that reuses cached blocks and a
// fork continue the key chain from what they share, so the blocks they
// register carry the keys of their whole prompt.
func TestKeysFollowHitsAndForks(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true, KeepEvicted: true})
	base := seqTokens(1, 9)
	a, _ := prefill(t, p, base) // blocks 0-1 cached
	p.Free(a)
	long := append(slices.Clone(base[:8]), seqTokens(40, 9)...) // hits 2 blocks, registers 2 more
	b, cached := prefill(t, p, long)
	if cached != 8 {
		t.Fatalf("cached %d, want 8", cached)
	}
	c := p.Fork(b)
	if _, err := p.AppendSlots(c, 4); err != nil {
		t.Fatal(err)
	}
	tail := seqTokens(70, 4)
	if err := p.Commit(c, tail); err != nil { // c fills its copy of block 4, then a fifth
		t.Fatal(err)
	}
	p.Free(b)
	p.Free(c)
	p.EvictAll()
	got := evictedKeys(p.TakeEvicted(nil))
	forked := append(slices.Clone(long), tail...)
	for _, want := range [][]BlockKey{PromptKeys(nil, long, 4), PromptKeys(nil, forked, 4)} {
		for i, k := range want {
			if !slices.Contains(got, k) {
				t.Errorf("block %d's key not among the evicted", i)
			}
		}
	}
	if st := p.Stats(); st.Evictions != 0 || st.CachedBlocks != 0 {
		t.Errorf("after EvictAll: Evictions %d (want 0, a flush is not counted), cached %d", st.Evictions, st.CachedBlocks)
	}
}

// TestEvictAllKeepsUsedBlocks: EvictAll records evictable blocks only; a
// block in use stays with its sequence, and ResetPrefixCache records
// nothing.
func TestEvictAllKeepsUsedBlocks(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: true, KeepEvicted: true})
	a, _ := prefill(t, p, seqTokens(1, 9))
	b, _ := prefill(t, p, seqTokens(100, 9))
	p.Free(b)
	p.EvictAll()
	if evs := p.TakeEvicted(nil); len(evs) != 2 {
		t.Fatalf("EvictAll recorded %d blocks, want b's 2", len(evs))
	}
	if err := checkPool(p, []*Seq{a}); err != nil {
		t.Fatal(err)
	}
	p.Free(a)
	p.ResetPrefixCache()
	if evs := p.TakeEvicted(nil); len(evs) != 0 {
		t.Errorf("ResetPrefixCache recorded %d blocks", len(evs))
	}
}

// TestCachedPrefix: CachedPrefix counts the blocks AllocatePrompt then
// reuses, and takes nothing.
func TestCachedPrefix(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: true})
	prompt := seqTokens(1, 14)
	a, _ := prefill(t, p, prompt)
	p.Free(a)
	for _, c := range []struct {
		name   string
		prompt []int32
		want   int
	}{
		{"same", prompt, 3},
		{"last token in a cached block", prompt[:12], 2},
		{"diverges in block 2", append(slices.Clone(prompt[:9]), 999, 999, 999, 999), 2},
		{"other", seqTokens(50, 14), 0},
		{"empty", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := p.Stats()
			if got := p.CachedPrefix(c.prompt); got != c.want {
				t.Errorf("CachedPrefix = %d, want %d", got, c.want)
			}
			if after := p.Stats(); after != before {
				t.Errorf("CachedPrefix changed the pool: %+v -> %+v", before, after)
			}
			if len(c.prompt) == 0 {
				return
			}
			s := p.NewSeq()
			cached, err := p.AllocatePrompt(s, c.prompt)
			if err != nil {
				t.Fatal(err)
			}
			if cached != 4*c.want {
				t.Errorf("AllocatePrompt cached %d, CachedPrefix said %d blocks", cached, c.want)
			}
			p.Free(s)
		})
	}
	off := mustPool(t, Config{NumBlocks: 8, BlockSize: 4})
	if got := off.CachedPrefix(prompt); got != 0 {
		t.Errorf("without PrefixCaching: %d", got)
	}
}
