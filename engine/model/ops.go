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

// headNorm RMS-normalises each of the nHeads heads of each row of x in
// place with the per-head weight w (qwen3, gemma3); nothing when w is nil.
func (o *ops) headNorm(op string, x, w []float32, nHeads int) {
	if o.ok() && w != nil {
		c := &o.m.Config
		o.fail(op, native.RMSNorm(x, x, w, o.n*nHeads, c.HeadDim, c.RMSEps))
	}
}

// postNorm RMS-normalises a sub-block's output in place before the
// residual add (gemma); nothing when w is nil.
func (o *ops) postNorm(op string, x, w []float32) {
	if w != nil {
		o.rmsNorm(op, x, x, w)
	}
}

// rope rotates the nHeads heads of each row of x by its position, with the
// layer's frequency base and scale, then applies LongRoPE's attention
// factor to the rotated dimensions only (ggml's mscale multiplies the
// rotated cos/sin; partially rotary heads pass the rest through).
func (o *ops) rope(op string, x []float32, pos []int32, nHeads int, lc *LayerConfig) {
	if !o.ok() {
		return
	}
	c := &o.m.Config
	o.fail(op, native.RoPE(x, pos, native.RoPEParams{
		NHeads: nHeads, HeadDim: c.HeadDim, Dims: c.RoPE.Dims, Mode: c.RoPE.Mode,
		FreqBase: lc.RoPEBase, FreqScale: lc.RoPEScale, FreqFactors: o.m.Weights.RoPEFreqs,
	}))
	if f := c.RoPE.AttnFactor; o.ok() && f != 0 && f != 1 {
		o.fail(op, native.ScaleStrided(x, o.n*nHeads, c.HeadDim, c.RoPE.Dims, f))
	}
}

// attend stores the new K/V at the plan's slots and computes each token's
// attention over its sequence's cached context into out: the per-ISA paged
// kernel for plain layers, the windowed one for sliding-window or
// soft-capped layers.
func (o *ops) attend(kv *native.KVLayout, p *plan, q, k, v, out []float32, window int) {
	if o.ok() {
		o.fail("kv store", native.KVStore(kv, k, v, p.slots[:o.n]))
	}
	if !o.ok() {
		return
	}
	if cap := o.m.Config.AttnSoftcap; window > 0 || cap > 0 {
		o.fail("attention", native.AttnWindow(kv, q, out, p.qStart, p.ctxLens, p.tables, p.maxBlocks, window, cap))
		return
	}
	o.fail("attention", native.AttnPrefill(kv, q, out, p.qStart, p.ctxLens, p.tables, p.maxBlocks))
}

// residual is x += y.
func (o *ops) residual(op string, x, y []float32) {
	if o.ok() {
		o.fail(op, native.Add(x, x, y))
	}
}

// glu is gate = act(gate) * up with the model's activation: SiLU
// (SwiGLU) or tanh-GELU (GeGLU).
func (o *ops) glu(gate, up []float32) {
	if !o.ok() {
		return
	}
	if o.m.Config.Act == GELUTanh {
		o.fail("geglu", native.GeGLUTanh(gate, gate, up))
		return
	}
	o.fail("swiglu", native.SwiGLU(gate, gate, up))
}
