package grammar

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxIntValue is the largest magnitude a generated integer may have
// (maxIntDigits digits): every bound is clamped to it.
const maxIntValue = 999_999_999_999_999

// maxModulus bounds multipleOf for integers without a small range: the
// remainder automaton has one state per (remainder, digit count).
const maxModulus = 1000

// maxEnumerated bounds the multiples of a bounded range written out as
// literal alternatives.
const maxEnumerated = 512

// bounds are the numeric range keywords of a schema, as floats (every
// bound is clamped to the generated digits, far inside float64's exact
// integers).
type bounds struct {
	lo, hi         float64 // -Inf/+Inf when absent
	loExcl, hiExcl bool
	set            bool // some range keyword is present
}

// numericBounds reads minimum, maximum, exclusiveMinimum and
// exclusiveMaximum (numbers as in draft 6 and later, or the booleans of
// draft 4).
func numericBounds(s *oobject, path string) (bounds, error) {
	b := bounds{lo: math.Inf(-1), hi: math.Inf(1)}
	num := func(k string) (float64, bool, error) {
		v, ok := s.get(k)
		if !ok {
			return 0, false, nil
		}
		n, isNum := v.(json.Number)
		if !isNum {
			if _, isBool := v.(bool); isBool && strings.HasPrefix(k, "exclusive") {
				return 0, false, nil
			}
			return 0, false, &SchemaError{Path: path, Keyword: k, Msg: "must be a number"}
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, false, &SchemaError{Path: path, Keyword: k, Msg: "must be a finite number"}
		}
		return f, true, nil
	}
	for _, k := range []struct {
		key  string
		low  bool
		excl bool
	}{{"minimum", true, false}, {"maximum", false, false}, {"exclusiveMinimum", true, true}, {"exclusiveMaximum", false, true}} {
		f, ok, err := num(k.key)
		if err != nil {
			return b, err
		}
		if !ok {
			continue
		}
		b.set = true
		switch {
		case k.low && (f > b.lo || f == b.lo && k.excl):
			b.lo, b.loExcl = f, k.excl
		case !k.low && (f < b.hi || f == b.hi && k.excl):
			b.hi, b.hiExcl = f, k.excl
		}
	}
	// Draft 4: exclusiveMinimum true makes minimum exclusive.
	if v, ok := s.get("exclusiveMinimum"); ok && v == true {
		b.loExcl = true
	}
	if v, ok := s.get("exclusiveMaximum"); ok && v == true {
		b.hiExcl = true
	}
	return b, nil
}

// intLo and intHi are the smallest and largest integers in the range,
// clamped to the generated digits.
func (b bounds) intLo() int64 {
	x := math.Ceil(b.lo)
	if b.loExcl && x == b.lo {
		x++
	}
	return clampInt(x)
}

func (b bounds) intHi() int64 {
	x := math.Floor(b.hi)
	if b.hiExcl && x == b.hi {
		x--
	}
	return clampInt(x)
}

func clampInt(x float64) int64 {
	switch {
	case x > maxIntValue:
		return maxIntValue + 1 // above any generated integer
	case x < -maxIntValue:
		return -maxIntValue - 1
	}
	return int64(x)
}

// integerSchema compiles type integer with its range and multipleOf. The
// range is exact: a digit-level grammar of the integers between the bounds,
// linear in their number of digits.
func (c *compiler) integerSchema(s *oobject, path string) (*expr, error) {
	b, err := numericBounds(s, path)
	if err != nil {
		return nil, err
	}
	lo, hi := max(b.intLo(), -maxIntValue), min(b.intHi(), maxIntValue)
	if lo > hi {
		return nil, &SchemaError{Path: path, Keyword: "minimum", Msg: fmt.Sprintf("no integer of at most %d digits lies in the range", maxIntDigits)}
	}
	if _, ok := s.get("multipleOf"); ok {
		return c.multipleOf(s, b, lo, hi, path)
	}
	if !b.set {
		return ref(c.numberRule(true)), nil
	}
	return intRange(lo, hi), nil
}

// multipleOf compiles the multiples of an integer k between lo and hi:
// written out when there are few, else through a remainder automaton when
// the range is all integers of a sign (minimum 0 or 1, or none). Other
// combinations are refused.
func (c *compiler) multipleOf(s *oobject, b bounds, lo, hi int64, path string) (*expr, error) {
	v, _ := s.get("multipleOf")
	n, ok := v.(json.Number)
	f, err := strconv.ParseFloat(string(n), 64)
	if !ok || err != nil || f <= 0 {
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "must be a positive number"}
	}
	if f != math.Trunc(f) || f > maxIntValue {
		if f < 1 && 1/f == math.Trunc(1/f) { // every integer is a multiple of 1/n
			return c.integerSchema(without(s, "multipleOf"), path)
		}
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "only integer moduli are supported for integers"}
	}
	k := int64(f)
	if k == 1 {
		return c.integerSchema(without(s, "multipleOf"), path)
	}
	first := ceilDiv(lo, k) * k
	if first <= hi && (hi-first)/k < maxEnumerated {
		var opts [][]byte
		for x := first; x <= hi; x += k {
			opts = append(opts, strconv.AppendInt(nil, x, 10))
		}
		return litAlt(opts), nil
	}
	if first > hi {
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "no multiple lies in the range"}
	}
	if k > maxModulus {
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: fmt.Sprintf("a modulus above %d needs a range of at most %d multiples", maxModulus, maxEnumerated)}
	}
	unboundedHi := math.IsInf(b.hi, 1)
	unboundedLo := math.IsInf(b.lo, -1)
	var neg, zero, pos bool
	switch {
	case unboundedLo && unboundedHi:
		neg, zero, pos = true, true, true
	case unboundedHi && lo <= k:
		zero, pos = lo <= 0, true
		neg = false
		if lo < 0 && -lo >= k {
			return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "a range over negative multiples is supported only when it is bounded to a few multiples"}
		}
	case unboundedLo && hi >= -k:
		zero, neg = hi >= 0, true
		if hi > 0 && hi >= k {
			return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "a range over positive multiples is supported only when it is bounded to a few multiples"}
		}
	default:
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: fmt.Sprintf("with this range it is supported for at most %d multiples, or with minimum at most the modulus (or maximum at least minus it) and the other side unbounded", maxEnumerated)}
	}
	return ref(c.modRule(k, neg, zero, pos)), nil
}

// modRule builds a rule of the integers (of at most maxIntDigits digits)
// divisible by k: a digit automaton whose state is the remainder so far and
// the digits written, with neg, zero and pos choosing which signs appear.
func (c *compiler) modRule(k int64, neg, zero, pos bool) int32 {
	b := c.b
	r := b.newRule()
	start, final := b.rules[r].start, b.rules[r].final
	if zero {
		b.addEdge(start, '0', '0', final)
	}
	// states[d-1][rem] is the state after d digits with remainder rem.
	states := make([]map[int64]int32, maxIntDigits)
	for i := range states {
		states[i] = map[int64]int32{}
	}
	get := func(d int, rem int64) int32 {
		if s, ok := states[d-1][rem]; ok {
			return s
		}
		s := b.newState()
		states[d-1][rem] = s
		if rem == 0 {
			b.addEps(s, final)
		}
		return s
	}
	var firsts []int32
	if pos {
		firsts = append(firsts, start)
	}
	if neg {
		m := b.newState()
		b.addEdge(start, '-', '-', m)
		firsts = append(firsts, m)
	}
	for _, f := range firsts {
		for dgt := int64(1); dgt <= 9; dgt++ {
			b.addEdge(f, byte('0'+dgt), byte('0'+dgt), get(1, dgt%k))
		}
	}
	for d := 1; d < maxIntDigits && b.err == nil; d++ {
		for rem := int64(0); rem < k; rem++ {
			s, ok := states[d-1][rem]
			if !ok {
				continue
			}
			for dgt := int64(0); dgt <= 9; dgt++ {
				b.addEdge(s, byte('0'+dgt), byte('0'+dgt), get(d+1, (rem*10+dgt)%k))
			}
		}
	}
	return r
}

func ceilDiv(a, k int64) int64 {
	q := a / k
	if a%k != 0 && a > 0 {
		q++
	}
	return q
}

// without returns a copy of s without key k.
func without(s *oobject, k string) *oobject {
	o := &oobject{vals: map[string]any{}}
	for _, key := range s.keys {
		if key != k {
			o.keys = append(o.keys, key)
			o.vals[key] = s.vals[key]
		}
	}
	return o
}

// numberSchema compiles type number with a range. It is a sound
// approximation: it never admits a value outside the range. Integers in
// the range are all allowed; a fraction I.F (or -I.F) only when the whole
// unit interval it lies in is in the range, or when the range opens
// exclusively at the integer I itself (then F has a non-zero digit). Near a
// bound that is not an integer, only integers are written; exponents are
// not written. multipleOf is refused for numbers.
func (c *compiler) numberSchema(s *oobject, path string) (*expr, error) {
	if _, ok := s.get("multipleOf"); ok {
		return nil, &SchemaError{Path: path, Keyword: "multipleOf", Msg: "supported for integers only"}
	}
	b, err := numericBounds(s, path)
	if err != nil {
		return nil, err
	}
	if !b.set {
		return ref(c.numberRule(false)), nil
	}
	frac := seq(lit("."), upTo(digits(), maxFracDigits-1), digits())
	nonzero := seq(lit("."), upTo(digits(), maxFracDigits-1), class(rng('1', '9')))
	var alts []*expr
	if lo, hi := max(b.intLo(), -maxIntValue), min(b.intHi(), maxIntValue); lo <= hi {
		alts = append(alts, intRange(lo, hi))
	}
	// I.F >= 0 lies in [I, I+1): needs I >= lo (> lo when exclusive) and I+1 <= hi.
	pLo, pHi := max(b.intLo(), 0), min(clampInt(math.Floor(b.hi))-1, maxIntValue)
	if pLo <= pHi {
		alts = append(alts, seq(natRange(pLo, pHi), frac))
	}
	if b.loExcl && b.lo >= 0 && b.lo == math.Trunc(b.lo) && b.lo+1 <= b.hi && b.lo <= maxIntValue {
		alts = append(alts, seq(natRange(int64(b.lo), int64(b.lo)), nonzero))
	}
	// -I.F lies in (-(I+1), -I]: needs -(I+1) >= lo and -I <= hi (< hi when exclusive).
	nb := bounds{lo: -b.hi, loExcl: b.hiExcl, hi: math.Inf(1)}
	nLo, nHi := max(nb.intLo(), 0), min(clampInt(math.Floor(-b.lo))-1, maxIntValue)
	if nLo <= nHi {
		alts = append(alts, seq(lit("-"), natRange(nLo, nHi), frac))
	}
	if b.hiExcl && b.hi <= 0 && b.hi == math.Trunc(b.hi) && b.hi-1 >= b.lo && -b.hi <= maxIntValue {
		alts = append(alts, seq(lit("-"), natRange(int64(-b.hi), int64(-b.hi)), nonzero))
	}
	if len(alts) == 0 {
		return nil, &SchemaError{Path: path, Keyword: "minimum", Msg: "the range holds no integer and no whole unit interval, which the grammar needs to write a number in it"}
	}
	return alt(alts...), nil
}

// intRange is the decimal integers from lo to hi (|lo|, |hi| <=
// maxIntValue), without leading zeros or "-0".
func intRange(lo, hi int64) *expr {
	var alts []*expr
	if lo < 0 {
		if nlo, nhi := max(1, -hi), -lo; nlo <= nhi {
			alts = append(alts, seq(lit("-"), natRange(nlo, nhi)))
		}
	}
	if hi >= 0 {
		alts = append(alts, natRange(max(0, lo), hi))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return alt(alts...)
}

// natRange is the naturals from lo to hi (0 <= lo <= hi), one branch per
// digit count, each linear in the digits.
func natRange(lo, hi int64) *expr {
	var alts []*expr
	for d := len(strconv.FormatInt(lo, 10)); d <= len(strconv.FormatInt(hi, 10)); d++ {
		a, z := int64(0), int64(9)
		if d > 1 {
			a = pow10(d - 1)
			z = 10*a - 1
		}
		a, z = max(a, lo), min(z, hi)
		if a <= z {
			alts = append(alts, sameLen(strconv.FormatInt(a, 10), strconv.FormatInt(z, 10)))
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return alt(alts...)
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// sameLen is the digit strings from a to b, both of the same length.
func sameLen(a, b string) *expr {
	if a == "" {
		return emptyExpr()
	}
	if a[0] == b[0] {
		return seq(lit(a[:1]), sameLen(a[1:], b[1:]))
	}
	if allByte(a[1:], '0') && allByte(b[1:], '9') {
		return seq(class(rng(a[0], b[0])), anyDigits(len(a)-1))
	}
	alts := []*expr{seq(lit(a[:1]), atLeast(a[1:]))}
	if a[0]+1 <= b[0]-1 {
		alts = append(alts, seq(class(rng(a[0]+1, b[0]-1)), anyDigits(len(a)-1)))
	}
	return alt(append(alts, seq(lit(b[:1]), atMost(b[1:])))...)
}

// atLeast is the digit strings of len(s) that are >= s.
func atLeast(s string) *expr {
	if allByte(s, '0') {
		return anyDigits(len(s))
	}
	alts := []*expr{seq(lit(s[:1]), atLeast(s[1:]))}
	if s[0] < '9' {
		alts = append(alts, seq(class(rng(s[0]+1, '9')), anyDigits(len(s)-1)))
	}
	return alt(alts...)
}

// atMost is the digit strings of len(s) that are <= s.
func atMost(s string) *expr {
	if allByte(s, '9') {
		return anyDigits(len(s))
	}
	alts := []*expr{seq(lit(s[:1]), atMost(s[1:]))}
	if s[0] > '0' {
		alts = append(alts, seq(class(rng('0', s[0]-1)), anyDigits(len(s)-1)))
	}
	return alt(alts...)
}

func anyDigits(n int) *expr {
	d := digits()
	subs := make([]*expr, n)
	for i := range subs {
		subs[i] = d
	}
	return seq(subs...)
}

func allByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			return false
		}
	}
	return true
}
