package bench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/kiln-llm/kiln/native"
)

// Options select what `kiln bench kernels` measures.
type Options struct {
	Shapes     []Shape
	Types      []native.Type
	Ms         []int // batch rows: 1 is decode (GEMV), 128 prefill (GEMM)
	Threads    []int
	MinTime    time.Duration // per row: the median run within this budget
	ColdBytes  int           // weights are rotated over copies totalling this, so GEMV reads DRAM, not cache
	HugePages  bool          // weights on transparent huge pages, as a loaded model's repacked weights are
	Baseline   bool          // time gorgonia.org/tensor too
	FMASeconds float64       // per peak probe (FMA, int8)
	Progress   io.Writer     // nil: silent
}

// DefaultOptions are the acceptance set: every model shape, every weight
// type, m = 1 and 128, 1 and 2 threads.
func DefaultOptions() Options {
	return Options{
		Shapes: ModelShapes, Types: []native.Type{native.F32, native.F16, native.BF16, native.Q8_0},
		Ms: []int{1, 128}, Threads: []int{1, 2}, MinTime: 300 * time.Millisecond,
		ColdBytes: 256 << 20, HugePages: true, Baseline: true, FMASeconds: 0.5,
	}
}

// Row is one kernel measurement.
type Row struct {
	Kernel     string  `json:"kernel"`
	Type       string  `json:"type"`
	Shape      Shape   `json:"shape"`
	M          int     `json:"m"`
	Threads    int     `json:"threads"`
	Seconds    float64 `json:"seconds_per_op"`
	GFLOPS     float64 `json:"gflops"`
	GBps       float64 `json:"gbps"`
	Bound      string  `json:"ceiling"` // "read_bw" for m = 1, "int8_peak" for quantized types at m > 1, "bf16_peak" for BF16 on VDPBF16PS, "fma_peak" otherwise
	PctCeiling float64 `json:"pct_of_ceiling"`
	// PctInt8Peak is set for the quantized types' GEMM rows (m > 1): GFLOP/s as
	// a percentage of the int8 multiply-accumulate peak, their kernels' own ceiling.
	PctInt8Peak float64 `json:"pct_of_int8_peak,omitempty"`
	VsGorgonia  float64 `json:"speedup_vs_gorgonia,omitempty"`
}

// Report is everything one run measured.
type Report struct {
	ISA       string     `json:"isa"`
	Binding   string     `json:"binding"`
	CPU       []string   `json:"cpu_features"`
	GoMaxProc int        `json:"gomaxprocs"`
	HugePages bool       `json:"huge_pages"`
	Ceilings  []Ceilings `json:"ceilings"`
	Baselines []Row      `json:"gorgonia"`
	Rows      []Row      `json:"rows"`
	Checks    []Check    `json:"checks"`
}

// RunKernels measures ceilings, then every (threads, shape, type, m) row.
func RunKernels(o Options) (*Report, error) {
	rep := &Report{Binding: native.Binding, CPU: native.CPUFeatures(), GoMaxProc: runtime.GOMAXPROCS(0), HugePages: o.HugePages}
	ceil := map[int]Ceilings{}
	for _, t := range o.Threads {
		if err := native.Init(t); err != nil {
			return nil, err
		}
		c, err := MeasureCeilings(t, o.ColdBytes*2, o.FMASeconds)
		if err != nil {
			return nil, err
		}
		o.progress("ceilings, %d thread(s): read %.1f GB/s, FMA peak %.1f GFLOP/s, int8 peak %.1f GOP/s, bf16 peak %.1f GFLOP/s\n",
			t, c.ReadGBps, c.FMAPeakGFLOPS, c.Int8PeakGOPS, c.BF16PeakGFLOPS)
		ceil[t] = c
		rep.Ceilings = append(rep.Ceilings, c)
	}
	rep.ISA = native.CurrentISA().String()

	gorgonia := map[[3]int]float64{}
	if o.Baseline {
		for _, s := range o.Shapes {
			for _, m := range o.Ms {
				sec, err := gorgoniaMatMul(m, s.N, s.K, o.MinTime)
				if err != nil {
					return nil, err
				}
				row := Row{Kernel: "gorgonia", Type: "f32", Shape: s, M: m, Threads: runtime.GOMAXPROCS(0), Seconds: sec}
				row.GFLOPS = flops(m, s) / sec * 1e-9
				gorgonia[[3]int{s.N, s.K, m}] = sec
				rep.Baselines = append(rep.Baselines, row)
				o.progress("gorgonia %s m=%d: %.2f GFLOP/s\n", s, m, row.GFLOPS)
			}
		}
	}

	for _, t := range o.Threads {
		if err := native.Init(t); err != nil {
			return nil, err
		}
		for _, s := range o.Shapes {
			for _, typ := range o.Types {
				if _, repacked := native.RepackSource(typ); repacked && s.N%16 != 0 {
					o.progress("skip %v at %s %dx%d: n is not a multiple of its 16-row groups\n", typ, s.Model, s.N, s.K)
					continue
				}
				if native.RowSize(typ, s.K) == 0 {
					// a K-quant's 256-element block does not divide k (SmolLM2's 576):
					// real files store such matrices in a 32-element fallback type
					o.progress("skip %v at %s %dx%d: k is not a multiple of its block of %d\n", typ, s.Model, s.N, s.K, typ.BlockSize())
					continue
				}
				w, err := newColdWeights(typ, s, o.ColdBytes, o.HugePages)
				if err != nil {
					return nil, err
				}
				for _, m := range o.Ms {
					row, err := measureMatMul(w, s, m, t, o.MinTime)
					if err != nil {
						return nil, err
					}
					c := ceil[t]
					if m == 1 {
						row.Bound, row.PctCeiling = "read_bw", 100*row.GBps/c.ReadGBps
					} else {
						row.Bound, row.PctCeiling = "fma_peak", 100*row.GFLOPS/c.FMAPeakGFLOPS
						if intProducts(typ) && c.Int8PeakGOPS > 0 {
							// int8 products are the quantized GEMMs' ceiling, not f32 FMAs
							row.PctInt8Peak = 100 * row.GFLOPS / c.Int8PeakGOPS
							row.Bound, row.PctCeiling = "int8_peak", row.PctInt8Peak
						}
						if typ == native.BF16 && bf16DotActive() && c.BF16PeakGFLOPS > 0 {
							// VDPBF16PS, probed in the same run (32 products per instruction)
							row.Bound, row.PctCeiling = "bf16_peak", 100*row.GFLOPS/c.BF16PeakGFLOPS
						}
					}
					if g, ok := gorgonia[[3]int{s.N, s.K, m}]; ok {
						row.VsGorgonia = g / row.Seconds
					}
					rep.Rows = append(rep.Rows, row)
					int8 := ""
					if row.PctInt8Peak > 0 && row.Bound != "int8_peak" {
						int8 = fmt.Sprintf(", %5.1f%% of int8_peak", row.PctInt8Peak)
					}
					o.progress("matmul %-5s %-11s m=%-3d t=%d: %8.2f GFLOP/s %7.2f GB/s %5.1f%% of %s%s\n",
						row.Type, s, m, t, row.GFLOPS, row.GBps, row.PctCeiling, row.Bound, int8)
				}
				w.release()
				runtime.GC()
			}
		}
	}
	rep.Checks = acceptanceChecks(rep)
	return rep, nil
}

func (o Options) progress(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

func flops(m int, s Shape) float64 { return 2 * float64(m) * float64(s.N) * float64(s.K) }

// coldWeights holds enough copies of one weight matrix that cycling through
// them streams from DRAM, as a forward pass does (each layer's weights are
// read once per step).
type coldWeights struct {
	typ    native.Type
	copies [][]byte
	unmaps []func() error
}

func newColdWeights(t native.Type, s Shape, coldBytes int, hugePages bool) (*coldWeights, error) {
	f := make([]float32, s.N*s.K)
	fill(f, uint32(s.N*31+s.K))
	var w []byte
	switch t {
	case native.F32:
		w = make([]byte, 4*len(f))
		copy(w, bytesOf(f))
	case native.F16, native.BF16:
		h := make([]uint16, len(f))
		conv := native.F32ToF16
		if t == native.BF16 {
			conv = native.F32ToBF16
		}
		if err := conv(f, h); err != nil {
			return nil, err
		}
		w = make([]byte, 2*len(h))
		copy(w, bytesOf(h))
	case native.Q8_0:
		w = make([]byte, native.RowSize(native.Q8_0, s.K)*s.N)
		if err := native.QuantizeQ8_0(f, w); err != nil {
			return nil, err
		}
	default: // the quantized types, quantized as kiln quantize does; repacked ones as a model load repacks them
		src, repacked := native.RepackSource(t)
		if !repacked {
			src = t
		}
		w = make([]byte, native.RowSize(src, s.K)*s.N)
		if src == native.Q8_0 {
			if err := native.QuantizeQ8_0(f, w); err != nil {
				return nil, err
			}
		} else if err := native.Quantize(src, f, w, s.N, s.K); err != nil {
			return nil, fmt.Errorf("bench: weight type %v: %w", t, err)
		}
		if repacked {
			packed := make([]byte, native.RowSize(t, s.K)*s.N)
			if err := native.Repack(src, w, s.N, s.K, packed); err != nil {
				return nil, fmt.Errorf("bench: weight type %v: %w", t, err)
			}
			w = packed
		}
	}
	cw := &coldWeights{typ: t}
	for total := 0; total == 0 || total < coldBytes; total += len(w) {
		c, unmap := w, func() error { return nil }
		if hugePages {
			var err error
			if c, unmap, err = native.MapWeights(len(w)); err != nil {
				cw.release()
				return nil, fmt.Errorf("bench: %d bytes of weights: %w", len(w), err)
			}
			copy(c, w)
		} else if total > 0 {
			c = make([]byte, len(w))
			copy(c, w)
		}
		cw.copies, cw.unmaps = append(cw.copies, c), append(cw.unmaps, unmap)
	}
	return cw, nil
}

// release unmaps the copies held outside the Go heap.
func (cw *coldWeights) release() {
	for _, unmap := range cw.unmaps {
		_ = unmap()
	}
	cw.copies, cw.unmaps = nil, nil
}

func measureMatMul(w *coldWeights, s Shape, m, threads int, minTime time.Duration) (Row, error) {
	x := make([]float32, m*s.K)
	y := make([]float32, m*s.N)
	fill(x, 7)
	i := 0
	run := func() error {
		i++
		return native.MatMul(w.typ, w.copies[i%len(w.copies)], x, y, m, s.N, s.K)
	}
	if err := run(); err != nil {
		return Row{}, err
	}
	sec, err := timeIt(run, minTime)
	if err != nil {
		return Row{}, err
	}
	bytes := float64(len(w.copies[0])) + 4*float64(m*s.K+m*s.N)
	return Row{
		Kernel: "matmul", Type: w.typ.String(), Shape: s, M: m, Threads: threads, Seconds: sec,
		GFLOPS: flops(m, s) / sec * 1e-9, GBps: bytes / sec * 1e-9,
	}, nil
}

// bf16DotActive reports whether the active kernel table runs BF16 weights
// on VDPBF16PS, whose ceiling is the probed bf16 peak (bf16_peak).
func bf16DotActive() bool {
	for _, k := range native.Kernels() {
		if k.Name == "gemm bf16" {
			return strings.HasPrefix(k.Variant, "avx512-bf16")
		}
	}
	return false
}

// intProducts reports whether typ's kernels multiply int8 quants (every
// quantized type: X is quantized to Q8_0 or Q8_K), not floats.
func intProducts(typ native.Type) bool {
	return typ != native.F32 && typ != native.F16 && typ != native.BF16
}
