package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// regexMode selects how a pattern sees the text. llama.cpp runs its
// pre-tokenizer patterns through std::regex, which knows nothing of Unicode,
// after rewriting the text; reproducing those rewrites (rather than Unicode
// semantics) is what makes the splits identical to llama.cpp's.
type regexMode int

const (
	// modeUnicode judges \p{..} and \s on real code points (Hugging Face
	// tokenizers, Oniguruma / fancy-regex semantics).
	modeUnicode regexMode = iota
	// modeCollapsed is llama.cpp's path for patterns that use \p{L}, \p{N} or
	// \p{P}: every non-ASCII code point is replaced by one stand-in byte
	// (white space 0x0B, letter 0xD2, number 0xD1, punctuation 0xD3, other
	// 0xD0) and \p{X} becomes a class of the stand-in plus its ASCII members.
	modeCollapsed
	// modeWide is llama.cpp's std::wregex path for patterns without \p{..}:
	// code points as they are, except non-ASCII white space becomes 0x0B.
	modeWide
)

// regex is a small backtracking matcher with ECMAScript semantics
// (leftmost match, alternatives in order, greedy quantifiers that back off,
// atomic look-ahead). It supports what tokenizer patterns use: alternation,
// groups, (?:..), (?i:..), (?=..), (?!..), quantifiers ? * + {n,m} (lazy
// too), classes with ranges and negation, \s \S \d \D \w \W \p{..} \P{..},
// escapes, . ^ $. Go's regexp has no look-ahead, hence this.
type regex struct {
	root reNode
	mode regexMode
}

// reNode matches at pos and calls k with each possible end, best first,
// stopping as soon as k accepts.
type reNode interface {
	match(in []rune, pos int, k func(int) bool) bool
}

type (
	reClass struct{ c *charClass }
	reSeq   []reNode
	reAlt   []reNode
	reRep   struct {
		sub      reNode
		min, max int // max < 0: unbounded
		lazy     bool
	}
	reLook struct {
		sub reNode
		neg bool
	}
	reBegin struct{}
	reEnd   struct{}
)

func (n reClass) match(in []rune, pos int, k func(int) bool) bool {
	return pos < len(in) && n.c.has(in[pos]) && k(pos+1)
}

func (n reSeq) match(in []rune, pos int, k func(int) bool) bool {
	if len(n) == 0 {
		return k(pos)
	}
	if len(n) == 1 {
		return n[0].match(in, pos, k)
	}
	return n[0].match(in, pos, func(p int) bool { return n[1:].match(in, p, k) })
}

func (n reAlt) match(in []rune, pos int, k func(int) bool) bool {
	for _, a := range n {
		if a.match(in, pos, k) {
			return true
		}
	}
	return false
}

func (n *reRep) match(in []rune, pos int, k func(int) bool) bool {
	return n.step(in, pos, 0, k)
}

func (n *reRep) step(in []rune, pos, count int, k func(int) bool) bool {
	if count < n.min {
		return n.sub.match(in, pos, func(p int) bool { return n.step(in, p, count+1, k) })
	}
	if n.max >= 0 && count >= n.max {
		return k(pos)
	}
	more := func() bool {
		// An iteration that consumes nothing ends the loop (ECMAScript).
		return n.sub.match(in, pos, func(p int) bool { return p > pos && n.step(in, p, count+1, k) })
	}
	if n.lazy {
		return k(pos) || more()
	}
	return more() || k(pos)
}

func (n reLook) match(in []rune, pos int, k func(int) bool) bool {
	found := n.sub.match(in, pos, func(int) bool { return true })
	if found == n.neg {
		return false
	}
	return k(pos)
}

func (reBegin) match(in []rune, pos int, k func(int) bool) bool { return pos == 0 && k(pos) }
func (reEnd) match(in []rune, pos int, k func(int) bool) bool   { return pos == len(in) && k(pos) }

// charClass is a set of code points: ranges plus predicates, optionally
// negated and case-folded.
type charClass struct {
	ranges []rune // pairs lo, hi
	preds  []func(rune) bool
	neg    bool
	fold   bool
}

func (c *charClass) has(r rune) bool {
	in := c.raw(r)
	if !in && c.fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.raw(f) {
				in = true
				break
			}
		}
	}
	return in != c.neg
}

func (c *charClass) raw(r rune) bool {
	for i := 0; i < len(c.ranges); i += 2 {
		if r >= c.ranges[i] && r <= c.ranges[i+1] {
			return true
		}
	}
	for _, p := range c.preds {
		if p(r) {
			return true
		}
	}
	return false
}

func (c *charClass) addRange(lo, hi rune) { c.ranges = append(c.ranges, lo, hi) }

// merge adds every member of o (which must not be negated) to c.
func (c *charClass) merge(o *charClass) {
	if o.neg {
		c.preds = append(c.preds, o.has)
		return
	}
	c.ranges = append(c.ranges, o.ranges...)
	c.preds = append(c.preds, o.preds...)
}

// compileRegex parses pattern for the given mode.
func compileRegex(pattern string, mode regexMode) (*regex, error) {
	p := &reParser{src: pattern, mode: mode}
	n, err := p.alt()
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	if p.pos < len(p.src) {
		return nil, fmt.Errorf("regex %q: unexpected %q at %d", pattern, p.src[p.pos], p.pos)
	}
	return &regex{root: n, mode: mode}, nil
}

// llamaRegexMode is the mode llama.cpp picks for one of its patterns.
func llamaRegexMode(pattern string) regexMode {
	for _, c := range []string{`\p{N}`, `\p{L}`, `\p{P}`} {
		if strings.Contains(pattern, c) {
			return modeCollapsed
		}
	}
	return modeWide
}

// mapText rewrites code points the way the mode's regex engine sees them.
func (re *regex) mapText(runes []rune, flags []cpFlags) []rune {
	if re.mode == modeUnicode {
		return runes
	}
	out := make([]rune, len(runes))
	for i, r := range runes {
		switch {
		case r < 0x80:
			out[i] = r
		case flags[i].isWhitespace():
			out[i] = 0x0b
		case re.mode == modeWide:
			out[i] = r
		case flags[i]&flagLetter != 0:
			out[i] = 0xd2
		case flags[i]&flagNumber != 0:
			out[i] = 0xd1
		case flags[i]&flagPunct != 0:
			out[i] = 0xd3
		default:
			out[i] = 0xd0
		}
	}
	return out
}

// matchAt returns the end of the preferred non-empty match starting at
// pos, or -1.
func (re *regex) matchAt(in []rune, pos int) int {
	if c, ok := re.root.(reClass); ok { // a lone class: no backtracking needed
		if pos < len(in) && c.c.has(in[pos]) {
			return pos + 1
		}
		return -1
	}
	end := -1
	re.root.match(in, pos, func(p int) bool {
		if p > pos {
			end = p
			return true
		}
		return false
	})
	return end
}

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
