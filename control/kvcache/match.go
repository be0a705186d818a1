package kvcache

// CachedPrefix returns how many leading tokens of a prompt AllocatePrompt
// would find in the prefix cache right now: the same walk over the chain of
// full blocks (a multiple of BlockSize, never len(tokens)), without taking
// the blocks, changing the LRU order or counting a query. It is the cheap
// read-only probe a balancer asks every replica before choosing one; the
// answer may be stale by the time the request is admitted (a block can be
// evicted meanwhile), which costs a recomputation, never correctness.
// Safe for concurrent use with the step loop.
func (p *Pool) CachedPrefix(tokens []int32) int {
	if !p.cfg.PrefixCaching || len(tokens) == 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	bs := p.cfg.BlockSize
	h, id, hit := rootHash, uint64(0), 0
	for i := range (len(tokens) - 1) / bs {
		chunk := tokens[i*bs : (i+1)*bs]
		hi := p.hash(h, chunk)
		b, ok := p.lookup(hi, id, chunk)
		if !ok {
			break
		}
		h, id, hit = hi, p.blocks[b].id, hit+1
	}
	return hit * bs
}
