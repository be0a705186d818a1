package server

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"sync"

	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// defaultGrammarCacheBytes is the compiled grammars kept when Options does
// not say: clients tend to send the same few schemas over and over, and
// compiling a large schema costs more than a decode step.
const defaultGrammarCacheBytes = 256 << 20

// compileSlots bounds the grammars compiling at once, so that many
// requests with hostile schemas hold at most compileSlots times the
// per-grammar budget, whatever their number.
const compileSlots = 2

// grammarCache holds compiled grammars, least recently used evicted first
// once their sizes (Grammar.Size) pass a byte budget, keyed by their kind
// and a hash of their source, and the vocabulary Masker of each served
// tokenizer (built once: it walks the whole vocabulary). Grammars and
// Maskers are immutable, so they are shared by every request. A grammar
// over a limit is remembered as its error (a few bytes), so that sending
// it again costs nothing; other errors are not kept. Requests for a
// grammar being compiled wait for that compilation rather than start
// their own.
type grammarCache struct {
	limits   grammar.Limits
	maxBytes int64 // budget of the kept grammars; 0: keep none

	mu       sync.Mutex
	order    *list.List // of *grammarEntry, most recent first
	entries  map[string]*list.Element
	bytes    int64
	inflight map[string]*compilation
	slots    chan struct{}

	maskMu  sync.Mutex
	maskTok *tokenizer.Tokenizer
	mask    *grammar.Masker
}

type grammarEntry struct {
	key  string
	g    *grammar.Grammar
	err  error // a *grammar.LimitError, when g is nil
	size int64
}

// compilation is a compile in progress; done closes when g, err are set.
type compilation struct {
	done chan struct{}
	g    *grammar.Grammar
	err  error
}

// newGrammarCache makes a cache compiling under limits (zero fields:
// grammar.DefaultLimits) keeping up to cacheBytes of grammars (0: the
// default, < 0: none).
func newGrammarCache(limits grammar.Limits, cacheBytes int64) *grammarCache {
	if cacheBytes == 0 {
		cacheBytes = defaultGrammarCacheBytes
	}
	return &grammarCache{
		limits: limits, maxBytes: max(cacheBytes, 0),
		order: list.New(), entries: map[string]*list.Element{}, inflight: map[string]*compilation{},
		slots: make(chan struct{}, compileSlots),
	}
}

// get returns the grammar of (kind, src), compiling it with compile on a
// miss, under the cache's limits and until ctx is done. The compile runs in
// the calling request's goroutine, never on the step loop.
func (c *grammarCache) get(ctx context.Context, kind string, src []byte, compile func(context.Context, grammar.Limits) (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	sum := sha256.Sum256(src)
	key := kind + "\x00" + string(sum[:])
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			c.order.MoveToFront(el)
			e := el.Value.(*grammarEntry)
			c.mu.Unlock()
			return e.g, e.err
		}
		if call, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if call.err != nil && isContextError(call.err) && ctx.Err() == nil {
				continue // that request went away; compile for this one
			}
			return call.g, call.err
		}
		call := &compilation{done: make(chan struct{}), err: errCompilePanicked}
		c.inflight[key] = call
		c.mu.Unlock()
		c.lead(ctx, key, call, compile)
		return call.g, call.err
	}
}

// errCompilePanicked is what requests waiting on a compilation get if it
// panicked (the panic itself goes on up the leader's stack).
var errCompilePanicked = errors.New("grammar: compilation failed")

// lead compiles for call and publishes the result, even when compile
// panics, so that requests waiting on it never hang.
func (c *grammarCache) lead(ctx context.Context, key string, call *compilation, compile func(context.Context, grammar.Limits) (*grammar.Grammar, error)) {
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		c.store(key, call.g, call.err)
		c.mu.Unlock()
		close(call.done)
	}()
	call.g, call.err = c.compileInSlot(ctx, compile)
}

// compileInSlot runs compile once one of the compile slots is free.
func (c *grammarCache) compileInSlot(ctx context.Context, compile func(context.Context, grammar.Limits) (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-c.slots }()
	return compile(ctx, c.limits)
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// store keeps a compiled grammar, or the *grammar.LimitError of one over a
// limit, evicting the least recently used past the byte budget. A grammar
// bigger than the whole budget is not kept. Called with c.mu held.
func (c *grammarCache) store(key string, g *grammar.Grammar, err error) {
	e := &grammarEntry{key: key, g: g, err: err, size: int64(len(key)) + 64}
	switch {
	case err == nil && g != nil:
		e.size += g.Size()
	case grammar.IsLimit(err):
		e.size += int64(len(err.Error()))
	default:
		return
	}
	if e.size > c.maxBytes {
		return
	}
	c.entries[key] = c.order.PushFront(e)
	c.bytes += e.size
	for c.bytes > c.maxBytes {
		last := c.order.Back()
		c.order.Remove(last)
		old := last.Value.(*grammarEntry)
		delete(c.entries, old.key)
		c.bytes -= old.size
	}
}

// len is the number of cached grammars (and refusals).
func (c *grammarCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// size is the bytes the cached grammars hold.
func (c *grammarCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
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
