package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
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
