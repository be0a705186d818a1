package toolcall

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
)

// Call is one tool call: the function's name and its arguments as compact
// JSON object text, ready for the OpenAI "function.arguments" string.
type Call struct {
	ID        string
	Name      string
	Arguments string
}

// Result is a parsed complete output: the text outside tool calls, and the
// calls in the order the model wrote them.
type Result struct {
	Content string
	Calls   []Call
}

// Parser reads one model family's tool-call dialect. A Parser is safe for
// concurrent use; each Stream belongs to one generation.
type Parser interface {
	Name() string
	// Parse reads a complete output. Malformed calls degrade to content; it
	// never fails.
	Parse(text string) Result
	// NewStream starts incremental parsing of one generation.
	NewStream() Stream
}

// Stream parses a generation as it is produced.
type Stream interface {
	// Push adds newly generated text and returns what can be emitted now.
	// Text that may still turn out to be part of a tool call is held back.
	Push(delta string) []Delta
	// Finish ends the generation: pending text is decided, and whatever is
	// not a complete valid call is released as content.
	Finish() []Delta
}

// Delta is one streamed piece, shaped like an OpenAI chunk's delta. A content
// delta has IsTool false. For each call, a delta with ToolIndex, ID and Name
// comes first, then one or more with ArgumentsFragment (ID and Name empty).
type Delta struct {
	Content           string
	ToolIndex         int
	ID                string
	Name              string
	ArgumentsFragment string
	IsTool            bool
}

// formats lists every dialect by name; a function, not a package variable,
// so there is no shared mutable state.
func formats() map[string]*format {
	return map[string]*format{
		"llama3_json": llama3Format(),
		"hermes":      hermesFormat("hermes"),
		"qwen2.5":     hermesFormat("qwen2.5"),
		"mistral":     mistralFormat(),
		"pythonic":    pythonicFormat(),
	}
}

// Names returns the known parser names, sorted.
func Names() []string {
	var names []string
	for n := range formats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the parser called name, with IDs drawn from a randomly seeded
// source.
func New(name string) (Parser, error) {
	var b [16]byte
	_, _ = crand.Read(b[:]) // never fails on supported platforms
	return NewSeeded(name, binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:]))
}

// NewSeeded is New with a fixed seed for the call IDs, so tests and
// reproducible runs get the same IDs every time.
func NewSeeded(name string, seed1, seed2 uint64) (Parser, error) {
	f, ok := formats()[name]
	if !ok {
		return nil, fmt.Errorf("toolcall: unknown tool-call parser %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return &parser{f: f, ids: &idSource{rng: rand.New(rand.NewPCG(seed1, seed2))}}, nil
}

// idSource makes call IDs; shared by a parser's streams, hence the lock.
type idSource struct {
	mu  sync.Mutex
	rng *rand.Rand
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (s *idSource) next(prefix string, n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return prefix + string(b)
}

type parser struct {
	f   *format
	ids *idSource
}

var _ Parser = (*parser)(nil)

func (p *parser) Name() string { return p.f.name }

func (p *parser) newID() string { return p.ids.next(p.f.idPrefix, p.f.idLen) }

func (p *parser) Parse(text string) Result {
	m := &machine{f: p.f, buf: text, gap: true}
	var r Result
	var content strings.Builder
	for _, pc := range m.run(true) {
		if pc.call == nil {
			content.WriteString(pc.content)
			continue
		}
		r.Calls = append(r.Calls, Call{ID: p.newID(), Name: pc.call.name, Arguments: pc.call.args})
	}
	r.Content = content.String()
	return r
}

func (p *parser) NewStream() Stream {
	return &stream{p: p, m: &machine{f: p.f, gap: true}}
}

// stream adapts the machine's pieces to OpenAI-shaped deltas.
type stream struct {
	p     *parser
	m     *machine
	calls int
	done  bool
}

func (s *stream) Push(delta string) []Delta {
	if s.done {
		return nil
	}
	s.m.buf += delta
	return s.deltas(s.m.run(false))
}

func (s *stream) Finish() []Delta {
	if s.done {
		return nil
	}
	s.done = true
	return s.deltas(s.m.run(true))
}

func (s *stream) deltas(pieces []piece) []Delta {
	var out []Delta
	for _, pc := range pieces {
		if pc.call == nil {
			if pc.content != "" {
				out = append(out, Delta{Content: pc.content})
			}
			continue
		}
		out = append(out,
			Delta{IsTool: true, ToolIndex: s.calls, ID: s.p.newID(), Name: pc.call.name},
			Delta{IsTool: true, ToolIndex: s.calls, ArgumentsFragment: pc.call.args})
		s.calls++
	}
	return out
}
