package bench

import (
	"fmt"
	"sort"
	"time"

	"gorgonia.org/tensor"
)

// gorgoniaMatMul times Y[m,n] = X[m,k] · Wt[k,n] with gorgonia.org/tensor
// (pure Go, gonum BLAS underneath): the baseline every kernel row is compared to.
// Wt is materialised once, untimed, so only the product is measured.
func gorgoniaMatMul(m, n, k int, minTime time.Duration) (secondsPerOp float64, err error) {
	x := make([]float32, m*k)
	wt := make([]float32, k*n)
	fill(x, 1)
	fill(wt, 2)
	X := tensor.New(tensor.WithShape(m, k), tensor.WithBacking(x))
	W := tensor.New(tensor.WithShape(k, n), tensor.WithBacking(wt))
	Y := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(m, n))
	run := func() error {
		_, err := tensor.MatMul(X, W, tensor.WithReuse(Y))
		return err
	}
	if err := run(); err != nil {
		return 0, fmt.Errorf("gorgonia matmul %dx%dx%d: %w", m, n, k, err)
	}
	return timeIt(run, minTime)
}

// timeIt runs f until minTime has passed (at least three times) and returns
// the median single-run time in seconds. The median, not the best: a single
// short call can burst past what memory sustains, and the ceilings it is
// compared with are sustained rates.
func timeIt(f func() error, minTime time.Duration) (float64, error) {
	var runs []float64
	start := time.Now()
	for len(runs) < 3 || time.Since(start) < minTime {
		t0 := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		runs = append(runs, time.Since(t0).Seconds())
	}
	sort.Float64s(runs)
	return runs[len(runs)/2], nil
}

// fill writes a deterministic pattern in [-1, 1).
func fill(x []float32, seed uint32) {
	s := seed*2654435761 + 1
	for i := range x {
		s ^= s << 13
		s ^= s >> 17
		s ^= s << 5
		x[i] = float32(s>>8)/float32(1<<23) - 1
	}
}
