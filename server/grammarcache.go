package server

import (
	"container/list"
	"sync"

	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// grammarCacheSize bounds the compiled grammars kept: clients tend to send
// the same few schemas over and over, and compiling a large schema costs
// more than a decode step.
const grammarCacheSize = 64

// grammarCache holds compiled grammars, least recently used evicted first,
// keyed by their kind and source bytes, and the vocabulary Masker of each
// served tokenizer (built once: it walks the whole vocabulary). Grammars
// and Maskers are immutable, so they are shared by every request.
type grammarCache struct {
	mu      sync.Mutex
	order   *list.List // of *grammarEntry, most recent first
	entries map[string]*list.Element

	maskMu  sync.Mutex
	maskTok *tokenizer.Tokenizer
	mask    *grammar.Masker
}

type grammarEntry struct {
	key string
	g   *grammar.Grammar
}

func newGrammarCache() *grammarCache {
	return &grammarCache{order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the grammar of (kind, src), compiling it with compile on a
// miss. Errors are not cached: they are cheap and tell the client why.
func (c *grammarCache) get(kind string, src []byte, compile func() (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	key := kind + "\x00" + string(src)
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		g := el.Value.(*grammarEntry).g
		c.mu.Unlock()
		return g, nil
	}
	c.mu.Unlock()
	g, err := compile() // outside the lock: a big schema must not stall others
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok { // compiled meanwhile by another request
		c.order.MoveToFront(el)
		return el.Value.(*grammarEntry).g, nil
	}
	c.entries[key] = c.order.PushFront(&grammarEntry{key: key, g: g})
	for c.order.Len() > grammarCacheSize {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*grammarEntry).key)
	}
	return g, nil
}

// len is the number of cached grammars.
func (c *grammarCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// masker returns tok's Masker, building it on first use (a server serves
// one model, so one is kept).
func (c *grammarCache) masker(tok *tokenizer.Tokenizer) *grammar.Masker {
	c.maskMu.Lock()
	defer c.maskMu.Unlock()
	if c.maskTok != tok {
		c.mask, c.maskTok = grammar.NewMasker(tok), tok
	}
	return c.mask
}

// PrepareGrammars builds m's vocabulary Masker now (a walk over the whole
// vocabulary, ~0.1 s for 128k tokens), so that the first constrained
// request does not pay for it.
func (s *Server) PrepareGrammars(m *Model) { s.grammars.masker(m.Tokenizer) }
