package control

import (
	"errors"
	"math"
	"testing"
)

// parityConstraint allows only even token ids for count tokens, then only
// EOS (id 2); it records what it was told and can refuse a token.
type parityConstraint struct {
	count    int
	accepted []int32
	refuse   int32 // Accept fails for this id (-1: never)
}

func (c *parityConstraint) Mask(row []float32) {
	for id := range row {
		done := len(c.accepted) >= c.count
		if (done && id != 2) || (!done && (id%2 != 0 || id == 2)) {
			row[id] = float32(math.Inf(-1))
		}
	}
}

func (c *parityConstraint) Accept(id int32) error {
	if id == c.refuse {
		return errors.New("refused")
	}
	c.accepted = append(c.accepted, id)
	return nil
}

func (c *parityConstraint) Clone() Constraint {
	d := *c
	d.accepted = append([]int32(nil), c.accepted...)
	return &d
}

func TestConstraintMasksSampling(t *testing.T) {
	e, f := newFakeEngine(t, 64, Config{})
	delete(f.banned, 2) // the constraint, not the fake, decides when EOS may come
	c := &parityConstraint{count: 6, refuse: -1}
	req := greedyReq(prompt(7, 10), 30)
	req.Constraint = c
	req.Logprobs = true
	ch, err := e.Submit(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	r := collect(t, ch)
	if r.last.Finish != FinishStop || len(r.tokens) != 7 || r.tokens[6] != 2 {
		t.Fatalf("got %v %v, want 6 even tokens then EOS", r, r.tokens)
	}
	for i, id := range r.tokens[:6] {
		if id%2 != 0 || c.accepted[i] != id {
			t.Errorf("token %d: %d (accepted %v)", i, id, c.accepted)
		}
	}

	// min_tokens bans EOS where the constraint allows nothing else: the
	// sequence ends instead of sampling from an empty distribution.
	req = greedyReq(prompt(7, 10), 30)
	req.Constraint, req.MinTokens = &parityConstraint{count: 3, refuse: -1}, 10
	if r := run(t, e, req); r.last.Finish != FinishStop || len(r.tokens) != 3 {
		t.Errorf("constraint done under min_tokens: %v %v, want 3 tokens and stop", r, r.tokens)
	}

	// A token the constraint refuses ends the sequence with an error.
	first := r.tokens[0]
	req = greedyReq(prompt(7, 10), 30)
	req.Constraint = &parityConstraint{count: 6, refuse: first}
	if r := run(t, e, req); r.last.Finish != FinishError || r.last.Err == nil {
		t.Errorf("refused token: %v err %v, want an error finish", r, r.last.Err)
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after the runs: %+v", st)
	}
}

// TestBeamConstraintRefusalFails: a constraint that refuses a token its
// mask allowed (a step over its work budget) fails the whole beam search
// with an error; no hypothesis is cut and reported as stop, nothing leaks.
func TestBeamConstraintRefusalFails(t *testing.T) {
	e, f := newFakeEngine(t, 64, Config{})
	delete(f.banned, 2)
	beamReq := func(refuse int32) Request {
		r := greedyReq(prompt(7, 10), 12)
		r.N, r.BestOf = 2, 2
		r.Beam = &BeamSearch{LengthPenalty: 1}
		r.Constraint = &parityConstraint{count: 6, refuse: refuse}
		return r
	}
	ok := runChoices(t, e, beamReq(-1))
	if ok[0].last.Finish != FinishStop || len(ok[0].tokens) == 0 {
		t.Fatalf("unrefused search: %v %v, want hypotheses ending in stop", ok[0], ok[0].tokens)
	}
	for j, c := range runChoices(t, e, beamReq(ok[0].tokens[0])) {
		if c.last.Finish != FinishError || c.last.Err == nil {
			t.Errorf("choice %d: finish %q err %v, want an error", j, c.last.Finish, c.last.Err)
		}
	}
	if st := e.pool.Stats(); st.UsedBlocks != 0 {
		t.Errorf("blocks in use after the runs: %+v", st)
	}
}
