package server

import (
	"slices"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat/reasoning"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// thinkingPhase is where a sequence is in a reasoning model's output.
type thinkingPhase int

const (
	phaseLead     thinkingPhase = iota // first token of a model that must open its thinking
	phaseThinking                      // inside the thinking: nothing is masked
	phaseAnswer                        // past the end marker: the output constraint applies
)

// thinkingConstraint is a control.Constraint for a reasoning model: the
// thinking is free text, the output constraint (a JSON schema, a forced
// tool call; nil for none) applies from the end-of-thinking marker on, and
// a thinking budget ends the thinking gracefully by forcing the end
// marker's tokens once that many thinking tokens were generated.
//
// A model that opens its thinking itself (qwen3) may also answer at once:
// its first token is either the start marker's first token (then the rest
// of the marker is forced and the thinking begins) or one the output
// constraint allows. A model whose prompt opened the thinking (deepseek_r1)
// starts inside it. The end is found in the text of the generated tokens,
// so a marker the model writes in several tokens is found as well.
type thinkingConstraint struct {
	inner    control.Constraint
	tok      *tokenizer.Tokenizer
	st       reasoning.Stream
	phase    thinkingPhase
	budget   int     // -1: none
	thought  int     // thinking tokens so far
	force    []int32 // marker tokens still to force
	forceEnd bool    // force holds the end marker
	start    []int32 // the start marker's tokens
	end      []int32 // the end marker's tokens
}

var _ control.Constraint = (*thinkingConstraint)(nil)

func newThinkingConstraint(p *reasoning.Parser, tok *tokenizer.Tokenizer, inner control.Constraint, budget int) *thinkingConstraint {
	c := &thinkingConstraint{inner: inner, tok: tok, st: *p.NewStream(), budget: budget, phase: phaseThinking,
		start: tok.Encode(p.Start(), false, true), end: tok.Encode(p.End(), false, true)}
	if !p.StartsInThinking() {
		c.phase = phaseLead
	}
	return c
}

// Mask implements control.Constraint.
func (c *thinkingConstraint) Mask(logits []float32) {
	switch c.phase {
	case phaseLead:
		if c.inner == nil || len(c.start) == 0 {
			return
		}
		open := c.start[0]
		v := logits[open]
		c.inner.Mask(logits)
		logits[open] = v
	case phaseThinking:
		if len(c.force) == 0 && c.budget >= 0 && c.thought >= c.budget && len(c.end) > 0 {
			c.force, c.forceEnd = slices.Clone(c.end), true
		}
		if len(c.force) > 0 {
			only(logits, c.force[0])
		}
	case phaseAnswer:
		if c.inner != nil {
			c.inner.Mask(logits)
		}
	}
}

// only leaves id the one token that may come next.
func only(logits []float32, id int32) {
	keep := logits[id]
	for i := range logits {
		logits[i] = negInf
	}
	logits[id] = keep
	if keep == negInf {
		logits[id] = 0
	}
}

// Accept implements control.Constraint.
func (c *thinkingConstraint) Accept(id int32) error {
	switch c.phase {
	case phaseLead:
		if len(c.start) > 0 && id == c.start[0] {
			c.phase, c.force = phaseThinking, slices.Clone(c.start[1:])
			c.st.Push(c.tok.TokenToPiece(id))
			return nil
		}
		c.phase = phaseAnswer
		if c.inner != nil {
			return c.inner.Accept(id)
		}
	case phaseThinking:
		c.st.Push(c.tok.TokenToPiece(id))
		if len(c.force) > 0 {
			c.force = c.force[1:]
			if len(c.force) == 0 && c.forceEnd {
				c.phase = phaseAnswer
			}
			return nil
		}
		c.thought++
		if c.st.InAnswer() {
			c.phase = phaseAnswer
		}
	case phaseAnswer:
		if c.inner != nil {
			return c.inner.Accept(id)
		}
	}
	return nil
}

// Clone implements control.Constraint.
func (c *thinkingConstraint) Clone() control.Constraint {
	d := *c
	d.force = slices.Clone(c.force)
	if c.inner != nil {
		d.inner = c.inner.Clone()
	}
	return &d
}
