package grammar

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

// push appends the thread stack+[top]; the caller knows it is new.
func (t *threadSet) push(stack []int32, top int32) {
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

// stackNode is an interned call stack: ret pushed on parent's stack. Node 0
// is the empty stack. Interning makes "the same stack" an integer compare,
// so that a step can remember exactly which (state, stack) pairs it has
// expanded and which threads it has added.
type stackNode struct {
	parent, ret, len int32
}

// stepper computes steps of one grammar with bounded work. Within one step
// it expands each (state, stack) pair once, however many paths reach it
// (without that, a chain of n rules each reaching the next twice costs 2^n),
// and it counts its work: once over budget it sets over and stops adding,
// and the step's result must not be used. work accumulates until the caller
// resets it, so the budget covers a whole Mask or Advance.
type stepper struct {
	g            *Grammar
	work, budget int64
	over         bool

	nodes  []stackNode
	intern u64map // (parent, ret) -> node
	seen   u64set // (state, node) expanded in this step
	added  u64set // (top, node) threads added in this step
	todo   []pair // (state, node) pairs to expand
	path   []int32
}

type pair struct{ state, node int32 }

func (p *stepper) init(g *Grammar, budget int64) {
	p.g, p.budget = g, budget
	p.reset()
}

// reset starts a new budget.
func (p *stepper) reset() { p.work, p.over = 0, false }

// begin clears the per-step tables.
func (p *stepper) begin() {
	p.nodes = append(p.nodes[:0], stackNode{parent: -1})
	p.intern.reset()
	p.seen.reset()
	p.added.reset()
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// pushNode returns the node of ret pushed on node.
func (p *stepper) pushNode(node, ret int32) int32 {
	k := pairKey(node, ret)
	if v, ok := p.intern.get(k); ok {
		return v
	}
	id := int32(len(p.nodes))
	p.nodes = append(p.nodes, stackNode{parent: node, ret: ret, len: p.nodes[node].len + 1})
	p.intern.put(k, id)
	return id
}

// internStack returns the node of a flat stack.
func (p *stepper) internStack(stack []int32) int32 {
	node := int32(0)
	for _, r := range stack {
		node = p.pushNode(node, r)
	}
	return node
}

// charge adds n units of work and reports whether the budget still holds.
func (p *stepper) charge(n int) bool {
	p.work += int64(n)
	if p.work > p.budget {
		p.over = true
	}
	return !p.over
}

// start fills dst with the threads before any byte.
func (p *stepper) start(dst *threadSet) {
	dst.reset()
	p.begin()
	p.expand(dst, p.g.rules[p.g.root].start, 0)
}

// step fills dst with the threads of src after byte c; dst is empty when no
// thread accepts c (or when the work budget ran out: see over).
func (p *stepper) step(dst, src *threadSet, c byte) {
	dst.reset()
	if p.over {
		return
	}
	p.begin()
	g := p.g
	start := int32(0)
	for _, end := range src.ends {
		top := src.data[end-1]
		if !p.charge(1 + len(g.edges[top])) {
			return
		}
		node := int32(-1)
		for _, e := range g.edges[top] {
			if e.lo <= c && c <= e.hi {
				if node < 0 {
					node = p.internStack(src.data[start : end-1])
				}
				p.expand(dst, e.to, node)
			}
		}
		start = end
	}
}

// expand adds to dst every thread reachable from state s with the stack
// node without consuming a byte, keeping only threads whose text can still
// be completed within maxStack frames.
func (p *stepper) expand(dst *threadSet, s, node int32) {
	if !p.seen.insert(pairKey(s, node)) {
		return
	}
	g := p.g
	p.todo = append(p.todo[:0], pair{s, node})
	for len(p.todo) > 0 {
		x := p.todo[len(p.todo)-1]
		p.todo = p.todo[:len(p.todo)-1]
		items := g.clo[x.state]
		if !p.charge(1 + len(items)) {
			return
		}
		depth := int(p.nodes[x.node].len)
		for _, it := range items {
			switch it.kind {
			case itemConsume:
				if depth+int(g.needByte[it.a]) <= maxStack {
					p.addThread(dst, x.node, it.a)
				}
			case itemCall:
				callee := g.rules[it.a].start
				if depth+1+int(g.need[callee]) > maxStack || depth+int(g.need[it.b]) > maxStack {
					continue
				}
				child := p.pushNode(x.node, it.b)
				if p.seen.insert(pairKey(callee, child)) {
					p.todo = append(p.todo, pair{callee, child})
				}
			case itemFinal:
				if x.node == 0 {
					dst.accept = true
					continue
				}
				n := p.nodes[x.node]
				if p.seen.insert(pairKey(n.ret, n.parent)) {
					p.todo = append(p.todo, pair{n.ret, n.parent})
				}
			}
		}
	}
}

// addThread adds the thread (stack of node, top) to dst unless it is there
// or dst is full.
func (p *stepper) addThread(dst *threadSet, node, top int32) {
	if len(dst.ends) >= maxThreads || !p.added.insert(pairKey(top, node)) {
		return
	}
	p.path = p.path[:0]
	for n := node; n > 0; n = p.nodes[n].parent {
		p.path = append(p.path, p.nodes[n].ret)
	}
	start := len(dst.data)
	for i := len(p.path) - 1; i >= 0; i-- {
		dst.data = append(dst.data, p.path[i])
	}
	dst.data = append(dst.data, top)
	dst.ends = append(dst.ends, int32(len(dst.data)))
	p.charge(len(dst.data) - start)
}
