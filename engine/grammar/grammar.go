package grammar

import "errors"

// maxStack bounds a call stack: the nesting depth of the text in rule calls
// (each array level, $ref and string is one). A grammar whose calls can nest
// deeper without recursion is refused at compile time; a recursive one is
// held to it at run time, and a thread is kept only if its text can still be
// completed within it (see depth.go), so the bound never leaves a
// generation stuck in an unfinishable text.
const maxStack = 128

// maxThreads bounds the live call stacks. Only an ambiguous grammar (anyOf
// branches that agree on a long prefix, nested) has more than a few; past
// the bound the newest continuations are dropped, which can only make the
// grammar stricter, never let an invalid text through, and every thread
// kept can still complete its text.
const maxThreads = 256

// itemKind is what an epsilon closure reaches.
type itemKind uint8

const (
	itemConsume itemKind = iota // a state with byte edges: a = state
	itemCall                    // a call: a = rule, b = return state
	itemFinal                   // the end of the rule: return to the caller
)

type item struct {
	kind itemKind
	a, b int32
}

// Grammar is a compiled, immutable recursive transition network. It is safe
// for concurrent use; each generation keeps its own State.
type Grammar struct {
	edges [][]edge    // byte edges of each state
	bits  [][4]uint64 // the bytes some edge of each state accepts
	clo   [][]item    // epsilon closure of each state
	left  []int32     // nstate.strLeft of each state
	rules []rule
	root  int32
	// need[s] is how many call frames, beyond the caller's, completing
	// the rule from state s needs at least; needByte[s] the same after a
	// byte edge of s (for a thread waiting at s). cantFinish if it cannot.
	need     []uint8
	needByte []uint8
	stepWork int64 // Limits.StepWork
	size     int64 // approximate bytes, see Size
	// cache holds the thread sets, transitions and masks generations
	// have met; it is the one part that changes, under its own lock, and
	// never changes what the grammar allows.
	cache *setCache
}

// Size returns the approximate memory the grammar holds, in bytes, its
// cache of steps and masks at its fullest included: what a cache of
// compiled grammars charges for it.
func (g *Grammar) Size() int64 { return g.size }

// finish turns the builder into a Grammar whose root is rule root. The
// epsilon closures are computed here once, so a step only follows byte
// edges, calls and returns; they are charged against the budget as they
// grow. It then refuses left-recursive grammars (whose closures would be
// infinite), grammars nested deeper than maxStack and grammars whose first
// step is over the step budget.
func (b *builder) finish(root int32) (*Grammar, error) {
	if b.err != nil {
		return nil, b.err
	}
	n := len(b.states)
	g := &Grammar{
		edges:    make([][]edge, n),
		bits:     make([][4]uint64, n),
		clo:      make([][]item, n),
		left:     make([]int32, n),
		rules:    b.rules,
		root:     root,
		stepWork: b.lim.StepWork,
		cache:    &setCache{},
	}
	seen := make([]int32, n)
	for i := range seen {
		seen[i] = -1
	}
	var stack []int32
	// dup[it] == s: the closure of s already holds call or final item it.
	dup := map[item]int32{}
	// Only states a step can start from need a closure: rule starts, the
	// targets of byte edges and the return states of calls. The others
	// (the inner states of epsilon chains, such as the skips past optional
	// properties) are only passed through, and their closures would make
	// the grammar quadratic in the length of such chains.
	entry := make([]bool, n)
	for _, r := range b.rules {
		entry[r.start] = true
	}
	for s := range b.states {
		for _, e := range b.states[s].edges {
			entry[e.to] = true
		}
		for _, c := range b.states[s].calls {
			entry[c.ret] = true
		}
	}
	for s := range b.states {
		g.edges[s] = b.states[s].edges
		g.left[s] = b.states[s].strLeft
		for _, e := range b.states[s].edges {
			for c := int(e.lo); c <= int(e.hi); c++ {
				g.bits[s][c>>6] |= 1 << (c & 63)
			}
		}
		if !entry[s] {
			continue
		}
		var items []item
		stack = append(stack[:0], int32(s))
		seen[s] = int32(s)
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			st := &b.states[x]
			if len(st.edges) > 0 {
				items = append(items, item{kind: itemConsume, a: x})
			}
			for _, c := range st.calls {
				items = appendOnce(items, item{kind: itemCall, a: c.rule, b: c.ret}, dup, int32(s))
			}
			if st.final {
				items = appendOnce(items, item{kind: itemFinal}, dup, int32(s))
			}
			for _, y := range st.eps {
				if seen[y] != int32(s) {
					seen[y] = int32(s)
					stack = append(stack, y)
				}
			}
			b.charge(costItem)
		}
		g.clo[s] = items
		if b.charge(int64(len(items)) * costItem); b.err != nil {
			return nil, b.err
		}
		if s%4096 == 0 {
			if b.checkContext(); b.err != nil {
				return nil, b.err
			}
		}
	}
	g.size = b.used + maxCacheBytes
	if bad := g.leftRecursive(); bad >= 0 {
		name := b.names[bad]
		if name == "" {
			name = "#"
		}
		return nil, &SchemaError{Path: name, Keyword: "$ref", Msg: "refers to itself before any text (left recursion)"}
	}
	if err := g.checkDepth(b); err != nil {
		return nil, err
	}
	if err := g.checkStart(); err != nil {
		return nil, err
	}
	return g, nil
}

// checkStart refuses a grammar whose first step alone is over the step
// budget, so that NewState never is.
func (g *Grammar) checkStart() error {
	var st stepper
	st.init(g, g.stepWork)
	var t threadSet
	if st.start(&t); st.over {
		return &LimitError{Limit: "grammar_step_work", Value: g.stepWork,
			Msg: "the grammar's first step alone is over the step work budget"}
	}
	return nil
}

// appendOnce appends it to the closure of state s unless it holds it
// already: two branches calling the same rule with the same continuation
// (anyOf of one $ref twice) are one path, and expanding both would double
// the work with each level of such rules.
func appendOnce(items []item, it item, dup map[item]int32, s int32) []item {
	if v, ok := dup[it]; ok && v == s {
		return items
	}
	dup[it] = s
	return append(items, it)
}

// ErrRejected reports bytes or a token the grammar does not allow here.
var ErrRejected = errors.New("grammar: rejected")

// costExpr is the approximate bytes of one expression node: the
// expressions are freed after compilation, but building them must not be a
// way around the budget either (minItems 1024 repeats a node 1024 times).
const costExpr = 128

// chargeExprs charges n expression nodes about to be built and reports
// whether the budget still holds.
func (b *builder) chargeExprs(n int) bool {
	b.exprUsed = satAdd(b.exprUsed, satMul(int64(n), costExpr))
	if b.err == nil && b.exprUsed > b.lim.MaxBytes {
		b.err = &LimitError{Limit: "grammar_max_bytes", Value: b.lim.MaxBytes,
			Msg: "its repetitions would need more memory than the budget"}
	}
	return b.err == nil
}

// Match reports whether text is a complete sentence of g (false too when
// a step is over the step work budget).
func (g *Grammar) Match(text []byte) bool {
	var a, b threadSet
	var st stepper
	st.init(g, g.stepWork)
	st.start(&a)
	cur, next := &a, &b
	for _, c := range text {
		st.step(next, cur, c)
		if next.empty() || st.over {
			return false
		}
		cur, next = next, cur
	}
	return cur.accept && !st.over
}
