package grammar

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// GrammarError is a grammar text (GBNF or EBNF) that does not parse or
// does not describe a language the compiler builds: Line and Col (1-based,
// Col in bytes) locate it. The server answers 400 with Error().
type GrammarError struct {
	Line, Col int
	Msg       string
}

func (e *GrammarError) Error() string {
	return fmt.Sprintf("grammar syntax error at line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// GBNF compiles a grammar in llama.cpp's GBNF under l: rules
// `name ::= body`, the text generated from the rule root; bodies of
// "literals" (escapes \n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH), character
// classes [a-z] and [^...] over code points, '.' (any character), rule
// names, groups ( ), alternation |, and the repetitions * + ? {m} {m,}
// {m,n}; # comments to the end of the line. Rules may be recursive but not
// left-recursive. The output is exactly the root's text, byte for byte.
func (l Limits) GBNF(ctx context.Context, src string) (*Grammar, error) {
	return l.compileBNF(ctx, src, false)
}

// EBNF compiles vLLM's guided_grammar under l: GBNF as above, and Lark's
// notation as Outlines and vLLM's Lark backend write it: `name: body`
// rules (and `?name` / `!name`), the root named start (or root), [x] for an
// optional x, x ~ n and x ~ n..m repetitions, /regex/ terminals (the
// guided_regex subset), "literals" and 'literals', and `%import common.X`
// for the common terminals WS, WS_INLINE, NEWLINE, DIGIT, INT,
// SIGNED_INT, DECIMAL, NUMBER, SIGNED_NUMBER, LETTER, WORD, CNAME and
// ESCAPED_STRING. %ignore (whitespace anywhere) is refused: the output is
// exactly the grammar's text.
func (l Limits) EBNF(ctx context.Context, src string) (*Grammar, error) {
	return l.compileBNF(ctx, src, true)
}

func (l Limits) compileBNF(ctx context.Context, src string, lark bool) (*Grammar, error) {
	b := newBuilder(ctx, l)
	p := &bnfParser{src: src, b: b, lark: lark, rules: map[string]int32{}, defined: map[string]bool{}, firstUse: map[string]int{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	root := ""
	for _, name := range []string{"root", "start"} {
		if p.defined[name] && (name == "root" || lark) {
			root = name
			break
		}
	}
	if root == "" {
		want := "root"
		if lark {
			want = "start (or root)"
		}
		return nil, p.errAt(len(src), "no rule named "+want)
	}
	for name, pos := range p.firstUse {
		if !p.defined[name] {
			return nil, p.errAt(pos, fmt.Sprintf("rule %q is used but not defined", name))
		}
	}
	if b.names == nil {
		b.names = map[int32]string{}
	}
	for name, r := range p.rules {
		b.names[r] = name
	}
	g, err := b.finish(p.rules[root])
	var se *SchemaError
	if errors.As(err, &se) { // left recursion, named by its rule
		return nil, &GrammarError{Line: 1, Col: 1, Msg: fmt.Sprintf("rule %q %s", se.Path, se.Msg)}
	}
	return g, err
}

type bnfParser struct {
	src      string
	pos      int
	b        *builder
	lark     bool
	rules    map[string]int32
	defined  map[string]bool
	firstUse map[string]int
	depth    int
}

// maxBNFDepth bounds nested groups, as maxGroupDepth does for regexes.
const maxBNFDepth = 1000

func (p *bnfParser) errAt(pos int, msg string) error {
	line, col := 1, 1
	for i := 0; i < pos && i < len(p.src); i++ {
		if p.src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &GrammarError{Line: line, Col: col, Msg: msg}
}

func (p *bnfParser) errorf(format string, args ...any) error {
	return p.errAt(p.pos, fmt.Sprintf(format, args...))
}

// space skips whitespace and comments (# in GBNF, // and # in Lark).
func (p *bnfParser) space() {
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.pos++
		case c == '#' || p.lark && strings.HasPrefix(p.src[p.pos:], "//"):
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// name reads a rule name at pos ("" when there is none).
func (p *bnfParser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isNameChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// ruleStart reports whether a rule definition starts at pos: a name (in
// Lark optionally prefixed by ? or !) followed by ::= (or : in Lark).
func (p *bnfParser) ruleStart() (name string, bodyAt int, ok bool) {
	save := p.pos
	defer func() { p.pos = save }()
	if p.lark && p.pos < len(p.src) && (p.src[p.pos] == '?' || p.src[p.pos] == '!') {
		p.pos++
	}
	name = p.name()
	if name == "" {
		return "", 0, false
	}
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
	switch {
	case strings.HasPrefix(p.src[p.pos:], "::="):
		return name, p.pos + 3, true
	case p.lark && strings.HasPrefix(p.src[p.pos:], ":") && !strings.HasPrefix(p.src[p.pos:], "::"):
		return name, p.pos + 1, true
	}
	return "", 0, false
}

func (p *bnfParser) rule(name string) int32 {
	if r, ok := p.rules[name]; ok {
		return r
	}
	r := p.b.newRule()
	p.rules[name] = r
	return r
}

func (p *bnfParser) parse() error {
	for {
		p.space()
		if p.pos >= len(p.src) {
			return p.b.err
		}
		if p.lark && p.src[p.pos] == '%' {
			if err := p.directive(); err != nil {
				return err
			}
			continue
		}
		name, body, ok := p.ruleStart()
		if !ok {
			return p.errorf("expected a rule definition (name ::= ...)")
		}
		if p.defined[name] {
			return p.errorf("rule %q is defined twice", name)
		}
		p.defined[name] = true
		p.pos = body
		e, err := p.alternates()
		if err != nil {
			return err
		}
		p.b.define(p.rule(name), e)
		if p.b.err != nil {
			return p.b.err
		}
	}
}

func (p *bnfParser) alternates() (*expr, error) {
	var alts []*expr
	for {
		e, err := p.sequence()
		if err != nil {
			return nil, err
		}
		alts = append(alts, e)
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != '|' {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alt(alts...), nil
}

// sequence parses items up to |, ), ], the end, or the next rule's start.
func (p *bnfParser) sequence() (*expr, error) {
	var items []*expr
	for {
		p.space()
		if p.pos >= len(p.src) {
			break
		}
		c := p.src[p.pos]
		if c == '|' || c == ')' || c == ']' || p.lark && c == '%' {
			break
		}
		if _, _, ok := p.ruleStart(); ok {
			break
		}
		e, err := p.item()
		if err != nil {
			return nil, err
		}
		if e, err = p.repeat(e); err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return seq(items...), nil
}

func (p *bnfParser) item() (*expr, error) {
	c := p.src[p.pos]
	switch {
	case c == '"' || p.lark && c == '\'':
		return p.literal(c)
	case c == '[' && !p.lark:
		return p.charClass()
	case c == '[' && p.lark:
		if !p.looksLikeClass() {
			p.pos++
			e, err := p.group(']')
			if err != nil {
				return nil, err
			}
			return opt(e), nil
		}
		return p.charClass()
	case c == '(':
		p.pos++
		return p.group(')')
	case c == '.':
		p.pos++
		return utf8Class([]runeRange{{0, utf8.MaxRune}}), nil
	case c == '/' && p.lark:
		return p.larkRegex()
	case isNameChar(c):
		start := p.pos
		name := p.name()
		if _, ok := p.firstUse[name]; !ok {
			p.firstUse[name] = start
		}
		return ref(p.rule(name)), nil
	}
	return nil, p.errorf("unexpected %q", c)
}

func (p *bnfParser) group(close byte) (*expr, error) {
	if p.depth++; p.depth > maxBNFDepth {
		return nil, p.errorf("groups nested deeper than %d", maxBNFDepth)
	}
	defer func() { p.depth-- }()
	e, err := p.alternates()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != close {
		return nil, p.errorf("missing %q", close)
	}
	p.pos++
	return e, nil
}

// repeat parses the repetition operators after an item.
func (p *bnfParser) repeat(e *expr) (*expr, error) {
	for p.pos < len(p.src) {
		if p.lark { // Lark writes x ~ n with spaces
			q := p.pos
			for q < len(p.src) && (p.src[q] == ' ' || p.src[q] == '\t') {
				q++
			}
			if q < len(p.src) && p.src[q] == '~' {
				p.pos = q
			}
		}
		lo, hi := 0, 0
		switch c := p.src[p.pos]; {
		case c == '*':
			p.pos++
			e = star(e)
			continue
		case c == '+':
			p.pos++
			e = plus(e)
			continue
		case c == '?':
			p.pos++
			e = opt(e)
			continue
		case c == '{' && !p.lark:
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, p.errorf("unclosed {")
			}
			var err error
			if lo, hi, err = parseBounds(p.src[p.pos+1:p.pos+end], ","); err != nil {
				return nil, p.errorf("bad repetition {%s}", p.src[p.pos+1:p.pos+end])
			}
			p.pos += end + 1
		case c == '~' && p.lark:
			p.pos++
			p.space()
			start := p.pos
			for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.') {
				p.pos++
			}
			var err error
			if lo, hi, err = parseBounds(p.src[start:p.pos], ".."); err != nil || hi < 0 {
				return nil, p.errAt(start, "bad repetition ~ "+p.src[start:p.pos])
			}
		default:
			return e, nil
		}
		if !p.b.chargeExprs(2*max(lo, hi) + 2) {
			return nil, p.b.err
		}
		parts := make([]*expr, 0, lo+1)
		for i := 0; i < lo; i++ {
			parts = append(parts, e)
		}
		if hi < 0 {
			parts = append(parts, star(e))
		} else {
			parts = append(parts, upTo(e, hi-lo))
		}
		e = seq(parts...)
	}
	return e, nil
}

// parseBounds parses "n", "n<sep>" or "n<sep>m" (hi < 0: unbounded).
func parseBounds(s, sep string) (lo, hi int, err error) {
	s = strings.TrimSpace(s)
	a, b, found := strings.Cut(s, sep)
	if lo, err = strconv.Atoi(strings.TrimSpace(a)); err != nil {
		return 0, 0, err
	}
	hi = lo
	if found {
		hi = -1
		if strings.TrimSpace(b) != "" {
			if hi, err = strconv.Atoi(strings.TrimSpace(b)); err != nil {
				return 0, 0, err
			}
		}
	}
	if lo < 0 || hi >= 0 && hi < lo || lo > maxUnroll || hi > maxUnroll {
		return 0, 0, errors.New("out of range")
	}
	return lo, hi, nil
}
