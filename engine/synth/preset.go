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
	Arch       string // "llama" or "qwen2"
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
		// tiny-256: the smallest shape whose every matrix row is a whole
		// number of 256-element super-blocks, so quantizing it to a K-quant
		// preset keeps its K-quants (no 32-element fallbacks).
		{Name: "tiny-256", Arch: "llama", NEmbd: 256, NLayer: 2, NHead: 4, NHeadKV: 2, NFF: 256, NVocab: 512, NCtx: 256, RopeBase: 10000, RMSEps: 1e-5, Tied: true},
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
func (p Preset) HeadDim() int { return p.NEmbd / p.NHead }
