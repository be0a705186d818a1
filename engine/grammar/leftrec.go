package grammar

// leftRecursive returns a rule that can call itself before consuming a byte
// (such as {"anyOf":[{"$ref":"#"},...]}), or -1. Such a rule would make
// the closure of a state infinite or exponential, so schemas with one are
// refused instead of stalling a request.
func (g *Grammar) leftRecursive() int32 {
	// nullable[r]: rule r can match the empty text (a fixpoint: a rule's
	// epsilon paths may run through calls of other nullable rules).
	// Rules are visited from the last made: a definition is made after
	// the rule referring to it, so a chain settles in one pass, not one
	// pass per link.
	nullable := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for r := len(g.rules) - 1; r >= 0; r-- {
			if !nullable[r] && g.reachesFinal(g.rules[r].start, nullable) {
				nullable[r], changed = true, true
			}
		}
	}
	// calls[r]: the rules r can call before consuming a byte.
	calls := make([][]int32, len(g.rules))
	for r, ru := range g.rules {
		g.walkEmpty(ru.start, nullable, func(callee int32) {
			calls[r] = append(calls[r], callee)
		})
	}
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(g.rules))
	var visit func(r int32) int32
	visit = func(r int32) int32 {
		color[r] = grey
		for _, c := range calls[r] {
			if color[c] == grey {
				return c
			}
			if color[c] == white {
				if bad := visit(c); bad >= 0 {
					return bad
				}
			}
		}
		color[r] = black
		return -1
	}
	for r := range g.rules {
		if color[r] == white {
			if bad := visit(int32(r)); bad >= 0 {
				return bad
			}
		}
	}
	return -1
}

// reachesFinal reports whether the end of the rule is reachable from s
// without consuming, passing through calls of nullable rules.
func (g *Grammar) reachesFinal(s int32, nullable []bool) bool {
	found := false
	g.walkEmptyItems(s, nullable, func(it item) {
		if it.kind == itemFinal {
			found = true
		}
	})
	return found
}

// walkEmpty calls f with every rule called from s before a byte is consumed.
func (g *Grammar) walkEmpty(s int32, nullable []bool, f func(rule int32)) {
	g.walkEmptyItems(s, nullable, func(it item) {
		if it.kind == itemCall {
			f(it.a)
		}
	})
}

// walkEmptyItems visits the closure items reachable from s without
// consuming a byte, stepping over calls of nullable rules to their return
// states.
func (g *Grammar) walkEmptyItems(s int32, nullable []bool, f func(item)) {
	seen := map[int32]bool{s: true}
	stack := []int32{s}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, it := range g.clo[x] {
			f(it)
			if it.kind == itemCall && nullable[it.a] && !seen[it.b] {
				seen[it.b] = true
				stack = append(stack, it.b)
			}
		}
	}
}
