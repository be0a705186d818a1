package grammar

import "sync"

// setCache interns the thread sets that generations of one Grammar reach
// and remembers the transitions between them and their masks: a lazily
// built DFA over the grammar's thread sets, shared by every State of the
// Grammar. Walking a vocabulary trie steps from the same few sets over and
// over: under `.*` every byte leads back to one set, so without the cache
// each of a 128k vocabulary's trie nodes would be a full step, with it an
// array lookup; and a set masked once (by this generation or an earlier
// one with the same grammar) has its mask copied. A transition is a
// function of the set and the byte alone and a mask one of the set and
// the vocabulary, so what is cached is exactly what it replaces.
//
// The cache holds at most maxCacheBytes (charged to Grammar.Size up
// front) and is emptied, between Masks, once past it. Its lock is held for
// a whole Mask or Advance: States of one grammar in one step take turns,
// and the second finds the first's work done.
type setCache struct {
	mu    sync.Mutex
	sets  []threadSet
	bits  [][4]uint64        // the bytes some thread of each set consumes
	trans [][256]int32       // next set per byte: unknown, none or an id
	index map[uint64][]int32 // content hash -> ids of the sets with it
	masks map[maskKey]Bitset // the masks of the sets masked so far
	bytes int
}

type maskKey struct {
	m   *Masker
	set int32
}

// maxCacheBytes bounds a Grammar's cache of thread sets, transitions and
// masks.
const maxCacheBytes = 2 << 20

// Transition table entries besides set ids.
const (
	transUnknown = -2 // not stepped yet
	transNone    = -1 // no thread takes the byte
)

func (c *setCache) clear() {
	c.sets, c.bits, c.trans = c.sets[:0], c.bits[:0], c.trans[:0]
	c.index, c.masks, c.bytes = nil, nil, 0
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
	var tr [256]int32
	for i := range tr {
		tr[i] = transUnknown
	}
	c.trans = append(c.trans, tr)
	c.index[h] = append(c.index[h], id)
	c.bytes += 4*(len(t.data)+len(t.ends)) + 1024 + 128
	return id
}

// next returns the set after byte b from set id (transNone: no thread
// takes b), stepping with p on a miss. On a miss that runs out of budget it
// returns transNone and caches nothing; p.over tells.
func (c *setCache) next(g *Grammar, p *stepper, tmp *threadSet, id int32, b byte) int32 {
	if v := c.trans[id][b]; v != transUnknown {
		return v
	}
	p.step(tmp, &c.sets[id], b)
	if p.over {
		return transNone
	}
	v := int32(transNone)
	if !tmp.empty() {
		v = c.intern(g, tmp)
	}
	c.trans[id][b] = v
	return v
}

// keepMask remembers the mask of set id under m while there is room.
func (c *setCache) keepMask(m *Masker, id int32, mask Bitset) {
	if c.bytes+8*len(mask) > maxCacheBytes {
		return
	}
	if c.masks == nil {
		c.masks = map[maskKey]Bitset{}
	}
	c.masks[maskKey{m, id}] = append(Bitset(nil), mask...)
	c.bytes += 8 * len(mask)
}
