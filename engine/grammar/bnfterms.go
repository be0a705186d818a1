package grammar

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// escape reads an escape after a backslash, returning its code point.
func (p *bnfParser) escape() (rune, error) {
	if p.pos >= len(p.src) {
		return 0, p.errorf("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	digits := 0
	switch c {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'f':
		return '\f', nil
	case 'v':
		return '\v', nil
	case '0':
		return 0, nil
	case 'x':
		digits = 2
	case 'u':
		digits = 4
	case 'U':
		digits = 8
	default:
		if c < 0x80 && !isAlnum(c) {
			return rune(c), nil
		}
		return 0, p.errAt(p.pos-2, fmt.Sprintf("unknown escape \\%c", c))
	}
	if p.pos+digits > len(p.src) {
		return 0, p.errorf("truncated \\%c escape", c)
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+digits], 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, p.errorf("bad \\%c escape", c)
	}
	p.pos += digits
	return rune(v), nil
}

// literal parses a quoted string into its UTF-8 bytes.
func (p *bnfParser) literal(quote byte) (*expr, error) {
	start := p.pos
	p.pos++
	var buf []byte
	for {
		if p.pos >= len(p.src) || p.src[p.pos] == '\n' {
			return nil, p.errAt(start, "unterminated string literal")
		}
		c := p.src[p.pos]
		if c == quote {
			p.pos++
			break
		}
		if c == '\\' {
			p.pos++
			r, err := p.escape()
			if err != nil {
				return nil, err
			}
			if r >= 0xD800 && r <= 0xDFFF {
				return nil, p.errorf("a surrogate cannot be written in UTF-8")
			}
			buf = utf8.AppendRune(buf, r)
			continue
		}
		buf = append(buf, c)
		p.pos++
	}
	if p.lark && p.pos < len(p.src) && p.src[p.pos] == 'i' {
		return nil, p.errorf("case-insensitive literals are not supported")
	}
	return litBytes(buf), nil
}

// charClass parses [...] or [^...] over code points.
func (p *bnfParser) charClass() (*expr, error) {
	start := p.pos
	p.pos++
	neg := false
	if p.pos < len(p.src) && p.src[p.pos] == '^' {
		neg = true
		p.pos++
	}
	var ranges []runeRange
	read := func() (rune, error) {
		if p.pos >= len(p.src) {
			return 0, p.errAt(start, "unclosed [")
		}
		if p.src[p.pos] == '\\' {
			p.pos++
			return p.escape()
		}
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += n
		return r, nil
	}
	for {
		if p.pos >= len(p.src) {
			return nil, p.errAt(start, "unclosed [")
		}
		if p.src[p.pos] == ']' {
			p.pos++
			break
		}
		lo, err := read()
		if err != nil {
			return nil, err
		}
		hi := lo
		if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			if hi, err = read(); err != nil {
				return nil, err
			}
			if hi < lo {
				return nil, p.errorf("bad class range")
			}
		}
		ranges = append(ranges, runeRange{lo, hi})
	}
	if neg {
		ranges = complementRunes(ranges)
	}
	if len(ranges) == 0 {
		return nil, p.errAt(start, "empty character class")
	}
	return utf8Class(ranges), nil
}

// complementRunes returns the code points in none of ranges.
func complementRunes(ranges []runeRange) []runeRange {
	sorted := make([]runeRange, len(ranges))
	copy(sorted, ranges)
	for i := 1; i < len(sorted); i++ { // few ranges: insertion sort
		for j := i; j > 0 && sorted[j].lo < sorted[j-1].lo; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var out []runeRange
	next := rune(0)
	for _, r := range sorted {
		if r.lo > next {
			out = append(out, runeRange{next, r.lo - 1})
		}
		next = max(next, r.hi+1)
	}
	if next <= utf8.MaxRune {
		out = append(out, runeRange{next, utf8.MaxRune})
	}
	return out
}
