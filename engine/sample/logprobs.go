package sample

import (
	"math"
)

// TokenLogprob is one token's log-probability, as reported in OpenAI's
// logprobs / top_logprobs.
type TokenLogprob struct {
	ID      int32
	Logprob float32
}

// Logprobs returns the log-softmax of the raw logits (before bias,
// penalties, filters and temperature: what OpenAI reports) at token, and the
// topN most likely tokens sorted by logprob descending, then id ascending.
// It is computed in float64 and does not modify logits. NaN logits count as
// -Inf; a token out of range, or logits with no finite entry, give -Inf
// (and, for the latter, no alternatives). topN is clamped to [0, len(logits)].
func Logprobs(logits []float32, token int32, topN int) (logprob float32, top []TokenLogprob) {
	negInf := float32(math.Inf(-1))
	maxL := math.Inf(-1)
	for _, l := range logits {
		if v := float64(l); v > maxL { // NaN compares false
			maxL = v
		}
	}
	if math.IsInf(maxL, -1) {
		return negInf, nil
	}
	// norm maps a logit to the value used in the softmax: NaN is -Inf, and
	// when some logits are +Inf they share all the mass equally.
	posInf := math.IsInf(maxL, 1)
	if posInf {
		maxL = 0
	}
	norm := func(l float32) float64 {
		v := float64(l)
		switch {
		case math.IsNaN(v):
			return math.Inf(-1)
		case posInf && math.IsInf(v, 1):
			return 0
		case posInf:
			return math.Inf(-1)
		}
		return v
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(norm(l) - maxL)
	}
	lse := maxL + math.Log(sum)
	lp := func(l float32) float32 {
		return float32(norm(l) - lse)
	}
	logprob = negInf
	if token >= 0 && int(token) < len(logits) {
		logprob = lp(logits[token])
	}
	topN = min(max(topN, 0), len(logits))
	if topN == 0 {
		return logprob, nil
	}
	// top is a min-heap under lpBetter (its root the worst kept entry)
	// while scanning: O(n log topN), one allocation, no copy of logits.
	top = make([]TokenLogprob, 0, topN)
	for i, l := range logits {
		c := TokenLogprob{ID: int32(i), Logprob: lp(l)}
		switch {
		case len(top) < topN:
			top = append(top, c)
			siftUp(top, len(top)-1)
		case lpBetter(c, top[0]):
			top[0] = c
			siftDown(top, 0)
		}
	}
	// Pop the worst to the end repeatedly: best-first order.
	for n := len(top) - 1; n > 0; n-- {
		top[0], top[n] = top[n], top[0]
		siftDown(top[:n], 0)
	}
	return logprob, top
}

// siftUp restores the worst-at-root heap property above index i.
func siftUp(h []TokenLogprob, i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !lpBetter(h[parent], h[i]) {
			return
		}
		h[parent], h[i] = h[i], h[parent]
		i = parent
	}
}

// siftDown restores the worst-at-root heap property below index i.
func siftDown(h []TokenLogprob, i int) {
	for {
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && lpBetter(h[worst], h[l]) {
			worst = l
		}
		if r < len(h) && lpBetter(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// lpBetter orders logprobs descending, then ids ascending.
func lpBetter(a, b TokenLogprob) bool {
	if a.Logprob != b.Logprob {
		return a.Logprob > b.Logprob
	}
	return a.ID < b.ID
}
