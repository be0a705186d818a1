package kvcache

import (
	"sync"
	"testing"
)

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
		if got := p.CachedPrefix(prompts[i%len(prompts)]); got < 0 || got > 3 {
			t.Errorf("CachedPrefix = %d blocks: not 0..3, the blocks below the last token", got)
			break
		}
	}
	wg.Wait()
	if got := p.CachedPrefix(prompts[2]); got != 3 {
		t.Errorf("after the last prefill the probe finds %d blocks, want 3", got)
	}
}
