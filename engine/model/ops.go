package model

import (
	"fmt"

	"github.com/kiln-llm/kiln/native"
)

// ops records one layer's kernel calls: each runs only while no earlier one
// has failed, and the first failure sticks, named after its op, so a layer
// reads as the block it computes (norm, attention, residual, norm, MLP,
// residual) with one error check at the end. It lives on the stack of a
// Forward; nothing here allocates.
type ops struct {
	m   *Model
	n   int // tokens (rows) of this batch
	err error
}

// ok reports whether the ops so far succeeded.
func (o *ops) ok() bool { return o.err == nil }

// fail records err, if any, as the failure of op.
func (o *ops) fail(op string, err error) {
	if err != nil {
		o.err = fmt.Errorf("%s: %w", op, err)
	}
}

// rmsNorm is y = x / rms(x) * w for each of the n rows.
func (o *ops) rmsNorm(op string, y, x, w []float32) {
	if o.ok() {
		c := &o.m.Config
		o.fail(op, native.RMSNorm(y, x, w, o.n, c.NEmbd, c.RMSEps))
	}
}

// project is ys[i] = x · ws[i]ᵀ for matrices sharing their input.
func (o *ops) project(x []float32, ys [][]float32, ws ...Matrix) {
	if o.ok() {
		o.err = o.m.matmuls(x, o.n, ys, ws...) // names the matrix itself
	}
}

// matmul is y = x · wᵀ.
func (o *ops) matmul(w Matrix, x, y []float32) {
	if o.ok() {
		o.err = o.m.matmul(w, x, y, o.n) // names the matrix itself
	}
}

// bias adds bias to each row of y (nothing when bias is nil: the matrix has
// none).
func (o *ops) bias(w Matrix, y, bias []float32) {
	if !o.ok() {
		return
	}
	if err := addBias(y, bias, o.n); err != nil {
		o.err = fmt.Errorf("%s bias: %w", w.Name, err) // named only on failure: no allocation per layer
	}
}

// rope rotates the nHeads heads of each row of x by its position.
func (o *ops) rope(op string, x []float32, pos []int32, nHeads int) {
	if o.ok() {
		c := &o.m.Config
		o.fail(op, native.RoPE(x, pos, native.RoPEParams{
			NHeads: nHeads, HeadDim: c.HeadDim, Dims: c.RoPE.Dims, Mode: c.RoPE.Mode,
			FreqBase: c.RoPE.FreqBase, FreqScale: c.RoPE.FreqScale, FreqFactors: o.m.Weights.RoPEFreqs,
		}))
	}
}

// attend stores the new K/V at the plan's slots and computes each token's
// attention over its sequence's cached context into out.
func (o *ops) attend(kv *native.KVLayout, p *plan, q, k, v, out []float32) {
	if o.ok() {
		o.fail("kv store", native.KVStore(kv, k, v, p.slots[:o.n]))
	}
	if o.ok() {
		o.fail("attention", native.AttnPrefill(kv, q, out, p.qStart, p.ctxLens, p.tables, p.maxBlocks))
	}
}

// residual is x += y.
func (o *ops) residual(op string, x, y []float32) {
	if o.ok() {
		o.fail(op, native.Add(x, x, y))
	}
}

// swiGLU is gate = silu(gate) * up.
func (o *ops) swiGLU(gate, up []float32) {
	if o.ok() {
		o.fail("swiglu", native.SwiGLU(gate, gate, up))
	}
}
