package native

// ReadBandwidth measures memory read bandwidth in GB/s over a buffer of
// `bytes` read by `threads` pool threads, best of reps passes.
func ReadBandwidth(bytes, threads, reps int) (float64, error) {
	if err := load(); err != nil {
		return 0, err
	}
	var g float64
	return g, check("probe_read_bandwidth", bProbeBandwidth(uint64(bytes), int32(threads), int32(reps), &g))
}

// FMAPeak measures peak f32 FMA GFLOP/s of the current variant on `threads`
// pool threads for about `seconds`.
func FMAPeak(threads int, seconds float64) (float64, error) {
	if err := load(); err != nil {
		return 0, err
	}
	var g float64
	return g, check("probe_fma_peak", bProbeFMA(int32(threads), seconds, &g))
}

// Int8Peak measures peak int8 multiply-accumulate GOP/s (a multiply-add is
// two ops, as an FMA is two flops) of the instructions the current variant's
// Q8_0 GEMM spends per product, on `threads` pool threads for about `seconds`.
func Int8Peak(threads int, seconds float64) (float64, error) {
	if err := load(); err != nil {
		return 0, err
	}
	var g float64
	return g, check("probe_int8_peak", bProbeInt8(int32(threads), seconds, &g))
}

// BF16Peak measures peak GFLOP/s (a multiply-add is two flops) of the
// instruction the current variant's BF16-weight kernels spend per product:
// VDPBF16PS where they run on AVX512_BF16, else the f32 FMA, on `threads`
// pool threads for about `seconds`.
func BF16Peak(threads int, seconds float64) (float64, error) {
	if err := load(); err != nil {
		return 0, err
	}
	var g float64
	return g, check("probe_bf16_peak", bProbeBF16(int32(threads), seconds, &g))
}
