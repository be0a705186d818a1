package model

import (
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/native"
)

// moeScratch holds one mixture-of-experts FFN's buffers, sized once at load
// for the largest batch (t tokens).
type moeScratch struct {
	router []float32 // [t, NExpert] router logits, then probabilities
	pick   []int32   // [t, NExpertUsed] chosen experts, best first
	weight []float32 // [t, NExpertUsed] their renormalised weights
	order  []int32   // [t*NExpertUsed] (token, slot) pairs grouped by expert
	start  []int32   // [NExpert+1] each expert's run in order
	cursor []int32   // [NExpert] fill positions while grouping
	xg     []float32 // [t, NEmbd] the gathered inputs of one expert
	gate   []float32 // [t, NFFExp]
	up     []float32 // [t, NFFExp]
	yg     []float32 // [t, NEmbd] one expert's outputs
	out    []float32 // [t, NExpertUsed, NEmbd] every (token, slot) output
	shGate []float32 // [t] the shared expert's gate logits
	shG    []float32 // [t, NFFShexp] shared expert gate, then its SwiGLU
	shU    []float32 // [t, NFFShexp]
	shOut  []float32 // [t, NEmbd]
}

func newMoEScratch(c *Config, t int) moeScratch {
	if c.NExpert == 0 {
		return moeScratch{}
	}
	k := c.NExpertUsed
	return moeScratch{
		router: make([]float32, t*c.NExpert), pick: make([]int32, t*k), weight: make([]float32, t*k),
		order: make([]int32, t*k), start: make([]int32, c.NExpert+1), cursor: make([]int32, c.NExpert),
		xg: make([]float32, t*c.NEmbd), gate: make([]float32, t*c.NFFExp), up: make([]float32, t*c.NFFExp),
		yg: make([]float32, t*c.NEmbd), out: make([]float32, t*k*c.NEmbd),
		shGate: make([]float32, t), shG: make([]float32, t*c.NFFShexp), shU: make([]float32, t*c.NFFShexp),
		shOut: make([]float32, t*c.NEmbd*min(1, c.NFFShexp)),
	}
}

// moe computes y = Σ_slot w_slot · expert_slot(x) for each of the o.n rows
// of x, as llama.cpp's build_moe_ffn with softmax gating and normalised
// weights: router logits, softmax, the top NExpertUsed probabilities (ties
// to the lower expert id), renormalised to sum 1.
//
// Tokens are grouped by expert so each chosen expert's matrices stream from
// memory once per step, over all of its tokens (a GEMV when one token chose
// it, as in decode). Each row's result depends only on the row: the matmul
// kernels are batch-invariant, and a token's slots are summed in its own
// rank order, whatever else is in the batch. Where the expert weights
// allow it (fusedExperts), the grouping and every expert's matmuls run as
// one native.MoEFFN call, one pool task per layer instead of three hand-offs
// per chosen expert, with the same bits as the expert-by-expert loop below.
func (o *ops) moe(l *Layer, x, y []float32) {
	if !o.ok() {
		return
	}
	m, c, s := o.m, &o.m.Config, &o.m.s.moe
	n, E, k, d := o.n, c.NExpert, c.NExpertUsed, c.NEmbd
	router := s.router[:n*E]
	if err := m.matmul(l.GateInp, x, router, n); err != nil {
		o.err = err
		return
	}
	o.fail("router softmax", native.Softmax(router, router, n, E))
	if !o.ok() {
		return
	}
	route(router, n, E, k, !c.ExpertRaw, s)
	if m.fusedExperts(l) {
		w := native.MoEExperts{GateType: l.GateExps.Type, UpType: l.UpExps.Type, DownType: l.DownExps.Type,
			Gate: l.GateExps.Data, Up: l.UpExps.Data, Down: l.DownExps.Data, NExpert: E, D: d, F: c.NFFExp}
		o.fail("experts", native.MoEFFN(&w, x, s.pick[:n*k], s.weight[:n*k], y, n, k))
		if o.ok() && c.NFFShexp > 0 {
			o.sharedExpert(l, x, y)
		}
		return
	}
	for e := range E {
		lo, hi := int(s.start[e]), int(s.start[e+1])
		if lo == hi {
			continue
		}
		if err := o.expert(l, e, s.order[lo:hi], x); err != nil {
			o.err = fmt.Errorf("expert %d: %w", e, err)
			return
		}
	}
	// y[t] = ((w0·e0 + w1·e1) + w2·e2) + ..., in the token's rank order.
	for t := range n {
		yt := y[t*d : (t+1)*d]
		for j := range k {
			r := s.out[(t*k+j)*d : (t*k+j+1)*d]
			o.fail("expert weight", native.Scale(r, r, s.weight[t*k+j]))
			if j == 0 {
				copy(yt, r)
			} else {
				o.fail("expert sum", native.Add(yt, yt, r))
			}
		}
	}
	if c.NFFShexp > 0 {
		o.sharedExpert(l, x, y)
	}
}

// fusedExperts reports whether the layer's routed experts run as one
// native.MoEFFN call (every expert's work one pool task, each chosen
// expert's weights read once) rather than expert by expert: weights whose
// kernels read Q8_K activations (the K-quants, IQ4_XS) and widths that are
// whole Q8_K blocks. Both give the same bits (TestMoEFusedBitIdentical).
func (m *Model) fusedExperts(l *Layer) bool {
	c := &m.Config
	return !m.perExpert && c.NEmbd%256 == 0 && c.NFFExp%256 == 0 &&
		native.MoEFFNSupports(l.GateExps.Type) && native.MoEFFNSupports(l.UpExps.Type) && native.MoEFFNSupports(l.DownExps.Type)
}

// sharedExpert adds sigmoid(GateInpShexp · x) · SwiGLU_shexp(x) to each row
// of y (qwen2moe's shared expert, after the routed ones, as llama.cpp adds it).
func (o *ops) sharedExpert(l *Layer, x, y []float32) {
	m, c, s := o.m, &o.m.Config, &o.m.s.moe
	n, d, f := o.n, c.NEmbd, c.NFFShexp
	g, gate, up, out := s.shGate[:n], s.shG[:n*f], s.shU[:n*f], s.shOut[:n*d]
	if o.err = m.matmul(l.GateInpShexp, x, g, n); o.err != nil {
		return
	}
	if o.err = m.matmuls(x, n, [][]float32{gate, up}, l.GateShexp, l.UpShexp); o.err != nil {
		return
	}
	o.fail("shared swiglu", native.SwiGLU(gate, gate, up))
	if o.ok() {
		o.err = m.matmul(l.DownShexp, gate, out, n)
	}
	for t := 0; t < n && o.ok(); t++ {
		r := out[t*d : (t+1)*d]
		o.fail("shared gate", native.Scale(r, r, float32(1/(1+math.Exp(-float64(g[t]))))))
		o.fail("shared sum", native.Add(y[t*d:(t+1)*d], y[t*d:(t+1)*d], r))
	}
}

// route fills s.pick, s.weight and the by-expert grouping s.order/s.start
// from the router probabilities p [n, E].
func route(p []float32, n, E, k int, renorm bool, s *moeScratch) {
	clear(s.start)
	for t := range n {
		row := p[t*E : (t+1)*E]
		pick := s.pick[t*k : (t+1)*k]
		for j := range k { // selection of the k best, ties to the lower id
			best := int32(-1)
			for e := range E {
				if slicesContains(pick[:j], int32(e)) {
					continue
				}
				if best < 0 || row[e] > row[best] {
					best = int32(e)
				}
			}
			pick[j] = best
			s.start[best+1]++
		}
		w := s.weight[t*k : (t+1)*k]
		var sum float32
		for j, e := range pick {
			w[j] = row[e]
			sum += w[j]
		}
		for j := range w {
			if renorm {
				w[j] /= sum
			}
		}
	}
	for e := range E {
		s.start[e+1] += s.start[e]
	}
	copy(s.cursor, s.start[:E]) // counting sort: tokens ascending within an expert
	for i, e := range s.pick[:n*k] {
		s.order[s.cursor[e]] = int32(i)
		s.cursor[e]++
	}
}

func slicesContains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// expert runs expert e over the (token, slot) pairs in idx (t*k+slot),
// writing each pair's output row into s.out.
func (o *ops) expert(l *Layer, e int, idx []int32, x []float32) error {
	m, c, s := o.m, &o.m.Config, &o.m.s.moe
	k, d, f, cnt := c.NExpertUsed, c.NEmbd, c.NFFExp, len(idx)
	xg, gate, up, yg := s.xg[:cnt*d], s.gate[:cnt*f], s.up[:cnt*f], s.yg[:cnt*d]
	for i, p := range idx {
		t := int(p) / k
		copy(xg[i*d:(i+1)*d], x[t*d:(t+1)*d])
	}
	if err := m.matmuls(xg, cnt, [][]float32{gate, up}, l.GateExps.Expert(e, c.NExpert), l.UpExps.Expert(e, c.NExpert)); err != nil {
		return err
	}
	if err := native.SwiGLU(gate, gate, up); err != nil {
		return fmt.Errorf("swiglu: %w", err)
	}
	if err := m.matmul(l.DownExps.Expert(e, c.NExpert), gate, yg, cnt); err != nil {
		return err
	}
	for i, p := range idx {
		copy(s.out[int(p)*d:(int(p)+1)*d], yg[i*d:(i+1)*d])
	}
	return nil
}
