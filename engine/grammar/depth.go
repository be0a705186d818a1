package grammar

import "fmt"

// cantFinish is need for a state whose rule cannot be completed within
// maxStack frames (or at all).
const cantFinish = maxStack + 1

// checkDepth computes need and needByte (see Grammar) and refuses a grammar
// whose calls nest deeper than maxStack outside of recursion (a schema of
// 300 nested arrays, a $ref chain of 200 definitions): such a text would
// be cut at run time, so it is an error at compile time. Recursion (a rule
// reaching itself, like any JSON value) may nest without end; it is held
// to maxStack at run time, by keeping only threads that need is not over,
// and refused only when not even the shallowest text fits.
func (g *Grammar) checkDepth(b *builder) error {
	g.computeNeed(b)
	if depth := g.callDepth(b); depth > maxStack {
		return &LimitError{Limit: "nesting_depth", Value: maxStack,
			Msg: fmt.Sprintf("its values nest %d levels deep (arrays, $refs and strings count one each)", depth)}
	}
	if g.need[g.rules[g.root].start] >= cantFinish {
		return &LimitError{Limit: "nesting_depth", Value: maxStack,
			Msg: "no text of it nests less deeply than the limit (a required recursion never ends)"}
	}
	return nil
}

// computeNeed solves need[s] = the least, over the paths from s to its
// rule's final state, of the most frames a call on the path needs:
// need(final) = 0; an edge or epsilon to t costs need[t]; a call of rule q
// returning to r costs max(1 + need[start of q], need[r]). This is a
// shortest-path problem with max instead of plus, solved in increasing
// order of need with a bucket per value (Knuth's generalisation of
// Dijkstra): a call's value is known once both of its sources are.
func (g *Grammar) computeNeed(b *builder) {
	n := len(b.states)
	need := make([]uint8, n)
	for i := range need {
		need[i] = cantFinish
	}
	// Reverse graph, flattened: simple[t] lists the states that reach t by
	// an edge or epsilon; hyper[x] the calls whose value waits on x.
	type call3 struct{ from, start, ret int32 }
	var calls []call3
	cnt := make([]int32, n+1)
	hcnt := make([]int32, n+1)
	for s := range b.states {
		st := &b.states[s]
		for _, e := range st.edges {
			cnt[e.to+1]++
		}
		for _, t := range st.eps {
			cnt[t+1]++
		}
		for _, c := range st.calls {
			start := g.rules[c.rule].start
			calls = append(calls, call3{int32(s), start, c.ret})
			hcnt[start+1]++
			if c.ret != start {
				hcnt[c.ret+1]++
			}
		}
	}
	for i := 1; i <= n; i++ {
		cnt[i] += cnt[i-1]
		hcnt[i] += hcnt[i-1]
	}
	simple := make([]int32, cnt[n])
	hyper := make([]int32, hcnt[n])
	fill, hfill := append([]int32(nil), cnt[:n]...), append([]int32(nil), hcnt[:n]...)
	for s := range b.states {
		st := &b.states[s]
		for _, e := range st.edges {
			simple[fill[e.to]] = int32(s)
			fill[e.to]++
		}
		for _, t := range st.eps {
			simple[fill[t]] = int32(s)
			fill[t]++
		}
	}
	waiting := make([]int8, len(calls))
	for i, c := range calls {
		hyper[hfill[c.start]] = int32(i)
		hfill[c.start]++
		waiting[i] = 1
		if c.ret != c.start {
			hyper[hfill[c.ret]] = int32(i)
			hfill[c.ret]++
			waiting[i] = 2
		}
	}
	var buckets [cantFinish][]int32
	relax := func(s int32, v int) {
		if v < int(need[s]) {
			need[s] = uint8(v)
			buckets[v] = append(buckets[v], s)
		}
	}
	for s := range b.states {
		if b.states[s].final {
			relax(int32(s), 0)
		}
	}
	for v := 0; v < cantFinish; v++ {
		for i := 0; i < len(buckets[v]); i++ {
			x := buckets[v][i]
			if int(need[x]) != v {
				continue // a stale entry: x was settled lower
			}
			for _, s := range simple[cnt[x]:cnt[x+1]] {
				relax(s, v)
			}
			for _, h := range hyper[hcnt[x]:hcnt[x+1]] {
				if waiting[h]--; waiting[h] == 0 {
					c := calls[h]
					relax(c.from, max(1+int(need[c.start]), int(need[c.ret])))
				}
			}
		}
		buckets[v] = nil
	}
	needByte := make([]uint8, n)
	for s := range b.states {
		needByte[s] = cantFinish
		for _, e := range b.states[s].edges {
			needByte[s] = min(needByte[s], need[e.to])
		}
	}
	g.need, g.needByte = need, needByte
}

// callDepth returns the longest chain of calls from the root rule in which
// no two calls are of rules calling each other in a cycle: the nesting the
// schema itself spells out, recursion counted once.
func (g *Grammar) callDepth(b *builder) int {
	callees := g.callGraph(b)
	comp, ncomp := sccs(callees, g.root)
	// Components come out of Tarjan's algorithm callees first, so one
	// pass in that order sees every callee's depth before its callers.
	depth := make([]int, ncomp)
	order := make([][]int32, ncomp)
	for r, c := range comp {
		if c >= 0 {
			order[c] = append(order[c], int32(r))
		}
	}
	for c := range ncomp {
		for _, r := range order[c] {
			for _, q := range callees[r] {
				if comp[q] != int32(c) {
					depth[c] = max(depth[c], 1+depth[comp[q]])
				}
			}
		}
	}
	return depth[comp[g.root]]
}

// callGraph returns the rules each rule calls. A state belongs to the rule
// whose start reaches it by edges, epsilons and the return states of calls.
func (g *Grammar) callGraph(b *builder) [][]int32 {
	owner := make([]int32, len(b.states))
	for i := range owner {
		owner[i] = -1
	}
	callees := make([][]int32, len(g.rules))
	var stack []int32
	for r, ru := range g.rules {
		if owner[ru.start] >= 0 {
			continue
		}
		owner[ru.start] = int32(r)
		stack = append(stack[:0], ru.start)
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			st := &b.states[x]
			visit := func(t int32) {
				if owner[t] < 0 {
					owner[t] = int32(r)
					stack = append(stack, t)
				}
			}
			for _, e := range st.edges {
				visit(e.to)
			}
			for _, t := range st.eps {
				visit(t)
			}
			for _, c := range st.calls {
				callees[r] = append(callees[r], c.rule)
				visit(c.ret)
			}
		}
	}
	return callees
}

// sccs numbers the strongly connected components of the call graph
// reachable from root (Tarjan's algorithm, iterative: a chain of thousands
// of rules must not be a recursion that deep), in reverse topological
// order; comp[r] is -1 for rules not reached.
func sccs(callees [][]int32, root int32) (comp []int32, n int) {
	nr := len(callees)
	comp = make([]int32, nr)
	index := make([]int32, nr)
	low := make([]int32, nr)
	onStack := make([]bool, nr)
	for i := range comp {
		comp[i], index[i] = -1, -1
	}
	var stack []int32
	type frame struct{ r, next int32 }
	frames := []frame{{root, 0}}
	next := int32(0)
	index[root], low[root] = 0, 0
	next++
	stack = append(stack, root)
	onStack[root] = true
	for len(frames) > 0 {
		f := &frames[len(frames)-1]
		r := f.r
		if int(f.next) < len(callees[r]) {
			q := callees[r][f.next]
			f.next++
			switch {
			case index[q] < 0:
				index[q], low[q] = next, next
				next++
				stack = append(stack, q)
				onStack[q] = true
				frames = append(frames, frame{q, 0})
			case onStack[q]:
				low[r] = min(low[r], index[q])
			}
			continue
		}
		frames = frames[:len(frames)-1]
		if len(frames) > 0 {
			p := frames[len(frames)-1].r
			low[p] = min(low[p], low[r])
		}
		if low[r] == index[r] {
			for {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[x] = false
				comp[x] = int32(n)
				if x == r {
					break
				}
			}
			n++
		}
	}
	return comp, n
}
