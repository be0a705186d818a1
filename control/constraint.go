package control

import "math"

// Constraint restricts the tokens a sequence may generate: grammar-
// constrained decoding (response_format json_schema, guided_*, required
// tool calls). The engine masks each logits row with it before sampling and
// tells it the sampled token; logprobs stay those of the model's own
// distribution, as vLLM reports them. A Constraint belongs to one sequence;
// forks (n > 1, beams) get a Clone.
type Constraint interface {
	// Mask sets to -Inf the logits of every token that may not come next.
	Mask(logits []float32)
	// Accept advances past the sampled token; an error means the token was
	// not one Mask allowed, and ends the sequence with FinishError.
	Accept(id int32) error
	// Clone returns an independent copy in the same state.
	Clone() Constraint
}

// allMasked reports whether no token is left to sample: a constraint that
// allows only end-of-generation tokens while MinTokens bans them.
func allMasked(row []float32) bool {
	inf := float32(math.Inf(-1))
	for _, v := range row {
		if v != inf {
			return false
		}
	}
	return true
}
