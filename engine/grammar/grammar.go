package grammar

import "errors"

// maxStack bounds a call stack (nesting depth of the text plus rule calls);
// deeper continuations are dropped, so a grammar never needs unbounded memory.
const maxStack = 128

// maxThreads bounds the live call stacks. Only an ambiguous schema (anyOf
// branches that agree on a long prefix, nested) has more than a few; past
// the bound the newest continuations are dropped, which can only make the
// grammar stricter, never let an invalid text through.
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
}

// finish turns the builder into a Grammar whose root is rule root. The
// epsilon closures are computed here once, so a step only follows byte
// edges, calls and returns.
func (b *builder) finish(root int32) *Grammar {
	g := &Grammar{
		edges: make([][]edge, len(b.states)),
		bits:  make([][4]uint64, len(b.states)),
		clo:   make([][]item, len(b.states)),
		left:  make([]int32, len(b.states)),
		rules: b.rules,
		root:  root,
	}
	seen := make([]int32, len(b.states))
	for i := range seen {
		seen[i] = -1
	}
	var stack []int32
	for s := range b.states {
		g.edges[s] = b.states[s].edges
		g.left[s] = b.states[s].strLeft
		for _, e := range b.states[s].edges {
			for c := int(e.lo); c <= int(e.hi); c++ {
				g.bits[s][c>>6] |= 1 << (c & 63)
			}
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
				items = append(items, item{kind: itemCall, a: c.rule, b: c.ret})
			}
			if st.final {
				items = append(items, item{kind: itemFinal})
			}
			for _, y := range st.eps {
				if seen[y] != int32(s) {
					seen[y] = int32(s)
					stack = append(stack, y)
				}
			}
		}
		g.clo[s] = items
	}
	return g
}

// threadSet is a set of call stacks, stored flat: thread i is
// data[ends[i-1]:ends[i]], its last element the current consuming state and
// the others return states. accept records that the whole text may end here.
type threadSet struct {
	data   []int32
	ends   []int32
	accept bool
}

func (t *threadSet) reset() {
	t.data, t.ends, t.accept = t.data[:0], t.ends[:0], false
}

func (t *threadSet) empty() bool { return len(t.ends) == 0 && !t.accept }

func (t *threadSet) copyFrom(o *threadSet) {
	t.data = append(t.data[:0], o.data...)
	t.ends = append(t.ends[:0], o.ends...)
	t.accept = o.accept
}

// add appends the thread stack+[top] unless it is already present.
func (t *threadSet) add(stack []int32, top int32) {
	start := int32(0)
	n := int32(len(stack) + 1)
next:
	for _, end := range t.ends {
		if end-start == n && t.data[end-1] == top {
			for i, v := range stack {
				if t.data[start+int32(i)] != v {
					start = end
					continue next
				}
			}
			return
		}
		start = end
	}
	if len(t.ends) >= maxThreads {
		return
	}
	t.data = append(t.data, stack...)
	t.data = append(t.data, top)
	t.ends = append(t.ends, int32(len(t.data)))
}

// allowed returns the bytes some thread of t can consume next.
func (g *Grammar) allowed(t *threadSet) [4]uint64 {
	var m [4]uint64
	for _, end := range t.ends {
		b := &g.bits[t.data[end-1]]
		m[0] |= b[0]
		m[1] |= b[1]
		m[2] |= b[2]
		m[3] |= b[3]
	}
	return m
}

// expand adds to dst every thread reachable from state s with the return
// stack stack without consuming a byte. It returns stack (possibly moved)
// with its original length and contents.
func (g *Grammar) expand(dst *threadSet, stack []int32, s int32, depth int) []int32 {
	if depth > maxStack {
		return stack
	}
	for _, it := range g.clo[s] {
		switch it.kind {
		case itemConsume:
			dst.add(stack, it.a)
		case itemCall:
			if len(stack) >= maxStack {
				continue
			}
			stack = append(stack, it.b)
			stack = g.expand(dst, stack, g.rules[it.a].start, depth+1)
			stack = stack[:len(stack)-1]
		case itemFinal:
			n := len(stack)
			if n == 0 {
				dst.accept = true
				continue
			}
			ret := stack[n-1]
			stack = g.expand(dst, stack[:n-1], ret, depth+1)
			stack = stack[:n]
			stack[n-1] = ret
		}
	}
	return stack
}

// start fills dst with the threads before any byte.
func (g *Grammar) start(dst *threadSet, scratch []int32) []int32 {
	dst.reset()
	return g.expand(dst, scratch[:0], g.rules[g.root].start, 0)
}

// step fills dst with the threads of src after byte c; dst is empty when no
// thread accepts c.
func (g *Grammar) step(dst, src *threadSet, c byte, scratch []int32) []int32 {
	dst.reset()
	start := int32(0)
	for _, end := range src.ends {
		top := src.data[end-1]
		for _, e := range g.edges[top] {
			if e.lo <= c && c <= e.hi {
				scratch = append(scratch[:0], src.data[start:end-1]...)
				scratch = g.expand(dst, scratch, e.to, 0)
			}
		}
		start = end
	}
	return scratch
}

// ErrRejected reports bytes or a token the grammar does not allow here.
var ErrRejected = errors.New("grammar: rejected")

// Match reports whether text is a complete sentence of g.
func (g *Grammar) Match(text []byte) bool {
	var a, b threadSet
	scratch := g.start(&a, nil)
	cur, next := &a, &b
	for _, c := range text {
		scratch = g.step(next, cur, c, scratch)
		if next.empty() {
			return false
		}
		cur, next = next, cur
	}
	return cur.accept
}
