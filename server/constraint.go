package server

import (
	"fmt"
	"slices"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/grammar"
)

// grammarConstraint is a control.Constraint over a grammar: it lets through
// only the tokens that keep the output a prefix of the grammar's language.
//
// The grammar's State already treats the vocabulary's end-of-generation
// tokens as "end here", allowed only once the text is complete. A request
// ends on more tokens than those, though: the chat template's end of turn
// (<|im_end|>, <|eot_id|>, ...), which is often not an EOG token of the
// vocabulary, and the client's stop_token_ids. Those would otherwise be
// either forbidden (the grammar has no text for a control token) or, for a
// stop id that is ordinary text, end the output in the middle of a JSON
// value. So they are handled here exactly like EOG: allowed only when the
// grammar accepts, and accepting one ends the grammar.
//
// Once the grammar has ended, Mask allows nothing, and the engine finishes
// the sequence with "stop". That is what bounds a request with ignore_eos
// (where an EOG token does not stop the engine): the output is complete, so
// generation ends there rather than running on to max_tokens.
type grammarConstraint struct {
	st      *grammar.State
	allowed grammar.Bitset
	ends    []int32 // the request's stop tokens (EOG ones are the State's)
	ended   bool    // an end token was accepted
	// failed is a Mask that went over the grammar's step work budget: the
	// next Accept returns it, which ends the sequence with an error.
	failed error
}

var _ control.Constraint = (*grammarConstraint)(nil)

// newGrammarConstraint starts g for one sequence; stopTokens are the
// request's stop token ids (end of turn included).
func newGrammarConstraint(m *grammar.Masker, g *grammar.Grammar, stopTokens []int32) *grammarConstraint {
	return &grammarConstraint{st: m.NewState(g), allowed: grammar.NewBitset(m.VocabSize()), ends: slices.Clone(stopTokens)}
}

// Mask implements control.Constraint. A Mask over the step work budget
// stops there (so one request cannot stall the step for everyone) and
// lets exactly one token through, whichever the row allows first: the
// sampler must pick it, and Accept then fails, ending the sequence with the
// budget's error rather than with a "stop" on unfinished output.
func (c *grammarConstraint) Mask(logits []float32) {
	if c.ended || c.st.Done() {
		clear(c.allowed)
	} else if err := c.st.Mask(c.allowed); err != nil {
		c.failed = err
		clear(c.allowed)
		for i, v := range logits {
			if v != negInf && i < len(c.allowed)*64 {
				c.allowed[i>>6] |= 1 << (i & 63)
				break
			}
		}
	} else {
		if c.st.Accepting() {
			for _, id := range c.ends {
				if id >= 0 && int(id) < len(logits) {
					c.allowed[id>>6] |= 1 << (id & 63)
				}
			}
		}
	}
	n := min(len(logits), len(c.allowed)*64)
	c.allowed.Filter(logits[:n])
	// Ids beyond the masker's vocabulary (a model whose output rows are
	// padded past the tokenizer's) are never text of the grammar.
	for i := n; i < len(logits); i++ {
		logits[i] = negInf
	}
}

// Accept implements control.Constraint.
func (c *grammarConstraint) Accept(id int32) error {
	if c.failed != nil {
		return c.failed
	}
	if c.ended || c.st.Done() {
		return fmt.Errorf("token %d after the end of the constrained output", id)
	}
	if slices.Contains(c.ends, id) {
		if !c.st.Accepting() {
			return fmt.Errorf("stop token %d before the constrained output is complete", id)
		}
		c.ended = true
		return nil
	}
	return c.st.Advance(id)
}

// Clone implements control.Constraint: the grammar position is copied,
// the scratch mask is not shared.
func (c *grammarConstraint) Clone() control.Constraint {
	return &grammarConstraint{st: c.st.Clone(), allowed: grammar.NewBitset(len(c.allowed) * 64), ends: c.ends, ended: c.ended}
}
