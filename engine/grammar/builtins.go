package grammar

import "context"

// The JSON string rule is always rule 0 and is built by hand at fixed state
// numbers, so that strBody names the same state in every grammar: the Masker
// precomputes, once per vocabulary, the tokens that stay inside a string
// body (most of a large vocabulary) and adds them as a block instead of
// walking them for every token generated inside a string.
const (
	strRule = 0
	strBody = 2 // inside the quotes, at a character boundary
)

// newBuilder returns a builder holding the string rule, compiling under lim
// until ctx is done (nil: never).
func newBuilder(ctx context.Context, lim Limits) *builder {
	b := &builder{ctx: ctx, lim: lim.orDefault()}
	r := b.newRule() // states 0 (start) and 1 (final)
	if r != strRule {
		panic("grammar: string rule must be rule 0")
	}
	start, final := b.rules[r].start, b.rules[r].final
	body := b.newState() // 2
	esc := b.newState()  // 3: after a backslash
	h1 := b.newState()   // 4..7: \u and its hex digits
	h2 := b.newState()
	h3 := b.newState()
	h4 := b.newState()
	c1 := b.newState() // 8: one continuation byte to go
	c2 := b.newState() // 9: two to go
	e0 := b.newState() // 10: after E0 (no overlong forms)
	ed := b.newState() // 11: after ED (no surrogates)
	f0 := b.newState() // 12: after F0
	f4 := b.newState() // 13: after F4 (not above U+10FFFF)
	c3 := b.newState() // 14: three to go
	if body != strBody {
		panic("grammar: string states moved")
	}
	b.states[body].strLeft = noLimit
	b.addEdge(start, '"', '"', body)
	b.addEdge(body, '"', '"', final)
	b.addEdge(body, 0x20, 0x21, body)
	b.addEdge(body, 0x23, 0x5B, body)
	b.addEdge(body, 0x5D, 0x7F, body)
	b.addEdge(body, '\\', '\\', esc)
	for _, c := range []byte(`"\/bfnrt`) {
		b.addEdge(esc, c, c, body)
	}
	b.addEdge(esc, 'u', 'u', h1)
	for _, p := range [][2]int32{{h1, h2}, {h2, h3}, {h3, h4}, {h4, body}} {
		b.addEdge(p[0], '0', '9', p[1])
		b.addEdge(p[0], 'a', 'f', p[1])
		b.addEdge(p[0], 'A', 'F', p[1])
	}
	// UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates.
	b.addEdge(body, 0xC2, 0xDF, c1)
	b.addEdge(body, 0xE0, 0xE0, e0)
	b.addEdge(body, 0xE1, 0xEC, c2)
	b.addEdge(body, 0xED, 0xED, ed)
	b.addEdge(body, 0xEE, 0xEF, c2)
	b.addEdge(body, 0xF0, 0xF0, f0)
	b.addEdge(body, 0xF1, 0xF3, c3)
	b.addEdge(body, 0xF4, 0xF4, f4)
	b.addEdge(c1, 0x80, 0xBF, body)
	b.addEdge(c2, 0x80, 0xBF, c1)
	b.addEdge(c3, 0x80, 0xBF, c2)
	b.addEdge(e0, 0xA0, 0xBF, c1)
	b.addEdge(ed, 0x80, 0x9F, c1)
	b.addEdge(f0, 0x90, 0xBF, c2)
	b.addEdge(f4, 0x80, 0x8F, c2)
	return b
}

// Digit limits of generated numbers. JSON has none, but the texts are for
// programs: 15 significant integer digits survive a float64 or an int64
// exactly, and a two-digit exponent cannot overflow a float64. Without a
// limit a model can also stall in a run of digits.
const (
	maxIntDigits  = 15
	maxFracDigits = 15
	maxExpDigits  = 2
)

// upTo is between 0 and n occurrences of x.
func upTo(x *expr, n int) *expr {
	e := emptyExpr()
	for i := 0; i < n; i++ {
		e = opt(seq(x, e))
	}
	return e
}

// compileChar adds one character of a JSON string body from state from to
// state to, with only byte edges out of from (no epsilons), so that a thread
// at a character boundary is one thread at from. It is the same language as
// the string rule's step from strBody back to strBody, which the Masker's
// string fast path relies on.
func (b *builder) compileChar(from, to int32) {
	b.addEdge(from, 0x20, 0x21, to)
	b.addEdge(from, 0x23, 0x5B, to)
	b.addEdge(from, 0x5D, 0x7F, to)
	esc := b.newState()
	b.addEdge(from, '\\', '\\', esc)
	b.compile(alt(class(one('"'), one('\\'), one('/'), one('b'), one('f'), one('n'), one('r'), one('t')),
		seq(lit("u"), class(rng('0', '9'), rng('a', 'f'), rng('A', 'F')), class(rng('0', '9'), rng('a', 'f'), rng('A', 'F')),
			class(rng('0', '9'), rng('a', 'f'), rng('A', 'F')), class(rng('0', '9'), rng('a', 'f'), rng('A', 'F')))), esc, to)
	c1, c2, c3 := b.newState(), b.newState(), b.newState()
	e0, ed, f0, f4 := b.newState(), b.newState(), b.newState(), b.newState()
	b.addEdge(from, 0xC2, 0xDF, c1)
	b.addEdge(from, 0xE0, 0xE0, e0)
	b.addEdge(from, 0xE1, 0xEC, c2)
	b.addEdge(from, 0xED, 0xED, ed)
	b.addEdge(from, 0xEE, 0xEF, c2)
	b.addEdge(from, 0xF0, 0xF0, f0)
	b.addEdge(from, 0xF1, 0xF3, c3)
	b.addEdge(from, 0xF4, 0xF4, f4)
	b.addEdge(c1, 0x80, 0xBF, to)
	b.addEdge(c2, 0x80, 0xBF, c1)
	b.addEdge(c3, 0x80, 0xBF, c2)
	b.addEdge(e0, 0xA0, 0xBF, c1)
	b.addEdge(ed, 0x80, 0x9F, c1)
	b.addEdge(f0, 0x90, 0xBF, c2)
	b.addEdge(f4, 0x80, 0x8F, c2)
}

// numberExpr is JSON's number; integer restricts it to no fraction and no
// exponent (JSON schema also counts 1.0 as an integer, but a model has no
// reason to write it that way).
func numberExpr(integer bool) *expr {
	intPart := seq(opt(lit("-")), alt(lit("0"), seq(class(rng('1', '9')), upTo(digits(), maxIntDigits-1))))
	if integer {
		return intPart
	}
	frac := opt(seq(lit("."), digits(), upTo(digits(), maxFracDigits-1)))
	exp := opt(seq(class(one('e'), one('E')), opt(class(one('+'), one('-'))), digits(), upTo(digits(), maxExpDigits-1)))
	return seq(intPart, frac, exp)
}

// anyValue returns a rule matching any JSON value, creating it (and its
// object and array rules) on first use.
func (c *compiler) anyValue() int32 {
	if c.valueRule >= 0 {
		return c.valueRule
	}
	b := c.b
	v := b.newRule()
	c.valueRule = v
	b.define(v, alt(
		c.anyObject(ref(v)),
		c.arrayOf(ref(v), 0, -1),
		ref(strRule),
		ref(c.numberRule(false)),
		lit("true"), lit("false"), lit("null"),
	))
	return v
}

// anyObject is an object with any keys and values val.
func (c *compiler) anyObject(val *expr) *expr {
	member := seq(ref(strRule), lit(":"), val)
	return seq(lit("{"), opt(seq(member, star(seq(lit(","), member)))), lit("}"))
}

// numberRule returns the shared number or integer rule.
func (c *compiler) numberRule(integer bool) int32 {
	p := &c.numRule
	if integer {
		p = &c.intRule
	}
	if *p < 0 {
		*p = c.b.newRule()
		c.b.define(*p, numberExpr(integer))
	}
	return *p
}

// arrayOf is an array of min to max items (max < 0: unbounded). Bounded
// repetition is unrolled, so the item should be a rule call.
func (c *compiler) arrayOf(item *expr, min, max int) *expr {
	return seq(lit("["), c.listOf(item, min, max), lit("]"))
}

// listOf is min to max comma-separated items (max < 0: unbounded): the
// inside of an array, or of an object whose items are members.
func (c *compiler) listOf(item *expr, min, max int) *expr {
	if max == 0 {
		return emptyExpr()
	}
	if !c.b.chargeExprs(2 * (min + max + 2)) {
		return emptyExpr() // the builder holds the error
	}
	// rest: the items after the first, between min-1 and max-1 of them.
	more := seq(lit(","), item)
	var parts []*expr
	lo := min - 1
	if lo < 0 {
		lo = 0
	}
	for i := 0; i < lo; i++ {
		parts = append(parts, more)
	}
	if max < 0 {
		parts = append(parts, star(more))
	} else {
		var tail *expr = emptyExpr()
		for i := lo; i < max-1; i++ {
			tail = opt(seq(more, tail))
		}
		parts = append(parts, tail)
	}
	items := seq(item, seq(parts...))
	if min == 0 {
		return opt(items)
	}
	return items
}
