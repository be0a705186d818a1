package synth

import "math"

// archMeta is the metadata the newer architectures add to the llama
// family's: explicit head widths, sliding windows, soft-capping, LongRoPE.
func archMeta(p Preset) []entry {
	a := p.Arch
	var out []entry
	if p.HeadDimOverride > 0 {
		out = append(out, kv(a+".attention.key_length", uint32(p.HeadDimOverride)),
			kv(a+".attention.value_length", uint32(p.HeadDimOverride)))
	}
	if p.SlidingWindow > 0 {
		out = append(out, kv(a+".attention.sliding_window", uint32(p.SlidingWindow)),
			kv(a+".attention.sliding_window_pattern", uint32(p.SWAPattern)))
	}
	if p.RopeBaseSWA > 0 {
		out = append(out, kv(a+".rope.freq_base_swa", p.RopeBaseSWA))
	}
	if p.AttnSoftcap > 0 {
		out = append(out, kv(a+".attn_logit_softcapping", p.AttnSoftcap))
	}
	if p.FinalSoftcap > 0 {
		out = append(out, kv(a+".final_logit_softcapping", p.FinalSoftcap))
	}
	if p.LongRoPEOrigCtx > 0 {
		out = append(out, kv(a+".rope.scaling.attn_factor", longRoPEAttnFactor(p.NCtx, p.LongRoPEOrigCtx)),
			kv(a+".rope.scaling.original_context_length", uint32(p.LongRoPEOrigCtx)))
	}
	if p.NExpert > 0 {
		out = append(out, kv(a+".expert_count", uint32(p.NExpert)), kv(a+".expert_used_count", uint32(p.NExpertUsed)),
			kv(a+".expert_feed_forward_length", uint32(p.NFFExp)))
	}
	if p.NFFShexp > 0 {
		out = append(out, kv(a+".expert_shared_feed_forward_length", uint32(p.NFFShexp)))
	}
	return out
}

// routerStd is the spread of the MoE router's weights: wide enough that a
// token's top experts are well separated, so the choice is not decided by
// rounding noise.
const routerStd = 0.3

// longRoPEAttnFactor is Phi-3's LongRoPE attention factor, as llama.cpp's
// converter computes it: sqrt(1 + ln(ctx/orig) / ln(orig)).
func longRoPEAttnFactor(ctx, orig int) float32 {
	scale := float64(ctx) / float64(orig)
	if scale <= 1 {
		return 1
	}
	return float32(math.Sqrt(1 + math.Log(scale)/math.Log(float64(orig))))
}

// longRoPEFactors are LongRoPE-like per-pair frequency divisors: the short
// ones near 1, the long ones rising from 1 to 8 across the pairs, as the
// real Phi-3.5 factors roughly do.
func longRoPEFactors(pairs int) (long, short []float32) {
	long, short = make([]float32, pairs), make([]float32, pairs)
	for i := range pairs {
		t := float64(i) / float64(max(1, pairs-1))
		short[i] = float32(1 + 0.05*t)
		long[i] = float32(1 + 7*t*t)
	}
	return long, short
}

// scaledFill draws N(0, std²) values.
func scaledFill(std float32) func(*rng, []float32, int) {
	return func(r *rng, row []float32, _ int) {
		for i := range row {
			row[i] = std * r.normal()
		}
	}
}

// qkvFill fills a fused attn_qkv: its Q and K rows with the preset's QKStd
// (when set), its V rows with the usual std.
func qkvFill(p Preset, q, kvDim int) func(*rng, []float32, int) {
	return func(r *rng, row []float32, ix int) {
		if p.QKStd > 0 && ix < q+kvDim {
			scaledFill(p.QKStd)(r, row, ix)
			return
		}
		normalFill(r, row, ix)
	}
}
