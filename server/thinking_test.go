package server

import (
	"math"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat/reasoning"
)

// recordingConstraint allows only token allow and records what it saw.
type recordingConstraint struct {
	allow    int32
	masks    int
	accepted []int32
}

func (r *recordingConstraint) Mask(l []float32) {
	r.masks++
	for i := range l {
		if int32(i) != r.allow {
			l[i] = negInf
		}
	}
}
func (r *recordingConstraint) Accept(id int32) error { r.accepted = append(r.accepted, id); return nil }
func (r *recordingConstraint) Clone() control.Constraint {
	c := *r
	c.accepted = slices.Clone(r.accepted)
	return &c
}

// argmax is the token a greedy sampler picks.
func argmax(l []float32) int32 {
	best := 0
	for i, v := range l {
		if v > l[best] {
			best = i
		}
	}
	return int32(best)
}

// TestThinkingConstraint drives the constraint as the engine does (Mask,
// pick, Accept) and checks: the output constraint sees nothing of the
// thinking; a budget forces the end marker's tokens; a qwen3 model may
// open its thinking or answer at once under the output constraint.
func TestThinkingConstraint(t *testing.T) {
	tk := testTokenizer(t)
	vocab := tk.VocabSize()
	const free, answer = 310, 400 // the model's favourite token, the inner constraint's only one
	tests := []struct {
		name, parser string
		budget       int
		favour       []int32 // the model's pick per step (free when short)
		wantThinking int     // tokens the inner constraint did not see
	}{
		{"budget forces </think>", "deepseek_r1", 3, nil, 3 + len(tk.Encode("</think>", false, true))},
		{"budget 0", "deepseek_r1", 0, nil, len(tk.Encode("</think>", false, true))},
		{"qwen3 answers at once", "qwen3", 2, nil, 0},
		{"qwen3 opens its thinking", "qwen3", 2, tk.Encode("<think>", false, true)[:1],
			len(tk.Encode("<think>", false, true)) + 2 + len(tk.Encode("</think>", false, true))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := reasoning.New(tt.parser)
			if err != nil {
				t.Fatal(err)
			}
			inner := &recordingConstraint{allow: answer}
			var c control.Constraint = newThinkingConstraint(p, tk, inner, tt.budget)
			var out []int32
			for step := range 30 {
				l := make([]float32, vocab)
				fav := int32(free)
				if step < len(tt.favour) {
					fav = tt.favour[step]
				}
				l[fav] = 10
				c.Mask(l)
				id := argmax(l)
				if l[id] == float32(math.Inf(-1)) {
					t.Fatalf("step %d: every token masked", step)
				}
				if err := c.Accept(id); err != nil {
					t.Fatal(err)
				}
				out = append(out, id)
				if step == 10 {
					c = c.Clone() // a fork keeps the state
				}
			}
			inner = c.(*thinkingConstraint).inner.(*recordingConstraint)
			if got := 30 - len(inner.accepted); got != tt.wantThinking {
				t.Fatalf("%d tokens before the output constraint, want %d (output %v)", got, tt.wantThinking, out)
			}
			for _, id := range inner.accepted {
				if id != answer {
					t.Fatalf("the output constraint accepted %d", id)
				}
			}
			th, an, _ := p.Split(tk.Decode(out))
			if tt.budget > 0 && tt.wantThinking > 0 && (th == "" || an == "") {
				t.Fatalf("split %q / %q", th, an)
			}
		})
	}
}
