package model

import (
	"fmt"

	"github.com/kiln-llm/kiln/native"
)

// scratch holds the activations of one Forward, sized for the largest batch
// once at load so the hot path does not allocate.
type scratch struct {
	x    []float32 // [T, NEmbd] residual stream
	xn   []float32 // [T, NEmbd] normed input of a sub-block; also the gathered output rows
	q    []float32 // [T, NHead*HeadDim]
	k, v []float32 // [T, NHeadKV*HeadDim]
	attn []float32 // [T, NHead*HeadDim] attention output
	proj []float32 // [T, NEmbd] output of attn_output / ffn_down
	gate []float32 // [T, NFF]; SwiGLU result written in place
	up   []float32 // [T, NFF]
	// half and round hold a matmul input rounded to F16/BF16 and back
	// ([T, widest input]); empty when activations are not rounded.
	half  []uint16
	round []float32
	plan  plan
	moe   moeScratch // mixture-of-experts buffers (empty for dense models)
}

func newScratch(c *Config, t int, roundAct bool) scratch {
	q, kv := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim
	var half []uint16
	var round []float32
	if roundAct {
		wide := t * max(c.NEmbd, c.NFF, q, c.NFFExp)
		half, round = make([]uint16, wide), make([]float32, wide)
	}
	return scratch{
		half: half, round: round,
		x: make([]float32, t*c.NEmbd), xn: make([]float32, t*c.NEmbd),
		q: make([]float32, t*q), k: make([]float32, t*kv), v: make([]float32, t*kv),
		attn: make([]float32, t*q), proj: make([]float32, t*c.NEmbd),
		gate: make([]float32, t*c.NFF), up: make([]float32, t*c.NFF),
		moe: newMoEScratch(c, t),
	}
}

// Forward evaluates b: it embeds the tokens, runs every layer (storing the
// new K/V in b.KV at the tokens' slots) and writes the logits of the output
// rows (b.Outputs, or the last token of each sequence) into logits, one
// NVocab-long row each, in order. Every call is native kernels only, apart
// from validating and flattening the batch. A Model runs one Forward at a
// time: concurrent calls (a scheduler's steps and embedding sessions on one
// replica) take turns on its scratch. A malformed batch is an ErrBatch before anything is written; a kernel
// error later may leave this batch's K/V partly stored, which is harmless
// because those positions are not yet part of any sequence's context.
func (m *Model) Forward(b *Batch, logits []float32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Weights == nil {
		return fmt.Errorf("model: forward on a closed model")
	}
	s := &m.s
	p := &s.plan
	if err := m.preparePlan(b, p); err != nil {
		return err
	}
	c := &m.Config
	w := m.Weights
	n := len(b.Tokens)
	nOut := len(p.outputs)
	if len(logits) < nOut*c.NVocab {
		return fmt.Errorf("%w: len(logits)=%d < %d outputs × %d vocab", ErrBatch, len(logits), nOut, c.NVocab)
	}
	if b.Hidden != nil && len(b.Hidden) < n*c.NEmbd {
		return fmt.Errorf("%w: len(Hidden)=%d < %d tokens × %d embd", ErrBatch, len(b.Hidden), n, c.NEmbd)
	}
	for i, t := range b.Tokens {
		if t < 0 || int(t) >= c.NVocab {
			return fmt.Errorf("%w: token %d: id %d outside [0, %d)", ErrBatch, i, t, c.NVocab)
		}
	}
	x := s.x[:n*c.NEmbd]
	if err := native.GetRows(w.TokEmbd.Type, w.TokEmbd.Data, w.TokEmbd.Rows, c.NEmbd, b.Tokens, x); err != nil {
		return fmt.Errorf("model: embedding: %w", err)
	}
	if c.EmbedScale != 0 {
		if err := native.Scale(x, x, c.EmbedScale); err != nil {
			return fmt.Errorf("model: embedding scale: %w", err)
		}
	}
	for il := range w.Layers {
		m.yield.yieldIfDue()
		if err := m.layer(il, b, n); err != nil {
			return fmt.Errorf("model: layer %d: %w", il, err)
		}
	}
	if b.Hidden != nil {
		hid := b.Hidden[:n*c.NEmbd]
		if err := native.RMSNorm(hid, x, w.OutNorm, n, c.NEmbd, c.RMSEps); err != nil {
			return fmt.Errorf("model: output norm (hidden): %w", err)
		}
	}
	if nOut == 0 {
		return nil // a K/V-only step: no head
	}
	// Gather the output rows, then the final norm and head on those only.
	h := s.xn[:nOut*c.NEmbd]
	for j, r := range p.outputs {
		copy(h[j*c.NEmbd:(j+1)*c.NEmbd], x[int(r)*c.NEmbd:(int(r)+1)*c.NEmbd])
	}
	if err := native.RMSNorm(h, h, w.OutNorm, nOut, c.NEmbd, c.RMSEps); err != nil {
		return fmt.Errorf("model: output norm: %w", err)
	}
	if err := m.matmul(w.Output, h, logits[:nOut*c.NVocab], nOut); err != nil {
		return fmt.Errorf("model: output: %w", err)
	}
	if c.FinalSoftcap > 0 {
		if err := native.Softcap(logits[:nOut*c.NVocab], logits[:nOut*c.NVocab], c.FinalSoftcap); err != nil {
			return fmt.Errorf("model: logit soft-capping: %w", err)
		}
	}
	return nil
}

// layer runs transformer block il over the n tokens in the scratch: a
// pre-norm attention block and a pre-norm gated FFN, each added back into
// the residual stream x. The architecture hooks are data: optional tensors
// (biases, per-head Q/K norms, post-norms) run when present, and the
// layer's Config (window, RoPE base, activation, soft-cap) picks the kernels.
func (m *Model) layer(il int, b *Batch, n int) error {
	c := &m.Config
	s := &m.s
	l := &m.Weights.Layers[il]
	lc := &c.Layers[il]
	nq, nkv := c.NHead*c.HeadDim, c.NHeadKV*c.HeadDim
	x, xn, proj := s.x[:n*c.NEmbd], s.xn[:n*c.NEmbd], s.proj[:n*c.NEmbd]
	q, k, v, attn := s.q[:n*nq], s.k[:n*nkv], s.v[:n*nkv], s.attn[:n*nq]
	gate, up := s.gate[:n*c.NFF], s.up[:n*c.NFF]
	o := ops{m: m, n: n}

	o.rmsNorm("attn norm", xn, x, l.AttnNorm)
	o.project(xn, [][]float32{q, k, v}, l.Q, l.K, l.V)
	o.bias(l.Q, q, l.QBias)
	o.bias(l.K, k, l.KBias)
	o.bias(l.V, v, l.VBias)
	o.headNorm("q norm", q, l.QNorm, c.NHead)
	o.headNorm("k norm", k, l.KNorm, c.NHeadKV)
	o.rope("rope q", q, b.Pos, c.NHead, lc)
	o.rope("rope k", k, b.Pos, c.NHeadKV, lc)
	o.attend(&b.KV.Layers[il], &s.plan, q, k, v, attn, lc.Window)
	o.matmul(l.O, attn, proj)
	o.postNorm("attn post norm", proj, l.AttnPostNorm)
	o.residual("attn residual", x, proj)

	o.rmsNorm("ffn norm", xn, x, l.FFNNorm)
	if c.NExpert > 0 {
		o.moe(l, xn, proj)
	} else {
		o.project(xn, [][]float32{gate, up}, l.Gate, l.Up)
		o.glu(gate, up)
		o.matmul(l.Down, gate, proj)
	}
	o.postNorm("ffn post norm", proj, l.FFNPostNorm)
	o.residual("ffn residual", x, proj)
	return o.err
}

// matmul computes y[rows, w.Rows] = x[rows, w.Cols] · wᵀ. Like ggml, it
// first rounds x to the weight's type for F16 and BF16 weights (ggml's
// vec_dot_type; Q8_0 activations are quantized inside native.MatMul), which
// is what makes F16 files, and mixed files such as stories260K-q8_0 with its
// F16 ffn_down, land on llama.cpp's logits instead of merely near them.
func (m *Model) matmul(w Matrix, x, y []float32, rows int) error {
	x, err := m.roundInput(w, x, rows)
	if err != nil {
		return err
	}
	t, data := w.operand()
	if err := native.MatMul(t, data, x, y, rows, w.Rows, w.Cols); err != nil {
		return fmt.Errorf("%s: %w", w.Name, err)
	}
	return nil
}

// matmuls computes ys[i][rows, ws[i].Rows] = x[rows, k] · ws[i]ᵀ for matrices
// sharing their input (attention Q, K, V; FFN gate and up). They go through
// one native call (x quantized once per activation form, one pool hand-off),
// bit-identical to one matmul each, when they read the same x: one type, or
// types whose input is not rounded first. Mixed quantized types fuse too: a
// Q4_K_M file's Q6_K attn_v beside its Q4_K attn_q and attn_k would otherwise
// cost two more hand-offs per layer, each with its own tail where one thread
// waits for the other, and its small V alone splits badly over the threads.
func (m *Model) matmuls(x []float32, rows int, ys [][]float32, ws ...Matrix) error {
	fused := !m.separate && len(ws) <= native.MaxMatOuts
	for _, w := range ws[1:] {
		sameInput := w.Type == ws[0].Type || (!m.roundsInput(w) && !m.roundsInput(ws[0]))
		fused = fused && sameInput && w.Cols == ws[0].Cols
	}
	if !fused {
		for i, w := range ws {
			if err := m.matmul(w, x, ys[i], rows); err != nil {
				return err
			}
		}
		return nil
	}
	x, err := m.roundInput(ws[0], x, rows)
	if err != nil {
		return err
	}
	var outs [native.MaxMatOuts]native.MatOut
	for i, w := range ws {
		t, data := w.operand()
		outs[i] = native.MatOut{Type: t, W: data, Y: ys[i], N: w.Rows}
	}
	if err := native.MatMulMulti(x, rows, ws[0].Cols, outs[:len(ws)]...); err != nil {
		return fmt.Errorf("%s (with %d more): %w", ws[0].Name, len(ws)-1, err)
	}
	return nil
}

// roundsInput reports whether w's matmul input is x rounded to w's type.
func (m *Model) roundsInput(w Matrix) bool {
	return m.roundAct && (w.Type == native.F16 || w.Type == native.BF16)
}

// roundInput returns x, or for F16 and BF16 weights (unless exact
// activations were asked for) x rounded to the weight's type and back.
func (m *Model) roundInput(w Matrix, x []float32, rows int) ([]float32, error) {
	if m.roundsInput(w) {
		n := rows * w.Cols
		h, r := m.s.half[:n], m.s.round[:n]
		var err error
		if w.Type == native.F16 {
			if err = native.F32ToF16(x[:n], h); err == nil {
				err = native.F16ToF32(h, r)
			}
		} else {
			if err = native.F32ToBF16(x[:n], h); err == nil {
				err = native.BF16ToF32(h, r)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: rounding activations: %w", w.Name, err)
		}
		x = r
	}
	return x, nil
}

// addBias adds bias to each of the n rows of y (nothing when bias is nil).
// There is no broadcasting add kernel yet, so this is one native call per row.
func addBias(y, bias []float32, n int) error {
	if bias == nil {
		return nil
	}
	d := len(bias)
	for i := range n {
		row := y[i*d : (i+1)*d]
		if err := native.Add(row, row, bias); err != nil {
			return err
		}
	}
	return nil
}
