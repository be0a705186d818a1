package loadgen

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"empty", nil, 50, 0},
		{"one", []float64{7}, 99, 7},
		{"median odd", []float64{1, 2, 3}, 50, 2},
		{"median even interpolates", []float64{1, 2, 3, 4}, 50, 2.5},
		{"p0 is min", []float64{1, 2, 3, 4}, 0, 1},
		{"p100 is max", []float64{1, 2, 3, 4}, 100, 4},
		{"p90 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9.1},  // numpy: 9.1
		{"p99 of 1..10", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 9.91}, // numpy: 9.91
		{"p25 of 0,10,20,30", []float64{0, 10, 20, 30}, 25, 7.5},             // numpy: 7.5
		{"out of range clamps", []float64{1, 2}, 150, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	ms := time.Millisecond
	l := summarize([]time.Duration{4 * ms, 1 * ms, 3 * ms, 2 * ms})
	want := Latency{Count: 4, Mean: 2.5, P50: 2.5, P90: 3.7, P99: 3.97}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", l.Mean, want.Mean}, {"p50", l.P50, want.P50}, {"p90", l.P90, want.P90}, {"p99", l.P99, want.P99}} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if l.Count != 4 {
		t.Errorf("count = %d", l.Count)
	}
	if z := summarize(nil); z != (Latency{}) {
		t.Errorf("empty = %+v", z)
	}
}
