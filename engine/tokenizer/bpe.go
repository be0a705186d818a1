package tokenizer

// bpeSymbol is a span of a word being merged, linked to its neighbours; id
// is the span's token id or -1.
type bpeSymbol struct {
	start, n   int
	prev, next int
	id         int32
}

// bpeBigram is a candidate merge; nl and nr are the sides' lengths when it
// was queued, so a stale entry is recognised after its symbols changed.
type bpeBigram struct {
	left, right int
	rank        int32
	nl, nr      int
}

// bpeBefore orders bigrams by merge rank, then leftmost first.
func bpeBefore(a, b *bpeBigram) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// mergeKey packs the token ids of a merge's two sides.
func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// buildMerges indexes merges by the token ids of their sides; the rare
// merge whose side is not a vocabulary entry is kept by its strings. The
// first occurrence of a duplicate merge gives its rank, as in llama.cpp.
func (t *Tokenizer) buildMerges(merges []mergePair) {
	t.merges = make(map[uint64]int32, len(merges))
	for i, m := range merges {
		a, okA := t.ids[m.a]
		b, okB := t.ids[m.b]
		if okA && okB {
			k := mergeKey(a, b)
			if _, dup := t.merges[k]; !dup {
				t.merges[k] = int32(i)
			}
			continue
		}
		if t.strMerges == nil {
			t.strMerges = map[mergePair]int32{}
		}
		if _, dup := t.strMerges[m]; !dup {
			t.strMerges[m] = int32(i)
		}
	}
}

// bpeState is the scratch space of one Encode call.
type bpeState struct {
	buf  []byte
	syms []bpeSymbol
	q    minHeap[bpeBigram]
}

// bpeEncode appends the tokens of text: pre-tokenize into words, map each
// word's bytes to GPT-2's printable form, and merge by rank
// (llama.cpp's llm_tokenizer_bpe_session::tokenize).
func (t *Tokenizer) bpeEncode(out []int32, text string) []int32 {
	st := &bpeState{q: minHeap[bpeBigram]{less: bpeBefore}}
	for _, w := range t.preTok.words(text) {
		st.buf = byteEncode(st.buf[:0], w)
		if t.ignoreMerges {
			if id, ok := t.ids[string(st.buf)]; ok {
				out = append(out, id)
				continue
			}
		}
		out = t.bpeWord(out, st)
	}
	return out
}

// rank returns the merge rank of two adjacent symbols, or -1.
func (t *Tokenizer) rank(word []byte, l, r *bpeSymbol) int32 {
	if l.id >= 0 && r.id >= 0 {
		if rank, ok := t.merges[mergeKey(l.id, r.id)]; ok {
			return rank
		}
		if t.strMerges == nil {
			return -1
		}
	}
	if t.strMerges != nil {
		p := mergePair{string(word[l.start : l.start+l.n]), string(word[r.start : r.start+r.n])}
		if rank, ok := t.strMerges[p]; ok {
			return rank
		}
	}
	return -1
}

// bpeWord merges the byte-encoded word in st.buf and appends its tokens.
func (t *Tokenizer) bpeWord(out []int32, st *bpeState) []int32 {
	word := st.buf
	syms := st.syms[:0]
	for off := 0; off < len(word); {
		n := min(utf8Len(word[off]), len(word)-off)
		id, ok := t.ids[string(word[off:off+n])]
		if !ok {
			id = noToken
		}
		syms = append(syms, bpeSymbol{start: off, n: n, prev: len(syms) - 1, next: len(syms) + 1, id: id})
		off += n
	}
	st.syms = syms
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	q := &st.q
	q.reset()
	add := func(left, right int) {
		if left < 0 || right < 0 {
			return
		}
		l, r := &syms[left], &syms[right]
		if rank := t.rank(word, l, r); rank >= 0 {
			q.push(bpeBigram{left: left, right: right, rank: rank, nl: l.n, nr: r.n})
		}
	}
	for i := 1; i < len(syms); i++ {
		add(i-1, i)
	}
	for q.len() > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n != b.nl || r.n != b.nr || l.next != b.right {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		if id, ok := t.ids[string(word[l.start:l.start+l.n])]; ok {
			l.id = id
		} else {
			l.id = noToken
		}
		add(l.prev, b.left)
		add(b.left, l.next)
	}
	for i := 0; i != -1; i = syms[i].next {
		if id := syms[i].id; id >= 0 {
			out = append(out, id)
			continue
		}
		// Not in the vocabulary: emit whatever single bytes are tokens.
		s := word[syms[i].start : syms[i].start+syms[i].n]
		for j := range s {
			if id, ok := t.ids[string(s[j:j+1])]; ok {
				out = append(out, id)
			}
		}
	}
	return out
}
