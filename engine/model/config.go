package model

import (
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// Config holds a model's hyperparameters, read once at load so the hot path
// never consults metadata.
type Config struct {
	Arch      string // general.architecture: "llama" or "qwen2"
	NEmbd     int    // embedding_length: width of the residual stream
	NLayer    int    // block_count
	NHead     int    // attention.head_count: query heads
	NHeadKV   int    // attention.head_count_kv (GQA/MQA); defaults to NHead
	HeadDim   int    // NEmbd / NHead
	NFF       int    // feed_forward_length: SwiGLU hidden width
	NCtx      int    // context_length the model was trained with
	NVocab    int    // rows of token_embd.weight
	RMSEps    float32
	RoPE      RoPEConfig
	HasBiases bool // the architecture requires Q/K/V biases (qwen2); llama files may carry them too
}

// RoPEConfig is the rotary embedding of a model; FreqFactors (Llama 3
// rope_freqs) live with the weights.
type RoPEConfig struct {
	Dims      int             // rope.dimension_count (default HeadDim)
	Mode      native.RoPEMode // llama: normal (adjacent pairs); qwen2: NeoX (halves)
	FreqBase  float32         // rope.freq_base (default 10000)
	FreqScale float32         // 1/rope.scaling.factor for linear scaling, else 1
}

// dims names the tensor table's dimensions (the shape tags of weights.go);
// "vocab" is learned from token_embd.
func (c *Config) dims() map[string]int {
	return map[string]int{
		"embd":       c.NEmbd,
		"q":          c.NHead * c.HeadDim,
		"kv":         c.NHeadKV * c.HeadDim,
		"ff":         c.NFF,
		"rope_pairs": c.RoPE.Dims / 2,
	}
}

// readConfig reads and validates the hyperparameters of f, the shared ones
// and then those of architecture a.
func readConfig(f *gguf.File, a archSpec) (Config, error) {
	c := Config{Arch: f.Architecture()}
	need := func(suffix string, dst *int) error {
		v, ok := f.ArchUint32(suffix)
		if !ok || v == 0 {
			return fmt.Errorf("missing or zero %s", f.ArchKey(suffix))
		}
		*dst = int(v)
		return nil
	}
	for _, r := range []struct {
		key string
		dst *int
	}{
		{"embedding_length", &c.NEmbd},
		{"block_count", &c.NLayer},
		{"attention.head_count", &c.NHead},
		{"feed_forward_length", &c.NFF},
		{"context_length", &c.NCtx},
	} {
		if err := need(r.key, r.dst); err != nil {
			return Config{}, err
		}
	}
	c.NHeadKV = c.NHead
	if v, ok := f.ArchUint32("attention.head_count_kv"); ok && v > 0 {
		c.NHeadKV = int(v)
	}
	if c.NEmbd%c.NHead != 0 {
		return Config{}, fmt.Errorf("embedding_length %d is not a multiple of head_count %d", c.NEmbd, c.NHead)
	}
	if c.NHead%c.NHeadKV != 0 {
		return Config{}, fmt.Errorf("head_count %d is not a multiple of head_count_kv %d", c.NHead, c.NHeadKV)
	}
	c.HeadDim = c.NEmbd / c.NHead
	eps, ok := f.ArchFloat32("attention.layer_norm_rms_epsilon")
	if !ok || !(eps > 0) {
		return Config{}, fmt.Errorf("missing or invalid %s", f.ArchKey("attention.layer_norm_rms_epsilon"))
	}
	c.RMSEps = eps
	c.RoPE = RoPEConfig{Dims: c.HeadDim, Mode: a.ropeMode, FreqBase: 10000, FreqScale: 1}
	if v, ok := f.ArchUint32("rope.dimension_count"); ok {
		if v == 0 || int(v) > c.HeadDim || v%2 != 0 {
			return Config{}, fmt.Errorf("%s = %d: want an even number in [2, %d]", f.ArchKey("rope.dimension_count"), v, c.HeadDim)
		}
		c.RoPE.Dims = int(v)
	} else if c.HeadDim%2 != 0 {
		return Config{}, fmt.Errorf("head dimension %d (%s / %s) is odd and %s is absent: RoPE rotates pairs of dimensions",
			c.HeadDim, f.ArchKey("embedding_length"), f.ArchKey("attention.head_count"), f.ArchKey("rope.dimension_count"))
	}
	if v, ok := f.ArchFloat32("rope.freq_base"); ok {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return Config{}, fmt.Errorf("%s = %v: want a positive number", f.ArchKey("rope.freq_base"), v)
		}
		c.RoPE.FreqBase = v
	}
	scale, err := ropeScale(f)
	if err != nil {
		return Config{}, err
	}
	c.RoPE.FreqScale = scale
	if a.configure != nil {
		if err := a.configure(f, &c); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// ropeScale reads rope.scaling.{type,factor} (or the older
// rope.scale_linear). Only linear scaling is a plain change of frequency;
// YaRN and the like need kernels we do not have, so they are refused rather
// than silently computed wrong. Llama 3 scaling arrives as rope_freqs.weight.
func ropeScale(f *gguf.File) (float32, error) {
	factor := float32(0)
	if v, ok := f.ArchFloat32("rope.scale_linear"); ok {
		factor = v
	}
	typ, hasType := f.String(f.ArchKey("rope.scaling.type"))
	if v, ok := f.ArchFloat32("rope.scaling.factor"); ok {
		factor = v
	}
	if hasType && typ != "none" && typ != "linear" {
		return 0, fmt.Errorf("unsupported %s %q (want none or linear)", f.ArchKey("rope.scaling.type"), typ)
	}
	if typ == "none" || factor == 0 || factor == 1 {
		return 1, nil
	}
	if !(factor > 0) || math.IsInf(float64(factor), 0) {
		return 0, fmt.Errorf("invalid rope scaling factor %v", factor)
	}
	return 1 / factor, nil
}
