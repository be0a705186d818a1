package loadgen

import (
	"slices"
	"time"
)

// Latency summarizes one latency distribution in milliseconds. An empty
// distribution is all zeros (JSON has no NaN), told apart by Count.
type Latency struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// Percentile returns the p-th percentile (0 to 100) of sorted values,
// interpolating linearly between the two nearest ranks: numpy's default,
// which vLLM's benchmark uses, so the two report the same numbers on the
// same samples. It returns 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(n-1)
	lo := int(rank)
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := rank - float64(lo)
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// summarize returns the distribution of ds in milliseconds.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	ms := make([]float64, len(ds))
	var sum float64
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
		sum += ms[i]
	}
	slices.Sort(ms)
	return Latency{
		Count: len(ms),
		Mean:  sum / float64(len(ms)),
		P50:   Percentile(ms, 50),
		P90:   Percentile(ms, 90),
		P99:   Percentile(ms, 99),
	}
}
