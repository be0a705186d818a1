// Package bench measures kiln's kernels in isolation against this machine's
// own ceilings (memory read bandwidth and FMA peak, measured in the same
// run) and against gorgonia.org/tensor as the pure-Go baseline. It backs
// `kiln bench kernels`.
package bench

import (
	"fmt"

	"github.com/kiln-llm/kiln/native"
)

// Ceilings are the machine's limits for one thread count.
type Ceilings struct {
	Threads       int     `json:"threads"`
	ReadGBps      float64 `json:"read_gbps"`
	FMAPeakGFLOPS float64 `json:"fma_peak_gflops"`
}

// MeasureCeilings probes read bandwidth over bufBytes (several times the
// last-level cache) and the FMA peak of the current kernel variant.
func MeasureCeilings(threads int, bufBytes int, fmaSeconds float64) (Ceilings, error) {
	bw, err := native.ReadBandwidth(bufBytes, threads, 5)
	if err != nil {
		return Ceilings{}, fmt.Errorf("read bandwidth: %w", err)
	}
	peak, err := native.FMAPeak(threads, fmaSeconds)
	if err != nil {
		return Ceilings{}, fmt.Errorf("fma peak: %w", err)
	}
	return Ceilings{Threads: threads, ReadGBps: bw, FMAPeakGFLOPS: peak}, nil
}
