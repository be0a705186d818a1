package kvcache

import (
	"sync"
	"testing"
)

// TestCachedPrefixAgreesWithAllocate checks that the read-only probe
// answers what AllocatePrompt then finds, and that asking changes nothing
// (no query counted, no block taken).
func TestCachedPrefixAgreesWithAllocate(t *testing.T) {
	base := seqTokens(0, 12)
	tests := []struct {
		name    string
		first   []int32 // prefilled and freed before the probe (nil: empty cache)
		caching bool
		probe   []int32
		want    int
	}{
		{"empty cache", nil, true, base[:10], 0},
		{"identical", base[:10], true, base[:10], 8},
		{"diverges inside block 1", base[:10], true, cat(base[:6], []int32{99, 98}), 4},
		{"diverges at first token", base[:10], true, cat([]int32{99}, base[1:10]), 0},
		{"whole prompt cached: last block not counted", base, true, base, 8},
		{"one block exactly", base, true, base[:4], 0},
		{"extends the first", base[:8], true, cat(base[:8], []int32{50}), 8},
		{"caching off", base[:10], false, base[:10], 0},
		{"empty probe", base[:10], true, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 32, BlockSize: 4, PrefixCaching: tt.caching})
			if tt.first != nil {
				s, _ := prefill(t, p, tt.first)
				p.Free(s)
			}
			before := p.Stats()
			if got := p.CachedPrefix(tt.probe); got != tt.want {
				t.Fatalf("CachedPrefix = %d, want %d", got, tt.want)
			}
			if after := p.Stats(); after != before {
				t.Fatalf("the probe changed the pool: %+v -> %+v", before, after)
			}
			if err := checkPool(p, nil); err != nil {
				t.Fatal(err)
			}
			if len(tt.probe) == 0 {
				return
			}
			s := p.NewSeq()
			cached, err := p.AllocatePrompt(s, tt.probe)
			if err != nil {
				t.Fatal(err)
			}
			if cached != tt.want {
				t.Fatalf("AllocatePrompt found %d, the probe said %d", cached, tt.want)
			}
		})
	}
}

// TestCachedPrefixConcurrent probes while another goroutine allocates,
// commits and frees (run with -race): the probe sees a consistent cache.
func TestCachedPrefixConcurrent(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: true})
	prompts := [][]int32{seqTokens(0, 13), seqTokens(100, 13), seqTokens(200, 13)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 300 {
			s, _ := prefill(t, p, prompts[i%len(prompts)])
			p.Free(s)
		}
	}()
	for i := range 300 {
		if got := p.CachedPrefix(prompts[i%len(prompts)]); got%4 != 0 || got > 12 {
			t.Errorf("CachedPrefix = %d: not whole blocks below the last token", got)
			break
		}
	}
	wg.Wait()
	if got := p.CachedPrefix(prompts[2]); got != 12 {
		t.Errorf("after the last prefill the probe finds %d, want 12", got)
	}
}
