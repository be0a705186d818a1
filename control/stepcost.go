package control

import (
	"context"
	"log/slog"
	"math"
	"time"
)

// stepShape is what a step's cost depends on: how many sequences decode
// (one row each), how many other tokens go through the model (prefill
// chunks and speculative draft rows), and the attention work (keys read,
// summed over every token of the step).
type stepShape struct {
	decodes int // sequences decoding one token
	tokens  int // prefill and draft tokens
	keys    int // sum over all tokens of the step of their context length
}

// costFeatures is the cost model's regressors. Each is scaled to be about
// 1 for a typical step so the least-squares system is well conditioned.
const costFeatures = 4

func (s stepShape) features() [costFeatures]float64 {
	return [costFeatures]float64{1, float64(s.decodes) / 16, float64(s.tokens) / 256, float64(s.keys) / (256 * 1024)}
}

// stepCost is an online linear model of a step's wall time,
//
//	t = c0 + c1·decodes + c2·tokens + c3·keys,
//
// fitted by least squares over recent steps with exponential forgetting
// (recent steps weigh most, so it follows the machine's load), with
// non-negative coefficients. It is what the scheduler sizes prefill chunks
// with: a step on a CPU costs a fixed part (reading the weights) plus a
// part per row, which is larger for the compute-bound rows of a prefill
// chunk than for a handful of memory-bound decode rows.
type stepCost struct {
	a     [costFeatures][costFeatures]float64 // Σ λ^k x xᵀ
	b     [costFeatures]float64               // Σ λ^k y x
	n     int                                 // steps observed
	coef  [costFeatures]float64               // seconds per unit of each feature
	dirty bool
}

// costForget is the forgetting factor: a step 50 steps ago weighs ~0.36.
const costForget = 0.98

// costWarmup is the steps observed before predictions are trusted.
const costWarmup = 4

// observe adds a step of shape s that took d. The previous steps are
// fitted first (if no prediction did), so that the coefficients the ridge
// term pulls toward are those of the data before this step, however often
// the scheduler predicts.
func (c *stepCost) observe(s stepShape, d time.Duration) {
	c.fit()
	x := s.features()
	y := d.Seconds()
	for i := range costFeatures {
		for j := range costFeatures {
			c.a[i][j] = costForget*c.a[i][j] + x[i]*x[j]
		}
		c.b[i] = costForget*c.b[i] + y*x[i]
	}
	c.n++
	c.dirty = true
}

// ready reports whether enough steps were observed to predict.
func (c *stepCost) ready() bool { return c.n >= costWarmup }

// predict is the expected wall time of a step of shape s.
func (c *stepCost) predict(s stepShape) time.Duration {
	c.fit()
	x := s.features()
	t := 0.0
	for i := range costFeatures {
		t += c.coef[i] * x[i]
	}
	return time.Duration(t * float64(time.Second))
}

// fit solves the ridge-regularized normal equations on the features not
// clamped at zero, clamping any coefficient that comes out negative and
// solving again (an active-set non-negative least squares, at most
// costFeatures rounds). The ridge term pulls each coefficient toward its
// previous value, not toward zero: during a long run of steps that lack a
// feature (hundreds of decode-only steps) the forgetting factor shrinks
// that feature's statistics to nothing, and a pull toward zero then erased
// what was learnt (the prefill cost per token fell to a quarter of the
// truth after 800 decode-only steps, and the first prefill chunk beside a
// stream came out at the whole budget, 1.75× the latency target). A
// feature never seen (no prefill yet) stays at 0; the scheduler keeps a
// floor chunk so it is soon seen.
func (c *stepCost) fit() {
	if !c.dirty {
		return
	}
	c.dirty = false
	prev := c.coef
	var active [costFeatures]bool
	for i := range active {
		active[i] = true
	}
	for range costFeatures {
		var m [costFeatures][costFeatures + 1]float64
		for i := range costFeatures {
			for j := range costFeatures {
				if active[i] && active[j] {
					m[i][j] = c.a[i][j]
				}
			}
			if active[i] {
				ridge := 1e-6 * (c.a[i][i] + 1)
				m[i][i] += ridge
				m[i][costFeatures] = c.b[i] + ridge*prev[i]
			} else {
				m[i][i] = 1
			}
		}
		sol, ok := solve(m)
		if !ok {
			c.coef = [costFeatures]float64{}
			return
		}
		neg := false
		for i, v := range sol {
			if active[i] && v < 0 {
				active[i], neg = false, true
			}
		}
		if !neg {
			for i := range sol {
				if !active[i] {
					sol[i] = 0
				}
			}
			c.coef = sol
			return
		}
	}
	c.coef = [costFeatures]float64{}
}

// solve solves the augmented system m by Gaussian elimination with partial
// pivoting; false when it is singular.
func solve(m [costFeatures][costFeatures + 1]float64) ([costFeatures]float64, bool) {
	const n = costFeatures
	for col := range n {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if math.Abs(m[p][col]) < 1e-300 {
			return [n]float64{}, false
		}
		m[col], m[p] = m[p], m[col]
		for r := range n {
			if r == col {
				continue
			}
			f := m[r][col] / m[col][col]
			for k := col; k <= n; k++ {
				m[r][k] -= f * m[col][k]
			}
		}
	}
	var x [n]float64
	for i := range n {
		x[i] = m[i][n] / m[i][i]
	}
	return x, true
}

// observeStep feeds the step that started at start to the cost model and,
// at debug level, logs its shape, its predicted cost and what it took: the
// figures to check the model and the chunk sizing against (kiln serve
// --log-level debug).
func (e *Engine) observeStep(start time.Time) {
	took := e.cfg.Now().Sub(start)
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) {
		var predicted time.Duration
		if e.cost.ready() {
			predicted = e.cost.predict(e.shape)
		}
		slog.Debug("control: step", "decodes", e.shape.decodes, "tokens", e.shape.tokens, "keys", e.shape.keys,
			"waiting", len(e.waiting), "predicted_ms", predicted.Milliseconds(), "ms", took.Milliseconds())
	}
	e.cost.observe(e.shape, took)
}
