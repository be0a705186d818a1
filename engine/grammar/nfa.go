package grammar

import (
	"context"
	"fmt"
)

// exprKind is the kind of a grammar expression node.
type exprKind uint8

const (
	eLit       exprKind = iota // the bytes of lit
	eClass                     // one byte in one of ranges
	eSeq                       // subs one after another
	eAlt                       // one of subs
	eStar                      // subs[0] zero or more times
	eOpt                       // subs[0] or nothing
	eRef                       // a call of rule
	eObj                       // object members (between the braces), see compileObj
	eStr                       // a string of lo to hi characters (hi < 0: no limit)
	eStrRest                   // the rest of a string after its opening quote: any characters, then the quote
	eStrPrefix                 // any string characters, then subs[0]
)

// byteRange is an inclusive range of byte values.
type byteRange struct{ lo, hi byte }

// expr is the grammar expression a schema compiles to before it becomes NFA
// states; it exists so that the schema compiler reads like the grammar.
type expr struct {
	kind   exprKind
	lit    []byte
	ranges []byteRange
	subs   []*expr
	rule   int32
	props  []objProp
	lo, hi int
}

// objProp is one member of an object with known properties: the compiled
// `"name":` key, the value and whether the member must appear.
type objProp struct {
	key      []byte
	val      *expr
	required bool
}

func lit(s string) *expr           { return &expr{kind: eLit, lit: []byte(s)} }
func litBytes(b []byte) *expr      { return &expr{kind: eLit, lit: b} }
func class(r ...byteRange) *expr   { return &expr{kind: eClass, ranges: r} }
func seq(subs ...*expr) *expr      { return &expr{kind: eSeq, subs: subs} }
func alt(subs ...*expr) *expr      { return &expr{kind: eAlt, subs: subs} }
func star(x *expr) *expr           { return &expr{kind: eStar, subs: []*expr{x}} }
func opt(x *expr) *expr            { return &expr{kind: eOpt, subs: []*expr{x}} }
func ref(rule int32) *expr         { return &expr{kind: eRef, rule: rule} }
func object(props []objProp) *expr { return &expr{kind: eObj, props: props} }
func plus(x *expr) *expr           { return seq(x, star(x)) }
func rng(lo, hi byte) byteRange    { return byteRange{lo, hi} }
func one(c byte) byteRange         { return byteRange{c, c} }
func digits() *expr                { return class(rng('0', '9')) }
func emptyExpr() *expr             { return &expr{kind: eSeq} }
func litAlt(options [][]byte) *expr {
	subs := make([]*expr, len(options))
	for i, o := range options {
		subs[i] = litBytes(o)
	}
	return alt(subs...)
}

// edge is a byte transition of an NFA state.
type edge struct {
	lo, hi byte
	to     int32
}

// call is a transition that runs rule and then continues at ret.
type call struct{ rule, ret int32 }

// nstate is an NFA state during construction.
type nstate struct {
	edges []edge
	eps   []int32
	calls []call
	final bool // the end of its rule: reaching it returns to the caller
	// strLeft marks a string body at a character boundary: 1 + how many
	// more characters it may take (noLimit: any number), 0 elsewhere. The
	// Masker adds the tokens that stay in such a body without walking them.
	strLeft int32
}

// noLimit is strLeft for string bodies of unbounded length.
const noLimit = 1 << 30

// rule is a named sub-grammar: its body runs from start to final.
type rule struct{ start, final int32 }

// builder accumulates NFA states and rules (Thompson's construction),
// charging each part against a byte budget as it is added. Once over the
// budget (or once ctx is done) it records err and compile adds nothing
// more, so a hostile grammar costs at most the budget before it is refused.
type builder struct {
	states []nstate
	rules  []rule

	ctx  context.Context
	lim  Limits
	used int64 // bytes charged so far
	// exprUsed is the bytes of expression nodes built, see chargeExprs.
	exprUsed int64
	// names[r] is the $ref target rule r was made for, for errors.
	names map[int32]string
	err   error // the first budget or context error
	ticks int   // states added since the last context check
}

func (b *builder) newState() int32 {
	b.states = append(b.states, nstate{})
	b.charge(costState)
	if b.ticks++; b.ticks >= 4096 {
		b.ticks = 0
		b.checkContext()
	}
	return int32(len(b.states) - 1)
}

// charge adds n bytes to the grammar's cost and records a *LimitError once
// the total is over the budget.
func (b *builder) charge(n int64) {
	b.used = satAdd(b.used, n)
	if b.err == nil && b.used > b.lim.MaxBytes {
		b.err = &LimitError{Limit: "grammar_max_bytes", Value: b.lim.MaxBytes,
			Msg: "the compiled grammar would need more memory than the budget"}
	}
}

// checkContext records the context's error once the request is gone or the
// server is stopping, so that compilation ends early.
func (b *builder) checkContext() {
	if b.err == nil && b.ctx != nil {
		if err := b.ctx.Err(); err != nil {
			b.err = fmt.Errorf("grammar: compilation stopped: %w", err)
		}
	}
}

// newRule allocates a rule whose body is given later by define, so that
// rules can refer to themselves and to each other.
func (b *builder) newRule() int32 {
	s, f := b.newState(), b.newState()
	b.states[f].final = true
	b.rules = append(b.rules, rule{start: s, final: f})
	return int32(len(b.rules) - 1)
}

// define compiles e as the body of rule r. Its cost is estimated first, so
// that an expression whose unrolling is over the budget is refused before
// any of it is built.
func (b *builder) define(r int32, e *expr) {
	if b.err != nil {
		return
	}
	c := exprCost(e, map[*expr]int64{})
	c = satAdd(c, c/costState*costItem) // a closure item per state at least
	if satAdd(b.used, c) > b.lim.MaxBytes {
		b.charge(c)
		return
	}
	b.compile(e, b.rules[r].start, b.rules[r].final)
}

func (b *builder) addEdge(from int32, lo, hi byte, to int32) {
	b.states[from].edges = append(b.states[from].edges, edge{lo, hi, to})
	b.charge(costEdge)
}

func (b *builder) addEps(from, to int32) {
	b.states[from].eps = append(b.states[from].eps, to)
	b.charge(costEps)
}

// compile adds states so that e leads from state from to state to.
func (b *builder) compile(e *expr, from, to int32) {
	if b.err != nil {
		return
	}
	switch e.kind {
	case eLit:
		if len(e.lit) == 0 {
			b.addEps(from, to)
			return
		}
		cur := from
		for i, c := range e.lit {
			next := to
			if i < len(e.lit)-1 {
				next = b.newState()
			}
			b.addEdge(cur, c, c, next)
			cur = next
		}
	case eClass:
		for _, r := range e.ranges {
			b.addEdge(from, r.lo, r.hi, to)
		}
	case eSeq:
		if len(e.subs) == 0 {
			b.addEps(from, to)
			return
		}
		cur := from
		for i, s := range e.subs {
			next := to
			if i < len(e.subs)-1 {
				next = b.newState()
			}
			b.compile(s, cur, next)
			cur = next
		}
	case eAlt:
		for _, s := range e.subs {
			m := b.newState()
			b.addEps(from, m)
			b.compile(s, m, to)
		}
	case eStar:
		loop, back := b.newState(), b.newState()
		b.addEps(from, loop)
		b.compile(e.subs[0], loop, back)
		b.addEps(back, loop)
		b.addEps(loop, to)
	case eOpt:
		m := b.newState()
		b.addEps(from, m)
		b.compile(e.subs[0], m, to)
		b.addEps(from, to)
	case eRef:
		b.states[from].calls = append(b.states[from].calls, call{e.rule, to})
		b.charge(costCall)
	case eObj:
		var extra *expr
		if len(e.subs) > 0 {
			extra = e.subs[0]
		}
		b.compileObj(e.props, extra, from, to)
	case eStr:
		b.compileStr(e.lo, e.hi, from, to, true)
	case eStrRest:
		b.compileStr(0, -1, from, to, false)
	case eStrPrefix:
		// A string body state that may also go on into subs[0]: every
		// token that stays in a string body is allowed from it, so the
		// Masker's string fast path applies to it.
		cur := b.newState()
		b.addEps(from, cur)
		b.states[cur].strLeft = noLimit
		b.compileChar(cur, cur)
		b.compile(e.subs[0], cur, to)
	}
}

// compileStr builds a length-bounded string inline, one body state per
// character position, each marked with the characters it has left, so that
// the Masker's string fast path applies to bounded strings too.
//
// Without open, the opening quote is already written: the body starts at
// from.
func (b *builder) compileStr(lo, hi int, from, to int32, open bool) {
	cur := b.newState()
	if open {
		b.addEdge(from, '"', '"', cur)
	} else {
		b.addEps(from, cur)
	}
	for i := 0; b.err == nil; i++ {
		if i >= lo {
			b.addEdge(cur, '"', '"', to)
		}
		if hi < 0 && i >= lo {
			b.states[cur].strLeft = noLimit
			b.compileChar(cur, cur)
			return
		}
		if i == hi {
			b.states[cur].strLeft = 1
			return
		}
		b.states[cur].strLeft = int32(hi-i) + 1
		if hi < 0 {
			b.states[cur].strLeft = noLimit
		}
		next := b.newState()
		b.compileChar(cur, next)
		cur = next
	}
}

// compileObj emits the members of an object in property order, each optional
// one skippable, with commas only between members present. a[i] is "members
// i.. with none written yet", c[i] is "members i.. after at least one";
// both reach k[i], the start of member i (c[i] through a comma), and each
// member's key and value are built once, from k[i] to c[i+1]. The NFA is
// linear in the schema: a member compiled once per chain would double with
// each level of nested objects.
//
// extra, when not nil, is a member (key, colon and value) that may follow
// the known ones any number of times: additionalProperties beside
// properties.
func (b *builder) compileObj(props []objProp, extra *expr, from, to int32) {
	n := len(props)
	if n == 0 && extra == nil {
		b.addEps(from, to)
		return
	}
	a := make([]int32, n+1)
	c := make([]int32, n+1)
	a[0] = from
	for i := 1; i < n; i++ {
		a[i], c[i] = b.newState(), b.newState()
	}
	if n > 0 {
		a[n], c[n] = to, to
		c[0] = b.newState() // unreachable; keeps the loop uniform
	}
	if extra != nil {
		if n > 0 {
			a[n], c[n] = b.newState(), b.newState()
		}
		more := star(seq(lit(","), extra))
		b.addEps(a[n], to)
		b.compile(seq(extra, more), a[n], to)
		if n > 0 {
			b.compile(more, c[n], to)
		}
	}
	for i, p := range props {
		if b.err != nil {
			return
		}
		k := b.newState()
		b.addEps(a[i], k)
		b.addEdge(c[i], ',', ',', k)
		b.compile(seq(litBytes(p.key), p.val), k, c[i+1])
		if !p.required {
			b.addEps(a[i], a[i+1])
			b.addEps(c[i], c[i+1])
		}
	}
}
