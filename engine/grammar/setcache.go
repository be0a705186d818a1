package grammar

// setCache interns the thread sets a State's Mask walks reach and remembers
// the transitions between them, a lazily built DFA over the grammar's
// thread sets. Walking a vocabulary trie steps from the same few sets over
// and over: under `.*` every byte leads back to one set, so without the
// cache each of a 128k vocabulary's ~400k trie nodes would be a full step,
// with it a table lookup. Transitions are a function of the set and the
// byte alone, so a cached one is exactly the step it replaces. The cache
// belongs to one State and is emptied, between Masks, once it passes
// maxCacheBytes.
type setCache struct {
	sets  []threadSet
	bits  [][4]uint64        // the bytes some thread of each set consumes
	index map[uint64][]int32 // content hash -> ids of the sets with it
	trans u64map             // set<<8 | byte -> next set, -1 when none
	bytes int
}

// maxCacheBytes bounds a State's cache of thread sets and transitions.
const maxCacheBytes = 2 << 20

func (c *setCache) clear() {
	c.sets, c.bits, c.index, c.bytes = c.sets[:0], c.bits[:0], nil, 0
	c.trans = u64map{}
}

func hashSet(t *threadSet) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) { h = (h ^ v) * 1099511628211 }
	for _, v := range t.data {
		mix(uint64(uint32(v)))
	}
	for _, v := range t.ends {
		mix(uint64(uint32(v)) | 1<<40)
	}
	if t.accept {
		mix(1 << 50)
	}
	return h
}

func equalSet(a, b *threadSet) bool {
	if a.accept != b.accept || len(a.data) != len(b.data) || len(a.ends) != len(b.ends) {
		return false
	}
	for i, v := range a.data {
		if b.data[i] != v {
			return false
		}
	}
	for i, v := range a.ends {
		if b.ends[i] != v {
			return false
		}
	}
	return true
}

// intern returns the id of a set equal to t, adding a copy of t if new.
func (c *setCache) intern(g *Grammar, t *threadSet) int32 {
	h := hashSet(t)
	for _, id := range c.index[h] {
		if equalSet(&c.sets[id], t) {
			return id
		}
	}
	if c.index == nil {
		c.index = map[uint64][]int32{}
	}
	id := int32(len(c.sets))
	var cp threadSet
	cp.copyFrom(t)
	c.sets = append(c.sets, cp)
	c.bits = append(c.bits, g.allowed(t))
	c.index[h] = append(c.index[h], id)
	c.bytes += 4*(len(t.data)+len(t.ends)) + 128
	return id
}

// next returns the set after byte c from set id (-1: no thread takes c),
// stepping with p on a miss. On a miss that runs out of budget it returns
// -1 and caches nothing; p.over tells.
func (c *setCache) next(g *Grammar, p *stepper, tmp *threadSet, id int32, b byte) int32 {
	key := uint64(id)<<8 | uint64(b)
	if v, ok := c.trans.get(key); ok {
		return v
	}
	p.step(tmp, &c.sets[id], b)
	if p.over {
		return -1
	}
	v := int32(-1)
	if !tmp.empty() {
		v = c.intern(g, tmp)
	}
	c.trans.put(key, v)
	c.bytes += 24
	return v
}
