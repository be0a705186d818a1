// Package bench measures kiln's kernels in isolation against this machine's
// own ceilings (memory read bandwidth, FMA peak and int8 multiply-accumulate
// peak, measured in the same run) and against gorgonia.org/tensor as the pure-Go baseline. It backs
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
	// Int8PeakGOPS is the int8 multiply-accumulate peak of the instructions
	// the Q8_0 GEMM uses (a multiply-add = 2 ops, comparable to GFLOP/s).
	Int8PeakGOPS float64 `json:"int8_peak_gops"`
	// BF16PeakGFLOPS is the peak of the instruction the BF16-weight kernels
	// use per product: VDPBF16PS where they run on it, else the f32 FMA.
	BF16PeakGFLOPS float64 `json:"bf16_peak_gflops"`
}

// MeasureCeilings probes read bandwidth over bufBytes (several times the
// last-level cache), then the FMA, int8 and bf16 peaks of the current kernel
// variant (peakSeconds each).
func MeasureCeilings(threads int, bufBytes int, peakSeconds float64) (Ceilings, error) {
	bw, err := native.ReadBandwidth(bufBytes, threads, 5)
	if err != nil {
		return Ceilings{}, fmt.Errorf("read bandwidth: %w", err)
	}
	peak, err := native.FMAPeak(threads, peakSeconds)
	if err != nil {
		return Ceilings{}, fmt.Errorf("fma peak: %w", err)
	}
	int8Peak, err := native.Int8Peak(threads, peakSeconds)
	if err != nil {
		return Ceilings{}, fmt.Errorf("int8 peak: %w", err)
	}
	bf16Peak, err := native.BF16Peak(threads, peakSeconds)
	if err != nil {
		return Ceilings{}, fmt.Errorf("bf16 peak: %w", err)
	}
	return Ceilings{Threads: threads, ReadGBps: bw, FMAPeakGFLOPS: peak, Int8PeakGOPS: int8Peak, BF16PeakGFLOPS: bf16Peak}, nil
}
