package grammar

import (
	"context"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Regex compiles vLLM's guided_regex: the whole text must match pattern.
// The subset: literals, escapes (\d \w \s \D \W \S and escaped
// punctuation, \n \t \r, \uXXXX and \xXX), '.', classes [a-z0-9_] and negated classes of
// ASCII, groups ( ) and (?: ), alternation |, and the quantifiers * + ?
// {n} {n,} {n,m}; ^ and $ are allowed only at the ends. '.' and negated
// classes also match any non-ASCII character (as UTF-8). Backreferences,
// lookaround, lazy quantifiers and Unicode classes are errors.
func Regex(pattern string) (*Grammar, error) {
	return DefaultLimits().Regex(context.Background(), pattern)
}

// Regex compiles guided_regex under l, stopping early when ctx is done.
// Counted repetition x{n,m} repeats x's expression, which is charged
// against the budget before any state is built, so that a pattern such as
// (.{0,1000}){1000} is refused in time linear in its length.
func (l Limits) Regex(ctx context.Context, pattern string) (*Grammar, error) {
	b := newBuilder(ctx, l)
	e, _, _, err := b.parseRegex(pattern, "guided_regex")
	if err != nil {
		return nil, err
	}
	r := b.newRule()
	b.define(r, e)
	return b.finish(r)
}

// parseRegex parses pattern into an expression of its raw bytes, reporting
// whether it starts with ^ and ends with $; what names the parameter in
// errors.
func (b *builder) parseRegex(pattern, what string) (e *expr, start, end bool, err error) {
	p := &reParser{src: pattern, b: b, what: what}
	if p.peek() == '^' {
		p.pos++
		start = true
	}
	if e, err = p.alt(); err != nil {
		return nil, false, false, err
	}
	if p.pos < len(p.src) {
		return nil, false, false, p.errorf("unexpected %q", p.src[p.pos])
	}
	return e, start, p.endAnchor, nil
}

type reParser struct {
	src string
	pos int
	b   *builder // charged for the expression nodes of repetitions
	// what names the parameter in errors ("guided_regex", "pattern").
	what string
	// endAnchor records a final $.
	endAnchor bool
	// depth is the groups open at pos; the parser recurses per group.
	depth int
}

// maxGroupDepth bounds nested groups, so that a pattern of a million
// parentheses is an error rather than a recursion that deep.
const maxGroupDepth = 1000

func (p *reParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%s %q at offset %d: %s", p.what, p.src, p.pos, fmt.Sprintf(format, args...))
}

func (p *reParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *reParser) alt() (*expr, error) {
	var alts []*expr
	for {
		e, err := p.seq()
		if err != nil {
			return nil, err
		}
		alts = append(alts, e)
		if p.peek() != '|' {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alt(alts...), nil
}

func (p *reParser) seq() (*expr, error) {
	var items []*expr
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '|' || c == ')' {
			break
		}
		if c == '$' && p.pos == len(p.src)-1 {
			p.pos++
			p.endAnchor = true
			break
		}
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		a, err = p.quantifier(a)
		if err != nil {
			return nil, err
		}
		items = append(items, a)
	}
	return seq(items...), nil
}

func (p *reParser) quantifier(a *expr) (*expr, error) {
	var e *expr
	switch p.peek() {
	case '*':
		p.pos++
		e = star(a)
	case '+':
		p.pos++
		e = plus(a)
	case '?':
		p.pos++
		e = opt(a)
	case '{':
		lo, hi, err := p.braces()
		if err != nil {
			return nil, err
		}
		if !p.b.chargeExprs(2*max(lo, hi) + 2) {
			return nil, p.b.err
		}
		parts := make([]*expr, 0, lo+1)
		for i := 0; i < lo; i++ {
			parts = append(parts, a)
		}
		if hi < 0 {
			parts = append(parts, star(a))
		} else {
			parts = append(parts, upTo(a, hi-lo))
		}
		e = seq(parts...)
	default:
		return a, nil
	}
	if c := p.peek(); c == '?' || c == '+' {
		return nil, p.errorf("lazy and possessive quantifiers are not supported")
	}
	return e, nil
}

// braces parses {n}, {n,} or {n,m}; hi < 0 means unbounded.
func (p *reParser) braces() (lo, hi int, err error) {
	end := p.pos + 1
	for end < len(p.src) && p.src[end] != '}' {
		end++
	}
	if end >= len(p.src) {
		return 0, 0, p.errorf("unclosed {")
	}
	body := p.src[p.pos+1 : end]
	lo, hi = -1, -1
	if i := indexByte(body, ','); i < 0 {
		lo, err = strconv.Atoi(body)
		hi = lo
	} else {
		lo, err = strconv.Atoi(body[:i])
		if err == nil && body[i+1:] != "" {
			hi, err = strconv.Atoi(body[i+1:])
		}
	}
	if err != nil || lo < 0 || (hi >= 0 && hi < lo) || lo > maxUnroll || hi > maxUnroll {
		return 0, 0, p.errorf("bad repetition {%s}", body)
	}
	p.pos = end + 1
	return lo, hi, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func (p *reParser) atom() (*expr, error) {
	c := p.src[p.pos]
	switch c {
	case '(':
		if p.depth++; p.depth > maxGroupDepth {
			return nil, p.errorf("groups nested deeper than %d", maxGroupDepth)
		}
		defer func() { p.depth-- }()
		p.pos++
		if len(p.src) > p.pos+1 && p.src[p.pos] == '?' {
			if p.src[p.pos+1] != ':' {
				return nil, p.errorf("only (?: ) groups are supported")
			}
			p.pos += 2
		}
		e, err := p.alt()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, p.errorf("missing )")
		}
		p.pos++
		return e, nil
	case '[':
		return p.class()
	case '.':
		p.pos++
		return alt(class(rng(0, '\n'-1), rng('\n'+1, 0x7F)), utf8Multi()), nil
	case '\\':
		p.pos++
		if r, ok := p.hexEscape(); ok { // \uXXXX, \xXX: one character
			return lit(string(r)), nil
		}
		ranges, neg, err := p.escape()
		if err != nil {
			return nil, err
		}
		return classExpr(ranges, neg), nil
	case '*', '+', '?', '{':
		return nil, p.errorf("nothing to repeat")
	case '^', '$':
		return nil, p.errorf("anchors are supported only at the ends")
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return lit(string(r)), nil
}

// hexEscape parses \uXXXX or \xXX after a backslash (pos at the u or x)
// into its code point; false, pos unchanged, when there is none or it is
// a surrogate.
func (p *reParser) hexEscape() (rune, bool) {
	n := 0
	switch p.peek() {
	case 'u':
		n = 4
	case 'x':
		n = 2
	default:
		return 0, false
	}
	if p.pos+1+n > len(p.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+1+n], 16, 32)
	if err != nil || v >= 0xD800 && v <= 0xDFFF {
		return 0, false
	}
	p.pos += 1 + n
	return rune(v), true
}

// escape parses the escape after a backslash into ASCII ranges.
func (p *reParser) escape() (ranges []byteRange, neg bool, err error) {
	if p.pos >= len(p.src) {
		return nil, false, p.errorf("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	switch c {
	case 'd', 'D':
		return []byteRange{rng('0', '9')}, c == 'D', nil
	case 'w', 'W':
		return []byteRange{rng('0', '9'), rng('A', 'Z'), one('_'), rng('a', 'z')}, c == 'W', nil
	case 's', 'S':
		return []byteRange{rng('\t', '\r'), one(' ')}, c == 'S', nil
	case 'n':
		return []byteRange{one('\n')}, false, nil
	case 't':
		return []byteRange{one('\t')}, false, nil
	case 'r':
		return []byteRange{one('\r')}, false, nil
	}
	if c < 0x80 && !isAlnum(c) {
		return []byteRange{one(c)}, false, nil
	}
	return nil, false, p.errorf("unsupported escape \\%c", c)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// class parses [...] (ASCII members only).
func (p *reParser) class() (*expr, error) {
	p.pos++ // [
	neg := false
	if p.peek() == '^' {
		neg = true
		p.pos++
	}
	var ranges []byteRange
	first := true
	for {
		if p.pos >= len(p.src) {
			return nil, p.errorf("unclosed [")
		}
		c := p.src[p.pos]
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		if c >= 0x80 {
			return nil, p.errorf("non-ASCII characters in classes are not supported")
		}
		if c == '\\' {
			p.pos++
			if r, ok := p.hexEscape(); ok {
				if r >= 0x80 {
					return nil, p.errorf("non-ASCII characters in classes are not supported")
				}
				lo := byte(r)
				hi := lo
				if p.peek() == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
					p.pos++
					h, ok := byte(0), false
					if p.peek() == '\\' {
						p.pos++
						var rr rune
						if rr, ok = p.hexEscape(); ok && rr < 0x80 {
							h = byte(rr)
						} else {
							ok = false
						}
					} else if p.peek() < 0x80 {
						h, ok = p.peek(), true
						p.pos++
					}
					if !ok || h < lo {
						return nil, p.errorf("bad class range")
					}
					hi = h
				}
				ranges = append(ranges, rng(lo, hi))
				continue
			}
			rs, n, err := p.escape()
			if err != nil {
				return nil, err
			}
			if n {
				return nil, p.errorf("negated escapes inside classes are not supported")
			}
			ranges = append(ranges, rs...)
			continue
		}
		p.pos++
		if p.peek() == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			hi := p.src[p.pos+1]
			if hi >= 0x80 || hi < c || hi == '\\' {
				return nil, p.errorf("bad class range %c-%c", c, hi)
			}
			p.pos += 2
			ranges = append(ranges, rng(c, hi))
			continue
		}
		ranges = append(ranges, one(c))
	}
	return classExpr(ranges, neg), nil
}

// classExpr is one byte in ranges, or with neg one character (ASCII or a
// UTF-8 sequence) not in them.
func classExpr(ranges []byteRange, neg bool) *expr {
	if !neg {
		return class(ranges...)
	}
	var in [128]bool
	for _, r := range ranges {
		for c := int(r.lo); c <= int(r.hi) && c < 128; c++ {
			in[c] = true
		}
	}
	var out []byteRange
	for c := 0; c < 128; c++ {
		if in[c] {
			continue
		}
		if n := len(out); n > 0 && int(out[n-1].hi) == c-1 {
			out[n-1].hi = byte(c)
		} else {
			out = append(out, one(byte(c)))
		}
	}
	return alt(class(out...), utf8Multi())
}

// utf8Multi is one non-ASCII character in UTF-8 (RFC 3629, as the string
// rule accepts it).
func utf8Multi() *expr {
	cont := class(rng(0x80, 0xBF))
	return alt(
		seq(class(rng(0xC2, 0xDF)), cont),
		seq(lit("\xE0"), class(rng(0xA0, 0xBF)), cont),
		seq(class(rng(0xE1, 0xEC), rng(0xEE, 0xEF)), cont, cont),
		seq(lit("\xED"), class(rng(0x80, 0x9F)), cont),
		seq(lit("\xF0"), class(rng(0x90, 0xBF)), cont, cont),
		seq(class(rng(0xF1, 0xF3)), cont, cont, cont),
		seq(lit("\xF4"), class(rng(0x80, 0x8F)), cont, cont),
	)
}
