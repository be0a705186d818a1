package kvcache

import "testing"

// BenchmarkAllocatePromptHit measures admission of a 1,000-token prompt
// whose first 992 tokens (62 blocks of 16) are cached: 62 chained hashes,
// lookups and token comparisons, one fresh block, then the Free.
func BenchmarkAllocatePromptHit(b *testing.B) {
	p := mustPool(b, Config{NumBlocks: 256, BlockSize: 16, PrefixCaching: true})
	prompt := seqTokens(1000, 1000)
	warm, _ := prefill(b, p, prompt)
	p.Free(warm)
	s := p.NewSeq()
	b.ReportAllocs()
	for b.Loop() {
		cached, err := p.AllocatePrompt(s, prompt)
		if err != nil || cached != 992 {
			b.Fatalf("cached %d, %v", cached, err)
		}
		p.Free(s)
	}
}
