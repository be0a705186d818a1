package synth

import (
	"fmt"
	"slices"
	"strings"
)

// Preset is the shape of a model: the hyperparameters written as
// {arch}.* metadata and used to size every tensor.
type Preset struct {
	Name       string
	Arch       string // llama, qwen2, qwen3, gemma2, gemma3 or phi3
	NEmbd      int
	NLayer     int
	NHead      int
	NHeadKV    int
	NFF        int
	NVocab     int
	NCtx       int
	RopeBase   float32
	RMSEps     float32
	Tied       bool // output reuses token_embd (no output.weight)
	QKVBias    bool // attn_{q,k,v}.bias (qwen2)
	Llama3RoPE bool // Llama 3 rope scaling, written as rope_freqs.weight

	// HeadDimOverride is attention.key_length when heads are not
	// NEmbd/NHead wide (qwen3, gemma3); 0 means NEmbd/NHead.
	HeadDimOverride int
	// RopeDims is rope.dimension_count when only part of a head rotates
	// (phi4-mini); 0 means the whole head.
	RopeDims int
	// QKStd is the standard deviation of attn_q/attn_k (0: the usual
	// 0.02); tiny test models use more so attention is far from uniform.
	QKStd float32
	// QKNorm adds the per-head attn_q_norm/attn_k_norm (qwen3, gemma3).
	QKNorm bool
	// PostNorms adds gemma's post_attention_norm and post_ffw_norm.
	PostNorms bool
	// SlidingWindow, SWAPattern and RopeBaseSWA describe interleaved
	// sliding-window layers (gemma2/3: every SWAPattern-th layer is
	// global, the others see SlidingWindow tokens, with RopeBaseSWA).
	SlidingWindow, SWAPattern int
	RopeBaseSWA               float32
	// AttnSoftcap and FinalSoftcap are gemma2's logit soft-capping.
	AttnSoftcap, FinalSoftcap float32
	// Fused writes attn_qkv and a [2*NFF]-row ffn_up (gate then up), as
	// phi3 files do.
	Fused bool
	// LongRoPEOrigCtx > 0 writes phi3's LongRoPE: rope_factors_long and
	// rope_factors_short and the attention factor for NCtx/LongRoPEOrigCtx.
	LongRoPEOrigCtx int
	// NExpert > 0 makes every FFN a mixture of NExpert experts of width
	// NFFExp, NExpertUsed per token (qwen3moe; a llama preset with experts
	// is Mixtral-style).
	NExpert, NExpertUsed, NFFExp int
	// NFFShexp > 0 adds qwen2moe's sigmoid-gated shared expert of that width.
	NFFShexp int
}

// presets are the real shapes, from each model's Hugging Face config.json
// (Qwen2.5-0.5B ties its embeddings like the others). tiny-qwen2 keeps an
// untied output matrix so that path and the Q/K/V biases stay exercised.
func presets() []Preset {
	return []Preset{
		{Name: "smollm2-135m", Arch: "llama", NEmbd: 576, NLayer: 30, NHead: 9, NHeadKV: 3, NFF: 1536, NVocab: 49152, NCtx: 8192, RopeBase: 100000, RMSEps: 1e-5, Tied: true},
		{Name: "smollm2-360m", Arch: "llama", NEmbd: 960, NLayer: 32, NHead: 15, NHeadKV: 5, NFF: 2560, NVocab: 49152, NCtx: 8192, RopeBase: 100000, RMSEps: 1e-5, Tied: true},
		{Name: "llama3.2-1b", Arch: "llama", NEmbd: 2048, NLayer: 16, NHead: 32, NHeadKV: 8, NFF: 8192, NVocab: 128256, NCtx: 131072, RopeBase: 500000, RMSEps: 1e-5, Tied: true, Llama3RoPE: true},
		{Name: "qwen2.5-0.5b", Arch: "qwen2", NEmbd: 896, NLayer: 24, NHead: 14, NHeadKV: 2, NFF: 4864, NVocab: 151936, NCtx: 32768, RopeBase: 1000000, RMSEps: 1e-6, QKVBias: true, Tied: true},
		// tiny is for tests: every feature of the real presets at a size
		// that synthesizes in milliseconds.
		{Name: "tiny", Arch: "llama", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 10000, RMSEps: 1e-5, Tied: true},
		{Name: "tiny-qwen2", Arch: "qwen2", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-6, QKVBias: true},
		// Newer architectures at their real shapes (Hugging Face config.json).
		{Name: "qwen3-0.6b", Arch: "qwen3", NEmbd: 1024, NLayer: 28, NHead: 16, NHeadKV: 8, HeadDimOverride: 128, NFF: 3072, NVocab: 151936, NCtx: 40960, RopeBase: 1000000, RMSEps: 1e-6, Tied: true, QKNorm: true},
		{Name: "gemma3-1b", Arch: "gemma3", NEmbd: 1152, NLayer: 26, NHead: 4, NHeadKV: 1, HeadDimOverride: 256, NFF: 6912, NVocab: 262144, NCtx: 32768, RopeBase: 1000000, RMSEps: 1e-6, Tied: true,
			QKNorm: true, PostNorms: true, SlidingWindow: 512, SWAPattern: 6, RopeBaseSWA: 10000},
		{Name: "phi4-mini", Arch: "phi3", NEmbd: 3072, NLayer: 32, NHead: 24, NHeadKV: 8, NFF: 8192, NVocab: 200064, NCtx: 131072, RopeBase: 10000, RMSEps: 1e-5, Tied: true,
			RopeDims: 96, Fused: true, LongRoPEOrigCtx: 4096},
		{Name: "qwen3-30b-a3b", Arch: "qwen3moe", NEmbd: 2048, NLayer: 48, NHead: 32, NHeadKV: 4, HeadDimOverride: 128, NFF: 6144, NVocab: 151936, NCtx: 40960, RopeBase: 1000000, RMSEps: 1e-6,
			QKNorm: true, NExpert: 128, NExpertUsed: 8, NFFExp: 768},
		// tiny-* of the newer architectures are the test models of
		// engine/model/testdata/arch: every feature at a tiny size, windows
		// short enough for short prompts to cross them, caps small enough
		// to bend the logits.
		{Name: "tiny-qwen3", Arch: "qwen3", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, HeadDimOverride: 32, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-6, Tied: true, QKStd: 0.15, QKNorm: true},
		{Name: "tiny-gemma2", Arch: "gemma2", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 10000, RMSEps: 1e-6, Tied: true, QKStd: 0.15,
			PostNorms: true, SlidingWindow: 8, SWAPattern: 2, AttnSoftcap: 2, FinalSoftcap: 0.5},
		{Name: "tiny-gemma3", Arch: "gemma3", NEmbd: 64, NLayer: 3, NHead: 4, NHeadKV: 1, HeadDimOverride: 32, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-6, Tied: true, QKStd: 0.15,
			QKNorm: true, PostNorms: true, SlidingWindow: 8, SWAPattern: 3, RopeBaseSWA: 10000},
		{Name: "tiny-phi3", Arch: "phi3", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 10000, RMSEps: 1e-5, QKStd: 0.15,
			RopeDims: 12, Fused: true, LongRoPEOrigCtx: 64},
		{Name: "tiny-qwen3moe", Arch: "qwen3moe", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, HeadDimOverride: 32, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-6, QKStd: 0.15,
			QKNorm: true, NExpert: 8, NExpertUsed: 2, NFFExp: 32},
		{Name: "tiny-qwen2moe", Arch: "qwen2moe", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 128, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-6, QKStd: 0.15,
			QKVBias: true, NExpert: 6, NExpertUsed: 2, NFFExp: 32, NFFShexp: 48},
		{Name: "tiny-mixtral", Arch: "llama", NEmbd: 64, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 48, NVocab: 320, NCtx: 256, RopeBase: 1000000, RMSEps: 1e-5, QKStd: 0.15,
			NExpert: 4, NExpertUsed: 2, NFFExp: 48},
	}
}

// PresetNames lists the known presets, for help text and errors.
func PresetNames() []string {
	var names []string
	for _, p := range presets() {
		names = append(names, p.Name)
	}
	return names
}

// LookupPreset returns the preset called name.
func LookupPreset(name string) (Preset, error) {
	i := slices.IndexFunc(presets(), func(p Preset) bool { return p.Name == name })
	if i < 0 {
		return Preset{}, fmt.Errorf("synth: unknown preset %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
	}
	return presets()[i], nil
}

// HeadDim is the width of one attention head.
func (p Preset) HeadDim() int {
	if p.HeadDimOverride > 0 {
		return p.HeadDimOverride
	}
	return p.NEmbd / p.NHead
}

// RotaryDims is how many dimensions of a head RoPE rotates.
func (p Preset) RotaryDims() int {
	if p.RopeDims > 0 {
		return p.RopeDims
	}
	return p.HeadDim()
}
