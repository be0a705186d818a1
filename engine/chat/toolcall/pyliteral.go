package toolcall

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyReader parses the pythonic call list and converts its literal
// arguments to JSON as it goes. It accepts Python's str (single or double
// quotes, the usual escapes), int, float, True/False/None, list, tuple (as an
// array) and dict (string or number keys); JSON's true/false/null too, since
// models trained on JSON drift into them. Anything else is a failure.
type pyReader struct {
	s   string
	i   int
	out strings.Builder
}

// parsePyCalls parses "[name(k=v, ...), ...]" with at least one call.
func parsePyCalls(s string) ([]rawCall, bool) {
	r := &pyReader{s: s}
	if !r.eat('[') {
		return nil, false
	}
	var calls []rawCall
	for {
		r.space()
		if r.eat(']') {
			break
		}
		if len(calls) > 0 && !r.eat(',') {
			return nil, false
		}
		r.space()
		if len(calls) > 0 && r.eat(']') {
			break
		}
		c, good := r.call()
		if !good {
			return nil, false
		}
		calls = append(calls, c)
	}
	r.space()
	return calls, len(calls) > 0 && r.i == len(r.s)
}

func (r *pyReader) space() {
	for r.i < len(r.s) && strings.IndexByte(" \t\r\n", r.s[r.i]) >= 0 {
		r.i++
	}
}

func (r *pyReader) eat(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *pyReader) ident() string {
	start := r.i
	for r.i < len(r.s) {
		c := r.s[r.i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || r.i > start && c >= '0' && c <= '9' {
			r.i++
			continue
		}
		break
	}
	return r.s[start:r.i]
}

// call reads name(k=v, ...); dotted names (module.func) are kept whole.
func (r *pyReader) call() (rawCall, bool) {
	name := r.ident()
	for name != "" && r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		part := r.ident()
		if part == "" {
			return rawCall{}, false
		}
		name += "." + part
	}
	r.space()
	if name == "" || !r.eat('(') {
		return rawCall{}, false
	}
	r.out.Reset()
	r.out.WriteByte('{')
	for n := 0; ; n++ {
		r.space()
		if r.eat(')') {
			break
		}
		if n > 0 {
			if !r.eat(',') {
				return rawCall{}, false
			}
			r.space()
			if r.eat(')') {
				break
			}
			r.out.WriteByte(',')
		}
		key := r.ident()
		r.space()
		if key == "" || !r.eat('=') {
			return rawCall{}, false // positional arguments have no name to give
		}
		r.space()
		writeJSONString(&r.out, key)
		r.out.WriteByte(':')
		if !r.value() {
			return rawCall{}, false
		}
	}
	r.out.WriteByte('}')
	return rawCall{name: name, args: r.out.String()}, true
}

// value converts one literal to JSON, appending it to out.
func (r *pyReader) value() bool {
	if r.i >= len(r.s) {
		return false
	}
	switch c := r.s[r.i]; {
	case c == '\'' || c == '"':
		str, good := r.str()
		if good {
			writeJSONString(&r.out, str)
		}
		return good
	case c == '[':
		r.i++
		return r.seq(']')
	case c == '(':
		r.i++
		return r.seq(')')
	case c == '{':
		r.i++
		return r.dict()
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		num, good := r.number()
		r.out.WriteString(num)
		return good
	}
	word := r.ident()
	lit, known := map[string]string{"True": "true", "False": "false", "None": "null",
		"true": "true", "false": "false", "null": "null"}[word]
	if known {
		r.out.WriteString(lit)
	}
	return known
}

// seq reads list or tuple items up to end, as a JSON array.
func (r *pyReader) seq(end byte) bool {
	r.out.WriteByte('[')
	for n := 0; ; n++ {
		r.space()
		if r.eat(end) {
			break
		}
		if n > 0 {
			if !r.eat(',') {
				return false
			}
			r.space()
			if r.eat(end) {
				break
			}
			r.out.WriteByte(',')
		}
		if !r.value() {
			return false
		}
	}
	r.out.WriteByte(']')
	return true
}

// dict reads {key: value, ...}; JSON keys are strings, so number keys are
// written as their text.
func (r *pyReader) dict() bool {
	r.out.WriteByte('{')
	for n := 0; ; n++ {
		r.space()
		if r.eat('}') {
			break
		}
		if n > 0 {
			if !r.eat(',') {
				return false
			}
			r.space()
			if r.eat('}') {
				break
			}
			r.out.WriteByte(',')
		}
		if r.i >= len(r.s) {
			return false
		}
		if c := r.s[r.i]; c == '\'' || c == '"' {
			key, good := r.str()
			if !good {
				return false
			}
			writeJSONString(&r.out, key)
		} else {
			num, good := r.number()
			if !good {
				return false
			}
			writeJSONString(&r.out, num)
		}
		r.space()
		if !r.eat(':') {
			return false
		}
		r.out.WriteByte(':')
		r.space()
		if !r.value() {
			return false
		}
	}
	r.out.WriteByte('}')
	return true
}

// number reads an int or float and writes it in JSON's stricter syntax
// ("+1" -> 1, "5." -> 5.0, ".5" -> 0.5). Hex, underscores, inf and nan fail.
func (r *pyReader) number() (string, bool) {
	start := r.i
	neg := false
	if r.s[r.i] == '-' || r.s[r.i] == '+' {
		neg = r.s[r.i] == '-'
		r.i++
	}
	digits := func() string {
		b := r.i
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
		}
		return r.s[b:r.i]
	}
	intPart := digits()
	frac, hasFrac := "", false
	if r.eat('.') {
		frac, hasFrac = digits(), true
	}
	if intPart == "" && frac == "" {
		return "", false
	}
	exp := ""
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		sign := ""
		if r.i < len(r.s) && (r.s[r.i] == '-' || r.s[r.i] == '+') {
			sign = r.s[r.i : r.i+1]
			r.i++
		}
		d := digits()
		if d == "" {
			return "", false
		}
		exp = "e" + sign + d
	}
	if len(intPart) > 1 && intPart[0] == '0' && !hasFrac && exp == "" {
		return "", false // Python 3 rejects 007
	}
	if r.i < len(r.s) && (isNameByte(r.s[r.i]) && r.s[r.i] != '-') {
		r.i = start
		return "", false // 0x1f, 1_000, 2j, 1.2.3
	}
	if intPart == "" {
		intPart = "0"
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	num := intPart
	if neg {
		num = "-" + num
	}
	if hasFrac {
		if frac == "" {
			frac = "0"
		}
		num += "." + frac
	}
	return num + exp, true
}

// str reads a quoted literal, decoding Python escapes; an unknown escape
// keeps its backslash, as Python does.
func (r *pyReader) str() (string, bool) {
	q := r.s[r.i]
	r.i++
	var b strings.Builder
	for r.i < len(r.s) {
		c := r.s[r.i]
		r.i++
		if c == q {
			return b.String(), true
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if r.i >= len(r.s) {
			return "", false
		}
		e := r.s[r.i]
		r.i++
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\\', '\'', '"':
			b.WriteByte(e)
		case '\n':
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if r.i+n > len(r.s) {
				return "", false
			}
			v, err := strconv.ParseUint(r.s[r.i:r.i+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(v)) {
				return "", false
			}
			b.WriteRune(rune(v))
			r.i += n
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", false
}

// writeJSONString appends s as a JSON string without HTML escaping, so
// "<" stays "<" in the arguments the client sees.
func writeJSONString(out *strings.Builder, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	out.Write(bytes.TrimRight(b.Bytes(), "\n"))
}
