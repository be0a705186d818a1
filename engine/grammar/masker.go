package grammar

import (
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// Bitset is a set of token ids, bit id%64 of word id/64.
type Bitset []uint64

// NewBitset returns an empty set for ids below n.
func NewBitset(n int) Bitset { return make(Bitset, (n+63)/64) }

// Has reports whether id is in the set.
func (b Bitset) Has(id int32) bool { return b[id>>6]&(1<<(id&63)) != 0 }

// Filter sets logits[id] to -Inf for every id not in the set, so that a
// sampler can only pick allowed tokens.
func (b Bitset) Filter(logits []float32) {
	inf := float32(math.Inf(-1))
	for i := range logits {
		if b[i>>6]&(1<<(i&63)) == 0 {
			logits[i] = inf
		}
	}
}

func (b Bitset) set(id int32) { b[id>>6] |= 1 << (id & 63) }

// Masker maps grammar states to the tokens allowed next. It holds what
// depends only on the vocabulary (each token's bytes, the tries) so it is
// built once per model and shared, read-only, by every request.
type Masker struct {
	vocab  int
	pieces [][]byte // bytes of each token; nil for tokens never allowed as text
	eog    []int32
	full   *trie // every text token
	// inString[k] holds the tokens that, from a string body, stay in a
	// string body after at most k characters, inAll all such tokens
	// (maxChars characters at most). rest is the trie of the tokens that
	// leave the body; restLong adds those of more than maxInString
	// characters. Inside a string, Mask adds one of these sets wholesale and
	// walks only a rest trie.
	inString [maxInString + 1]Bitset
	inAll    Bitset
	maxChars int
	rest     *trie
	restLong *trie
}

// NewMasker precomputes the token pieces and tries of tok's vocabulary.
// Control, unknown and unused tokens are never allowed as text; end-of-
// generation tokens are allowed exactly when the grammar may end.
func NewMasker(tok *tokenizer.Tokenizer) *Masker {
	n := tok.VocabSize()
	m := &Masker{vocab: n, pieces: make([][]byte, n), eog: tok.EOGTokens()}
	for k := range m.inString {
		m.inString[k] = NewBitset(n)
	}
	m.inAll = NewBitset(n)
	var text []int32
	for id := int32(0); id < int32(n); id++ {
		if tok.IsEOG(id) {
			continue
		}
		switch tok.TokenType(id) {
		case tokenizer.TokenControl, tokenizer.TokenUnknown, tokenizer.TokenUnused:
			continue
		}
		p := []byte(tok.TokenToPiece(id))
		if len(p) == 0 {
			continue
		}
		m.pieces[id] = p
		text = append(text, id)
	}
	m.full = buildTrie(m.pieces, text)

	// The string rule is the same in every grammar, so one grammar made of
	// it alone tells which tokens keep a string body a string body.
	g, err := newBuilder(nil, DefaultLimits()).finish(strRule)
	if err != nil {
		panic("grammar: the string rule does not compile: " + err.Error())
	}
	var cur, next threadSet
	var st stepper
	st.init(g, 1<<62)
	var rest, long []int32
	for _, id := range text {
		cur.reset()
		cur.push(nil, strBody)
		ok, chars := true, 0
		for _, c := range m.pieces[id] {
			st.step(&next, &cur, c)
			cur, next = next, cur
			if cur.empty() {
				ok = false
				break
			}
			if len(cur.ends) == 1 && cur.data[0] == strBody {
				chars++
			}
		}
		if !ok || cur.accept || len(cur.ends) != 1 || cur.ends[0] != 1 || cur.data[0] != strBody {
			rest = append(rest, id)
			continue
		}
		m.inAll.set(id)
		m.maxChars = max(m.maxChars, chars)
		for k := chars; k <= maxInString; k++ {
			m.inString[k].set(id)
		}
		if chars > maxInString {
			long = append(long, id)
		}
	}
	m.restLong = buildTrie(m.pieces, append(long, rest...))
	m.rest = buildTrie(m.pieces, rest)
	return m
}

// maxInString is the most characters a token may hold and still be added
// by the string fast path (longer ones, rare, are walked).
const maxInString = 16

// VocabSize is the number of token ids the masks cover.
func (m *Masker) VocabSize() int { return m.vocab }

// State is one generation's position in a grammar. It is not safe for
// concurrent use.
type State struct {
	g    *Grammar
	m    *Masker
	cur  threadSet
	done bool // an end-of-generation token was accepted

	// scratch for Mask and Advance
	st  stepper
	tmp threadSet
}

// NewState starts g for a generation whose tokens m knows. The first step
// was checked against the step budget when g was compiled.
func (m *Masker) NewState(g *Grammar) *State {
	s := &State{g: g, m: m}
	s.st.init(g, g.stepWork)
	s.st.start(&s.cur)
	return s
}

// Clone returns an independent copy of s at the same position, sharing
// only the immutable Grammar and Masker: a generation forked into several
// sequences (n > 1, beams) continues each copy on its own.
func (s *State) Clone() *State {
	c := &State{g: s.g, m: s.m, done: s.done}
	c.st.init(s.g, s.g.stepWork)
	c.cur.copyFrom(&s.cur)
	return c
}

// errStepWork is the error of a Mask or Advance over the step budget.
func (s *State) errStepWork() error {
	return &LimitError{Limit: "grammar_step_work", Value: s.g.stepWork,
		Msg: "one generation step of the grammar is over the step work budget"}
}

// Accepting reports whether the text so far is a complete sentence.
func (s *State) Accepting() bool { return s.cur.accept }

// Done reports whether an end-of-generation token has been accepted.
func (s *State) Done() bool { return s.done }

// AdvanceBytes consumes text; on error the state is unchanged. Its work is
// bounded by the step budget (a *LimitError past it).
func (s *State) AdvanceBytes(text []byte) error {
	if s.done {
		return fmt.Errorf("%w: text after the end", ErrRejected)
	}
	c := s.g.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes > maxCacheBytes {
		c.clear()
	}
	s.st.reset()
	id := c.intern(s.g, &s.cur)
	for i, b := range text {
		id = c.next(s.g, &s.st, &s.tmp, id, b)
		if s.st.over {
			return s.errStepWork()
		}
		if id == transNone {
			return fmt.Errorf("%w: byte %q at offset %d of %q", ErrRejected, b, i, text)
		}
	}
	s.cur.copyFrom(&c.sets[id])
	return nil
}

// Advance consumes the sampled token id; on error the state is unchanged.
func (s *State) Advance(id int32) error {
	if id < 0 || int(id) >= s.m.vocab {
		return fmt.Errorf("%w: token %d out of range", ErrRejected, id)
	}
	for _, e := range s.m.eog {
		if e == id {
			if !s.cur.accept {
				return fmt.Errorf("%w: end of generation before the text is complete", ErrRejected)
			}
			s.done = true
			return nil
		}
	}
	p := s.m.pieces[id]
	if p == nil {
		return fmt.Errorf("%w: token %d has no text", ErrRejected, id)
	}
	return s.AdvanceBytes(p)
}

// Mask sets allowed (a Bitset of m.VocabSize() bits) to the tokens that may
// come next: those whose bytes the grammar can consume from here, and the
// end-of-generation tokens when the text so far is complete. Its work is
// bounded by the step budget: past it, Mask stops and returns a
// *LimitError, and allowed must not be used.
func (s *State) Mask(allowed Bitset) error {
	clear(allowed)
	s.st.reset()
	if s.done {
		for _, e := range s.m.eog {
			allowed.set(e)
		}
		return nil
	}
	c := s.g.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes > maxCacheBytes {
		c.clear()
	}
	// The mask is a function of the thread set alone: a set met before
	// (a generation under `.*` meets the same few again and again, and
	// generations of one schema the same ones) has its mask copied.
	id := c.intern(s.g, &s.cur)
	if m, ok := c.masks[maskKey{s.m, id}]; ok {
		copy(allowed, m)
		return nil
	}
	if s.cur.accept {
		for _, e := range s.m.eog {
			allowed.set(e)
		}
	}
	t := s.m.full
	if set, rest := s.stringFastPath(); set != nil {
		for i, w := range set {
			allowed[i] |= w
		}
		t = rest
	}
	s.walk(t, 0, id, allowed)
	if s.st.over {
		return s.errStepWork()
	}
	c.keepMask(s.m, id, allowed)
	return nil
}

// stringFastPath returns the tokens allowed without a walk and the trie
// that holds every other token, or nil. A thread in a string body with r
// characters left allows every token that stays in the body with at most r
// characters. Tokens with more are left out of the set, so unless they are
// in the trie walked instead, the shortcut holds only when every thread is
// such a body (then none of them allows those tokens).
func (s *State) stringFastPath() (Bitset, *trie) {
	best, all := int32(0), true
	for _, end := range s.cur.ends {
		l := s.g.left[s.cur.data[end-1]]
		if l == 0 {
			all = false
		}
		best = max(best, l)
	}
	if best == 0 {
		return nil, nil
	}
	switch r := int(best - 1); {
	case r >= s.m.maxChars:
		return s.m.inAll, s.m.rest
	case all && r <= maxInString:
		return s.m.inString[r], s.m.rest
	case r >= maxInString:
		return s.m.inString[maxInString], s.m.restLong
	}
	return nil, nil
}

// walk marks the tokens under trie node n reachable from the thread set
// with cache id set; the caller holds the cache's lock.
func (s *State) walk(t *trie, n int32, set int32, allowed Bitset) {
	node := t.nodes[n]
	for _, id := range t.toks[node.firstTok : node.firstTok+node.nTok] {
		allowed.set(id)
	}
	c := s.g.cache
	if node.nChild == 0 || len(c.sets[set].ends) == 0 || !s.st.charge(1) {
		return
	}
	bits := c.bits[set]
	for k := node.firstChild; k < node.firstChild+node.nChild; k++ {
		b := t.childByte[k]
		if bits[b>>6]&(1<<(b&63)) == 0 {
			continue
		}
		next := c.next(s.g, &s.st, &s.tmp, set, b)
		if s.st.over {
			return
		}
		if next >= 0 {
			s.walk(t, t.child[k], next, allowed)
		}
	}
}
