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
	// inString holds the tokens that, from a string body, stay in a string
	// body; rest is the trie of all the others. Inside a string, Mask adds
	// inString wholesale and walks only rest.
	inString Bitset
	rest     *trie
}

// NewMasker precomputes the token pieces and tries of tok's vocabulary.
// Control, unknown and unused tokens are never allowed as text; end-of-
// generation tokens are allowed exactly when the grammar may end.
func NewMasker(tok *tokenizer.Tokenizer) *Masker {
	n := tok.VocabSize()
	m := &Masker{vocab: n, pieces: make([][]byte, n), eog: tok.EOGTokens(), inString: NewBitset(n)}
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
	g := newBuilder().finish(strRule)
	var cur, next threadSet
	var scratch []int32
	var rest []int32
	for _, id := range text {
		cur.reset()
		cur.add(nil, strBody)
		ok := true
		for _, c := range m.pieces[id] {
			scratch = g.step(&next, &cur, c, scratch)
			cur, next = next, cur
			if cur.empty() {
				ok = false
				break
			}
		}
		if ok && !cur.accept && len(cur.ends) == 1 && cur.ends[0] == 1 && cur.data[0] == strBody {
			m.inString.set(id)
		} else {
			rest = append(rest, id)
		}
	}
	m.rest = buildTrie(m.pieces, rest)
	return m
}

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
	levels  []threadSet
	scratch []int32
	tmp     threadSet
}

// NewState starts g for a generation whose tokens m knows.
func (m *Masker) NewState(g *Grammar) *State {
	s := &State{g: g, m: m, levels: make([]threadSet, max(m.full.maxDepth, 1)+1)}
	s.scratch = g.start(&s.cur, nil)
	return s
}

// Accepting reports whether the text so far is a complete sentence.
func (s *State) Accepting() bool { return s.cur.accept }

// Done reports whether an end-of-generation token has been accepted.
func (s *State) Done() bool { return s.done }

// AdvanceBytes consumes text; on error the state is unchanged.
func (s *State) AdvanceBytes(text []byte) error {
	if s.done {
		return fmt.Errorf("%w: text after the end", ErrRejected)
	}
	s.tmp.copyFrom(&s.cur)
	for i, c := range text {
		next := &s.levels[0]
		s.scratch = s.g.step(next, &s.tmp, c, s.scratch)
		if next.empty() {
			return fmt.Errorf("%w: byte %q at offset %d of %q", ErrRejected, c, i, text)
		}
		s.tmp.copyFrom(next)
	}
	s.cur.copyFrom(&s.tmp)
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
// end-of-generation tokens when the text so far is complete.
func (s *State) Mask(allowed Bitset) {
	clear(allowed)
	if s.cur.accept || s.done {
		for _, e := range s.m.eog {
			allowed.set(e)
		}
	}
	if s.done {
		return
	}
	t := s.m.full
	if s.inStringBody() {
		// One thread in a string body is enough for every inString token
		// to be allowed (whatever the other threads do); only the rest
		// need the walk, which still runs every thread.
		for i, w := range s.m.inString {
			allowed[i] |= w
		}
		t = s.m.rest
	}
	s.walk(t, 0, &s.cur, 0, allowed)
}

// inStringBody reports whether some thread is in a string body.
func (s *State) inStringBody() bool {
	for _, end := range s.cur.ends {
		if s.cur.data[end-1] == strBody {
			return true
		}
	}
	return false
}

// walk marks the tokens under trie node n reachable from the threads set
// at byte depth d.
func (s *State) walk(t *trie, n int32, set *threadSet, d int, allowed Bitset) {
	node := t.nodes[n]
	for _, id := range t.toks[node.firstTok : node.firstTok+node.nTok] {
		allowed.set(id)
	}
	if node.nChild == 0 || len(set.ends) == 0 {
		return
	}
	bits := s.g.allowed(set)
	next := &s.levels[d+1]
	for k := node.firstChild; k < node.firstChild+node.nChild; k++ {
		c := t.childByte[k]
		if bits[c>>6]&(1<<(c&63)) == 0 {
			continue
		}
		s.scratch = s.g.step(next, set, c, s.scratch)
		if next.empty() {
			continue
		}
		s.walk(t, t.child[k], next, d+1, allowed)
	}
}
