package grammar

import (
	"errors"
	"fmt"
)

// Limits bounds what one grammar may cost, so that no request can make the
// server allocate or compute without end: a schema or pattern a few
// kilobytes long can otherwise describe an automaton of gigabytes (nested
// counted repetition) or a step of exponential work (ambiguous rules).
type Limits struct {
	// MaxBytes bounds the memory of one compiled grammar (its NFA states,
	// edges, calls and epsilon closures). A construction is charged before
	// it is built, so an over-budget grammar is refused without allocating
	// it.
	MaxBytes int64
	// StepWork bounds the work of one step of a generation: the thread
	// expansions of one Advance, or of one Mask over the whole vocabulary.
	// A step over budget is an error (*LimitError), never a stall.
	StepWork int64
}

// DefaultLimits returns the limits of the package-level Compile functions and
// of a zero Limits field: 64 MiB per grammar, and a step work budget (a
// unit is about one thread expanded or one trie node walked, a few ns)
// that ordinary schemas stay far below (their worst Mask over a 128k-token
// vocabulary is ~10^4 units; `.*` ~2*10^5) and that takes some tens of
// milliseconds at most.
func DefaultLimits() Limits { return Limits{MaxBytes: 64 << 20, StepWork: 4 << 20} }

// orDefault fills zero fields from DefaultLimits.
func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits().MaxBytes
	}
	if l.StepWork <= 0 {
		l.StepWork = DefaultLimits().StepWork
	}
	return l
}

// LimitError is a grammar over one of its limits. Limit names it
// ("grammar_max_bytes", "grammar_step_work", "nesting_depth") and Value is
// its value; the server answers 400 grammar_too_complex at compile time,
// and ends a generation with an error when a step goes over.
type LimitError struct {
	Limit string
	Value int64
	Msg   string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("grammar too complex: %s (limit %s = %d)", e.Msg, e.Limit, e.Value)
}

// IsLimit reports whether err is (or wraps) a *LimitError.
func IsLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// Approximate bytes of each part of a compiled grammar, used to charge a
// construction before it is built. They include the per-state arrays of
// the finished Grammar (edges, bits, closure, depth tables) and slice
// growth slack.
const (
	costState = 160
	costEdge  = 16
	costEps   = 8
	costCall  = 16
	costItem  = 24
)

// satAdd and satMul are int64 arithmetic that saturates instead of
// overflowing: the cost of (((x{999}){999}){999}){999} must compare as
// huge, not wrap to a small number.
func satAdd(a, b int64) int64 {
	if a > (1<<62)-b {
		return 1 << 62
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a != 0 && b > (1<<62)/a {
		return 1 << 62
	}
	return a * b
}

// exprCost returns the bytes compile(e) adds (closures not included: see
// define), computed over the expression
// as a DAG (counted repetition repeats one sub-expression pointer), so that
// the cost of an exponential unrolling is known in time linear in the
// expression, before any state exists. memo holds the costs of shared
// sub-expressions.
func exprCost(e *expr, memo map[*expr]int64) int64 {
	if c, ok := memo[e]; ok {
		return c
	}
	var c int64
	switch e.kind {
	case eLit:
		c = satAdd(satMul(int64(len(e.lit)), costState+costEdge), costEps)
	case eClass:
		c = satMul(int64(len(e.ranges)), costEdge)
	case eSeq:
		c = costEps
		for _, s := range e.subs {
			c = satAdd(c, satAdd(exprCost(s, memo), costState))
		}
	case eAlt:
		for _, s := range e.subs {
			c = satAdd(c, satAdd(exprCost(s, memo), costState+costEps))
		}
	case eStar:
		c = satAdd(exprCost(e.subs[0], memo), 2*costState+3*costEps)
	case eOpt:
		c = satAdd(exprCost(e.subs[0], memo), costState+2*costEps)
	case eRef:
		c = costCall
	case eObj:
		c = costState
		for _, p := range e.props {
			m := satAdd(exprCost(p.val, memo), int64(len(p.key)+1)*(costState+costEdge))
			c = satAdd(c, satAdd(m, 3*costState+4*costEps))
		}
		for _, x := range e.subs { // the extra member, built twice
			c = satAdd(c, satMul(2, satAdd(exprCost(x, memo), 4*costState+4*costEps+costEdge)))
		}
	case eStrRest:
		c = 16*costState + 32*costEdge + costEps
	case eStrPrefix:
		c = satAdd(exprCost(e.subs[0], memo), 16*costState+32*costEdge+costEps)
	case eStr:
		n := int64(e.hi)
		if n < 0 {
			n = int64(e.lo)
		}
		c = satMul(n+1, 16*costState+32*costEdge)
	}
	memo[e] = c
	return c
}
