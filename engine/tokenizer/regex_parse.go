package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// reParser compiles the regex subset llama.cpp's pre-tokenizer patterns use
// (see regex.go for the matcher it builds).
type reParser struct {
	src  string
	pos  int
	mode regexMode
	fold bool
}

func (p *reParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *reParser) alt() (reNode, error) {
	var alts reAlt
	for {
		s, err := p.seq()
		if err != nil {
			return nil, err
		}
		alts = append(alts, s)
		if p.peek() != '|' {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alts, nil
}

func (p *reParser) seq() (reNode, error) {
	var s reSeq
	for p.pos < len(p.src) && p.peek() != '|' && p.peek() != ')' {
		atom, err := p.atom()
		if err != nil {
			return nil, err
		}
		atom, err = p.quantifier(atom)
		if err != nil {
			return nil, err
		}
		s = append(s, atom)
	}
	if len(s) == 1 {
		return s[0], nil
	}
	return s, nil
}

func (p *reParser) quantifier(atom reNode) (reNode, error) {
	for {
		min, max := 0, 0
		switch p.peek() {
		case '*':
			min, max = 0, -1
			p.pos++
		case '+':
			min, max = 1, -1
			p.pos++
		case '?':
			min, max = 0, 1
			p.pos++
		case '{':
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return atom, nil
			}
			body := p.src[p.pos+1 : p.pos+end]
			lo, hi, ok := strings.Cut(body, ",")
			a, err := strconv.Atoi(lo)
			if err != nil {
				return nil, fmt.Errorf("bad repetition {%s}", body)
			}
			b := a
			if ok {
				b = -1
				if hi != "" {
					if b, err = strconv.Atoi(hi); err != nil {
						return nil, fmt.Errorf("bad repetition {%s}", body)
					}
				}
			}
			min, max = a, b
			p.pos += end + 1
		default:
			return atom, nil
		}
		lazy := false
		if p.peek() == '?' {
			lazy = true
			p.pos++
		}
		atom = &reRep{sub: atom, min: min, max: max, lazy: lazy}
	}
}

func (p *reParser) atom() (reNode, error) {
	c := p.peek()
	switch c {
	case '(':
		p.pos++
		var look, neg bool
		saved := p.fold
		if strings.HasPrefix(p.src[p.pos:], "?:") {
			p.pos += 2
		} else if strings.HasPrefix(p.src[p.pos:], "?i:") {
			p.pos += 3
			p.fold = true
		} else if strings.HasPrefix(p.src[p.pos:], "?=") {
			p.pos += 2
			look = true
		} else if strings.HasPrefix(p.src[p.pos:], "?!") {
			p.pos += 2
			look, neg = true, true
		} else if p.peek() == '?' {
			return nil, fmt.Errorf("unsupported group at %d", p.pos)
		}
		n, err := p.alt()
		p.fold = saved
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ) at %d", p.pos)
		}
		p.pos++
		if look {
			return reLook{sub: n, neg: neg}, nil
		}
		return n, nil
	case '[':
		cls, err := p.class()
		if err != nil {
			return nil, err
		}
		return reClass{cls}, nil
	case '^':
		p.pos++
		return reBegin{}, nil
	case '$':
		p.pos++
		return reEnd{}, nil
	case '.':
		p.pos++
		return reClass{&charClass{ranges: []rune{'\n', '\n', '\r', '\r', 0x2028, 0x2029}, neg: true}}, nil
	case '\\':
		cls, err := p.escape()
		if err != nil {
			return nil, err
		}
		cls.fold = p.fold
		return reClass{cls}, nil
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return reClass{&charClass{ranges: []rune{r, r}, fold: p.fold}}, nil
}

// class parses [...] at p.pos.
func (p *reParser) class() (*charClass, error) {
	p.pos++ // [
	cls := &charClass{fold: p.fold}
	if p.peek() == '^' {
		cls.neg = true
		p.pos++
	}
	first := true
	for {
		if p.pos >= len(p.src) {
			return nil, fmt.Errorf("missing ]")
		}
		if p.peek() == ']' && !first {
			p.pos++
			return cls, nil
		}
		first = false
		lo, sub, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		if sub != nil {
			cls.merge(sub)
			continue
		}
		if p.peek() == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			p.pos++
			hi, sub2, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if sub2 != nil || hi < lo {
				return nil, fmt.Errorf("bad range in class at %d", p.pos)
			}
			cls.addRange(lo, hi)
			continue
		}
		cls.addRange(lo, lo)
	}
}

// classAtom reads one member of a bracket class: a code point or a nested
// class such as \s or \p{L}.
func (p *reParser) classAtom() (rune, *charClass, error) {
	if p.peek() == '\\' {
		cls, err := p.escape()
		if err != nil {
			return 0, nil, err
		}
		if len(cls.preds) == 0 && !cls.neg && len(cls.ranges) == 2 && cls.ranges[0] == cls.ranges[1] {
			return cls.ranges[0], nil, nil
		}
		return 0, cls, nil
	}
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r, nil, nil
}

// escape parses a backslash escape at p.pos into a class.
func (p *reParser) escape() (*charClass, error) {
	p.pos++ // backslash
	if p.pos >= len(p.src) {
		return nil, fmt.Errorf("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	single := func(r rune) (*charClass, error) { return &charClass{ranges: []rune{r, r}}, nil }
	switch c {
	case 's', 'S':
		cls := p.spaceClass()
		cls.neg = c == 'S'
		return cls, nil
	case 'd', 'D':
		cls := &charClass{neg: c == 'D'}
		if p.mode == modeUnicode {
			cls.preds = []func(rune) bool{unicode.IsDigit}
		} else {
			cls.addRange('0', '9')
		}
		return cls, nil
	case 'w', 'W':
		cls := &charClass{neg: c == 'W', ranges: []rune{'a', 'z', 'A', 'Z', '0', '9', '_', '_'}}
		if p.mode == modeUnicode {
			cls.preds = []func(rune) bool{unicode.IsLetter, unicode.IsDigit, unicode.IsMark}
		}
		return cls, nil
	case 'p', 'P':
		name := ""
		if p.peek() == '{' {
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, fmt.Errorf("bad \\p")
			}
			name = p.src[p.pos+1 : p.pos+end]
			p.pos += end + 1
		} else if p.pos < len(p.src) {
			name = p.src[p.pos : p.pos+1]
			p.pos++
		}
		cls, err := p.propertyClass(name)
		if err != nil {
			return nil, err
		}
		if c == 'P' {
			cls.neg = !cls.neg
		}
		return cls, nil
	case 'r':
		return single('\r')
	case 'n':
		return single('\n')
	case 't':
		return single('\t')
	case 'v':
		return single('\v')
	case 'f':
		return single('\f')
	case '0':
		return single(0)
	case 'x', 'u':
		n := 2
		if c == 'u' {
			n = 4
		}
		if p.peek() == '{' {
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, fmt.Errorf("bad \\%c escape", c)
			}
			v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad \\%c escape: %w", c, err)
			}
			p.pos += end + 1
			return single(rune(v))
		}
		if p.pos+n > len(p.src) {
			return nil, fmt.Errorf("bad \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("bad \\%c escape: %w", c, err)
		}
		p.pos += n
		return single(rune(v))
	}
	if c >= 0x80 {
		p.pos--
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += n
		return single(r)
	}
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return nil, fmt.Errorf("unsupported escape \\%c", c)
	}
	return single(rune(c))
}

func (p *reParser) spaceClass() *charClass {
	if p.mode == modeUnicode {
		return &charClass{preds: []func(rune) bool{func(r rune) bool { return runeFlags(r).isWhitespace() }}}
	}
	return &charClass{ranges: []rune{'\t', '\r', ' ', ' '}}
}

// propertyClass builds \p{name} for the parser's mode.
func (p *reParser) propertyClass(name string) (*charClass, error) {
	if p.mode == modeCollapsed {
		switch name {
		case "L":
			return &charClass{ranges: []rune{0xd2, 0xd2, 'A', 'Z', 'a', 'z'}}, nil
		case "N":
			return &charClass{ranges: []rune{0xd1, 0xd1, '0', '9'}}, nil
		case "P":
			return &charClass{ranges: []rune{0xd3, 0xd3, 0x21, 0x23, 0x25, 0x2a, 0x2c, 0x2f, 0x3a, 0x3b,
				0x3f, 0x40, 0x5b, 0x5d, 0x5f, 0x5f, 0x7b, 0x7b, 0x7d, 0x7d}}, nil
		}
		return nil, fmt.Errorf("\\p{%s} is not supported by llama.cpp's collapsed regex", name)
	}
	if p.mode == modeWide {
		return nil, fmt.Errorf("\\p{%s} in a wide-mode pattern", name)
	}
	var flag cpFlags
	switch name {
	case "L":
		flag = flagLetter
	case "N":
		flag = flagNumber
	case "P":
		flag = flagPunct
	case "S":
		flag = flagSymbol
	case "M":
		flag = flagMark
	case "Z":
		flag = flagSeparator
	case "C":
		flag = flagControl
	default:
		tab, ok := unicode.Categories[name]
		if !ok {
			return nil, fmt.Errorf("unknown property \\p{%s}", name)
		}
		return &charClass{preds: []func(rune) bool{func(r rune) bool { return unicode.Is(tab, r) }}}, nil
	}
	return &charClass{preds: []func(rune) bool{func(r rune) bool { return runeFlags(r)&flag != 0 }}}, nil
}
