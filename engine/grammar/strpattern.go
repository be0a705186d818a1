package grammar

import (
	"fmt"
	"math"
)

// patternString compiles a string schema with pattern or format (and
// possibly minLength/maxLength): the JSON string whose decoded text the
// regular expression matches. A pattern matches anywhere in the text unless
// anchored with ^ or $, as JSON Schema defines it; a format matches the
// whole text. Characters that JSON must escape are written escaped (",
// \ and control characters, the latter as \n, \t, ... or \u00XX); every
// other character is written as itself.
//
// Lengths are enforced by checking that every text the expression matches
// has a length within minLength..maxLength; a pattern that may be shorter
// or longer is refused, naming the length keyword, since intersecting the
// two languages is not built.
func (c *compiler) patternString(s *oobject, path string) (*expr, error) {
	key := ""
	if f, ok := s.get("format"); ok {
		name, _ := f.(string)
		key = "format:" + name
	} else if v, ok := s.get("pattern"); ok {
		src, _ := v.(string)
		key = "pattern:" + src
	}
	built, ok := c.patterns[key]
	if !ok {
		var err error
		if built, err = c.buildPattern(s, path); err != nil {
			return nil, err
		}
		if built.rule < 0 { // an annotation-only format
			return c.stringType(without(s, "format"), path)
		}
		if c.patterns == nil {
			c.patterns = map[string]patternRule{}
		}
		c.patterns[key] = built
	}
	// Lengths are checked, not unrolled: any int is fine.
	lo, err := countUpTo(s, "minLength", 0, math.MaxInt32, path)
	if err != nil {
		return nil, err
	}
	hi, err := countUpTo(s, "maxLength", -1, math.MaxInt32, path)
	if err != nil {
		return nil, err
	}
	if built.minC < lo {
		return nil, &SchemaError{Path: path, Keyword: "minLength", Msg: fmt.Sprintf("the pattern or format also matches texts of %d characters; minLength is enforced with it only when every match is long enough", built.minC)}
	}
	if hi >= 0 && (built.maxC < 0 || built.maxC > hi) {
		return nil, &SchemaError{Path: path, Keyword: "maxLength", Msg: "the pattern or format also matches longer texts; maxLength is enforced with it only when every match is short enough"}
	}
	return ref(built.rule), nil
}

// patternRule is the rule of a pattern or format string, built once per
// schema, and the fewest and most characters of its texts (-1: no most).
type patternRule struct {
	rule       int32
	minC, maxC int
}

// buildPattern builds the rule of s's pattern or format (rule -1 for a
// format that does not constrain the text).
func (c *compiler) buildPattern(s *oobject, path string) (patternRule, error) {
	none := patternRule{rule: -1}
	var raw *expr
	var start, end bool
	if f, ok := s.get("format"); ok {
		name, _ := f.(string)
		src, ok := formatPattern(name)
		if !ok {
			return none, &SchemaError{Path: path, Keyword: "format", Msg: fmt.Sprintf("format %q is not supported (supported: %s)", name, supportedFormats)}
		}
		if src == "" {
			return none, nil
		}
		if _, ok := s.get("pattern"); ok {
			return none, &SchemaError{Path: path, Keyword: "pattern", Msg: "cannot be combined with format"}
		}
		e, _, _, err := c.b.parseRegex(src, "format")
		if err != nil {
			return none, fmt.Errorf("grammar: built-in format %q: %w", name, err)
		}
		raw, start, end = e, true, true
	} else {
		v, _ := s.get("pattern")
		src, ok := v.(string)
		if !ok {
			return none, &SchemaError{Path: path, Keyword: "pattern", Msg: "must be a string"}
		}
		e, st, en, err := c.b.parseRegex(src, "pattern")
		if err != nil {
			return none, &SchemaError{Path: path, Keyword: "pattern", Msg: err.Error()}
		}
		raw, start, end = e, st, en
	}
	minC, maxC := charLen(raw, map[*expr][2]int{})
	if !start || !end {
		maxC = -1
	}
	body := jsonEscaped(raw, map[*expr]*expr{})
	closing := lit(`"`)
	if !end {
		// Any characters, then the quote: built as a string body, so
		// that the Masker's string fast path applies.
		closing = &expr{kind: eStrRest}
	}
	body = seq(body, closing)
	if !start {
		// Any characters first, likewise built as a string body.
		body = &expr{kind: eStrPrefix, subs: []*expr{body}}
	}
	// A rule, so that a pattern used in many places is built once.
	r := c.b.newRule()
	c.b.define(r, seq(lit(`"`), body))
	return patternRule{rule: r, minC: minC, maxC: maxC}, c.b.err
}

// escapeByte is how a JSON string writes ASCII byte c, or nil when c is
// written as itself.
func escapeByte(c byte) []byte {
	switch c {
	case '"':
		return []byte(`\"`)
	case '\\':
		return []byte(`\\`)
	case '\n':
		return []byte(`\n`)
	case '\t':
		return []byte(`\t`)
	case '\r':
		return []byte(`\r`)
	case '\b':
		return []byte(`\b`)
	case '\f':
		return []byte(`\f`)
	}
	if c < 0x20 {
		return []byte(fmt.Sprintf(`\u%04x`, c))
	}
	return nil
}

// jsonEscaped rewrites an expression over a text's raw bytes into one over
// the bytes of its JSON string body. Shared sub-expressions stay shared
// (memo), so counted repetition keeps its DAG cost.
func jsonEscaped(e *expr, memo map[*expr]*expr) *expr {
	if x, ok := memo[e]; ok {
		return x
	}
	var out *expr
	switch e.kind {
	case eLit:
		var b []byte
		for _, c := range e.lit {
			if esc := escapeByte(c); esc != nil {
				b = append(b, esc...)
			} else {
				b = append(b, c)
			}
		}
		out = litBytes(b)
	case eClass:
		var plain []byte
		var alts []*expr
		var keep []byteRange
		for _, r := range e.ranges {
			for c := int(r.lo); c <= int(r.hi); c++ {
				if esc := escapeByte(byte(c)); esc != nil {
					alts = append(alts, litBytes(esc))
				} else {
					plain = append(plain, byte(c))
				}
			}
		}
		for _, c := range plain {
			if n := len(keep); n > 0 && int(keep[n-1].hi)+1 == int(c) {
				keep[n-1].hi = c
			} else {
				keep = append(keep, one(c))
			}
		}
		if len(keep) > 0 {
			alts = append([]*expr{class(keep...)}, alts...)
		}
		if len(alts) == 1 {
			out = alts[0]
		} else {
			out = alt(alts...)
		}
	case eSeq, eAlt, eStar, eOpt:
		subs := make([]*expr, len(e.subs))
		for i, s := range e.subs {
			subs[i] = jsonEscaped(s, memo)
		}
		out = &expr{kind: e.kind, subs: subs}
	default:
		out = e
	}
	memo[e] = out
	return out
}

// charLen returns the fewest and most characters (code points) a text
// matching a regex expression has (-1: no most). A byte class of UTF-8
// continuation bytes counts no character, any other byte class one.
func charLen(e *expr, memo map[*expr][2]int) (int, int) {
	if v, ok := memo[e]; ok {
		return v[0], v[1]
	}
	var lo, hi int
	switch e.kind {
	case eLit:
		for _, c := range e.lit {
			if c < 0x80 || c >= 0xC0 {
				lo++
			}
		}
		hi = lo
	case eClass:
		cont := true
		for _, r := range e.ranges {
			cont = cont && r.lo >= 0x80 && r.hi <= 0xBF
		}
		if !cont {
			lo, hi = 1, 1
		}
	case eSeq:
		for _, s := range e.subs {
			a, b := charLen(s, memo)
			lo += a
			if hi >= 0 {
				if b < 0 {
					hi = -1
				} else {
					hi += b
				}
			}
		}
	case eAlt:
		for i, s := range e.subs {
			a, b := charLen(s, memo)
			if i == 0 || a < lo {
				lo = a
			}
			if i == 0 || hi >= 0 && (b < 0 || b > hi) {
				hi = b
			}
		}
	case eStar:
		lo, hi = 0, -1
		if _, b := charLen(e.subs[0], memo); b == 0 {
			hi = 0
		}
	case eOpt:
		_, hi = charLen(e.subs[0], memo)
	}
	memo[e] = [2]int{lo, hi}
	return lo, hi
}
