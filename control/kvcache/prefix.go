package kvcache

import (
	"errors"
	"fmt"
	"slices"
)

// rootHash is the parent hash of a sequence's first block.
const rootHash uint64 = 0

// chainHash is h_i = H(h_{i-1}, tokens of block i): 64-bit FNV-1a over the
// parent hash's 8 bytes and each token id's 4 bytes, little-endian. FNV-1a
// needs no seed (so hashes are reproducible across runs, unlike maphash) and
// no allocation; collisions are harmless because lookups verify (see
// lookup).
func chainHash(parent uint64, tokens []int32) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for range 8 {
		h = (h ^ parent&0xff) * prime
		parent >>= 8
	}
	for _, t := range tokens {
		u := uint64(uint32(t))
		h = (h ^ u&0xff) * prime
		h = (h ^ u>>8&0xff) * prime
		h = (h ^ u>>16&0xff) * prime
		h = (h ^ u>>24) * prime
	}
	return h
}

// blockTokens is the token store of block b: the committed token of each of
// its slots, which lookups compare to rule out hash collisions.
func (p *Pool) blockTokens(b int32) []int32 {
	bs := p.cfg.BlockSize
	return p.tokens[int(b)*bs : (int(b)+1)*bs]
}

// AllocatePrompt gives the empty sequence s slots for tokens, its prompt (or,
// after a preemption, prompt plus the output so far). With PrefixCaching it
// first reuses the longest chain of cached full blocks matching the prompt's
// prefix, then allocates fresh blocks for the rest. It returns cached, the
// number of leading tokens whose K/V is already in the cache (a multiple of
// BlockSize; s.Computed() == cached, s.Len() == len(tokens)); the caller
// computes tokens[cached:] and Commits them.
//
// cached is never len(tokens): the last token must be computed to get its
// logits, so a cached block holding it is not reused (a fresh block is
// allocated and the block recomputed).
//
// It is all-or-nothing: on ErrNoSpace (or any error) s and the pool are
// unchanged, and no query is counted in Stats.
func (p *Pool) AllocatePrompt(s *Seq, tokens []int32) (cached int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.own(s); err != nil {
		return 0, err
	}
	if s.n != 0 {
		return 0, fmt.Errorf("kvcache: allocate prompt: sequence already holds %d tokens; Free it first", s.n)
	}
	if len(tokens) == 0 {
		return 0, errors.New("kvcache: allocate prompt: empty prompt")
	}
	bs := p.cfg.BlockSize
	maxHit := 0 // full blocks that end before the last token
	if p.cfg.PrefixCaching {
		maxHit = (len(tokens) - 1) / bs
	}
	h, id, idBlock := rootHash, uint64(0), int32(-1)
	for i := range maxHit {
		chunk := tokens[i*bs : (i+1)*bs]
		hi := p.hash(h, chunk)
		b, ok := p.lookup(hi, id, chunk)
		if !ok {
			break
		}
		s.blocks = append(s.blocks, b)
		h, id, idBlock = hi, p.blocks[b].id, b
	}
	hit := len(s.blocks)
	avail := p.available()
	for _, b := range s.blocks {
		if p.blocks[b].state == stateCached {
			avail-- // taking it for this prompt, so it cannot also be evicted for it
		}
	}
	fresh := p.blocksFor(len(tokens)) - hit
	if fresh > avail {
		s.blocks = s.blocks[:0]
		return 0, ErrNoSpace
	}
	// The hits are acquired before any eviction, so fresh blocks never evict
	// them; nor their descendants in the cache, whose parents are hits too.
	for _, b := range s.blocks {
		p.acquire(b)
	}
	for range fresh {
		s.blocks = append(s.blocks, p.allocBlock())
	}
	s.n, s.computed = len(tokens), hit*bs
	s.hash, s.chainOK, s.chainID, s.chainBlock = h, true, id, idBlock
	if idBlock >= 0 {
		s.key = p.blocks[idBlock].key
	}
	if p.cfg.PrefixCaching {
		p.prefixQueries += int64(len(tokens))
		p.prefixHits += int64(hit * bs)
	}
	p.releaseOutOfWindow(s) // hits before the first query's window are not needed
	return hit * bs, nil
}

// lookup returns the cached block for chained hash h whose parent entry is
// parentID and whose tokens are tokens. Both checks make a hit exact: by
// induction from the first block (parentID 0) the cached prefix equals the
// prompt's token for token, so a 64-bit collision costs a miss, never wrong
// K/V.
func (p *Pool) lookup(h, parentID uint64, tokens []int32) (int32, bool) {
	b, ok := p.cache[h]
	if !ok || p.blocks[b].parentID != parentID || !slices.Equal(p.blockTokens(b), tokens) {
		return -1, false
	}
	return b, true
}

// Commit records that the K/V of tokens, the next len(tokens) reserved
// slots of s in order, has been computed (call it after the forward that
// wrote them). Every block that becomes full gets its chained hash and, with
// PrefixCaching, is registered in the prefix cache so later prompts can
// reuse it; if an equal prefix is already registered the block stays
// private and is freed, not cached, when released.
//
// With a Config.Window, the blocks that fall wholly before the window of
// the next query are released afterwards (see releaseOutOfWindow).
//
// Committing more tokens than s has reserved but uncommitted slots is an
// error and changes nothing.
func (p *Pool) Commit(s *Seq, tokens []int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.own(s); err != nil {
		return err
	}
	if len(tokens) > s.n-s.computed {
		return fmt.Errorf("kvcache: commit: %d tokens but the sequence has only %d uncommitted slots (Len %d, Computed %d)",
			len(tokens), s.n-s.computed, s.n, s.computed)
	}
	if !p.cfg.PrefixCaching {
		s.computed += len(tokens)
		p.releaseOutOfWindow(s)
		return nil
	}
	bs := p.cfg.BlockSize
	for len(tokens) > 0 {
		b, off := s.blocks[s.computed/bs], s.computed%bs
		k := copy(p.blockTokens(b)[off:], tokens)
		tokens = tokens[k:]
		s.computed += k
		if off+k == bs {
			p.blockFilled(s, b)
		}
	}
	p.releaseOutOfWindow(s)
	return nil
}

// blockFilled hashes s's block b, just filled, and registers it unless its
// prefix is already cached. Registration needs s's prefix up to b to be a
// live cache entry (s.chainID), so that b's parent link is exact; when that
// chain is broken (a collision, or the entry was evicted meanwhile) s stops
// registering, which loses caching but never correctness.
func (p *Pool) blockFilled(s *Seq, b int32) {
	toks := p.blockTokens(b)
	h := p.hash(s.hash, toks)
	s.hash = h
	if p.cfg.KeepEvicted {
		s.key = ChainKey(s.key, toks)
	}
	if !s.chainOK || p.blocks[b].id != 0 {
		s.chainOK = false
		return
	}
	if s.chainBlock >= 0 && p.blocks[s.chainBlock].id != s.chainID {
		s.chainOK = false // the parent entry left the cache
		return
	}
	if e, ok := p.lookup(h, s.chainID, toks); ok {
		// Computed independently by two sequences: the earlier one stays
		// the cached copy; s's chain continues through it.
		s.chainID, s.chainBlock = p.blocks[e].id, e
		return
	}
	if _, taken := p.cache[h]; taken {
		s.chainOK = false // a different prefix owns this hash
		return
	}
	p.register(b, h, s.chainID, s.chainBlock)
	p.blocks[b].key = s.key
	s.chainID, s.chainBlock = p.blocks[b].id, b
}

// register makes block b the cache entry for hash h, child of the entry
// parentID held by block parent (-1 for a first block).
func (p *Pool) register(b int32, h, parentID uint64, parent int32) {
	p.nextID++
	bl := &p.blocks[b]
	bl.id, bl.hash, bl.parentID, bl.parent = p.nextID, h, parentID, parent
	p.cache[h] = b
	if parent >= 0 {
		pb := &p.blocks[parent]
		bl.childIdx = int32(len(pb.children))
		pb.children = append(pb.children, b)
	}
}

// dropReason says why uncache drops entries: what it counts and records.
type dropReason uint8

const (
	dropReset dropReason = iota // ResetPrefixCache: the K/V is void, neither counted nor kept
	dropEvict                   // room for an allocation: counted in Stats.Evictions, recorded for TakeEvicted
	dropFlush                   // EvictAll: recorded, not counted
)

// uncache removes block b's entry from the prefix cache together with every
// cached descendant (unreachable without it). Those that were evictable go
// to the free list (counted and recorded as why says); those in use stay
// with their sequences and are freed, not cached, when released.
func (p *Pool) uncache(b int32, why dropReason) {
	// Detach b from its parent (which stays cached) by swap-remove.
	if bl := &p.blocks[b]; bl.parent >= 0 {
		pb := &p.blocks[bl.parent]
		last := pb.children[len(pb.children)-1]
		pb.children[bl.childIdx] = last
		p.blocks[last].childIdx = bl.childIdx
		pb.children = pb.children[:len(pb.children)-1]
	}
	p.stack = append(p.stack[:0], b)
	for len(p.stack) > 0 {
		x := p.stack[len(p.stack)-1]
		p.stack = p.stack[:len(p.stack)-1]
		bl := &p.blocks[x]
		if why != dropReset && bl.state == stateCached && p.cfg.KeepEvicted {
			p.evicted = append(p.evicted, Evicted{Block: x, Key: bl.key, Tokens: slices.Clone(p.blockTokens(x))})
		}
		delete(p.cache, bl.hash)
		p.stack = append(p.stack, bl.children...)
		bl.children = bl.children[:0]
		bl.id, bl.hash, bl.parentID, bl.parent, bl.childIdx, bl.key = 0, 0, 0, -1, 0, BlockKey{}
		if bl.state == stateCached {
			p.lruRemove(x)
			p.nCached--
			bl.state = stateFree
			p.free = append(p.free, x)
			if why == dropEvict {
				p.evictions++
			}
		}
	}
}

// ResetPrefixCache drops every evictable cached block back to the free list
// (with the cache entries of any in-use descendants), e.g. after the model's
// weights change. Registered blocks still in use stay cached: their K/V is
// live. Stats counters are kept.
func (p *Pool) ResetPrefixCache() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.lruHead >= 0 {
		p.uncache(p.lruHead, dropReset)
	}
}
