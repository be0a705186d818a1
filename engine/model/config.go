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
	Arch      string // general.architecture (see architectures())
	NEmbd     int    // embedding_length: width of the residual stream
	NLayer    int    // block_count
	NHead     int    // attention.head_count: query heads
	NHeadKV   int    // attention.head_count_kv (GQA/MQA); defaults to NHead
	HeadDim   int    // attention.key_length, else NEmbd / NHead
	NFF       int    // feed_forward_length: SwiGLU hidden width
	NCtx      int    // context_length the model was trained with
	NVocab    int    // rows of token_embd.weight
	RMSEps    float32
	RoPE      RoPEConfig
	HasBiases bool // the architecture requires Q/K/V biases (qwen2); llama files may carry them too

	// The per-architecture hooks of the one forward pass (zero values: llama).
	Act          Activation // the FFN's gated activation
	EmbedScale   float32    // multiplies the token embeddings (gemma: sqrt(NEmbd)); 0 = none
	AttnScale    float32    // attention score scale; 0 = 1/sqrt(HeadDim)
	AttnSoftcap  float32    // gemma2: scores become c*tanh(s/c); 0 = none
	FinalSoftcap float32    // gemma2: logits become c*tanh(l/c); 0 = none
	// NExpert > 0 makes every FFN a mixture of experts: a router picks
	// NExpertUsed of NExpert experts per token (softmax, top-k, weights
	// renormalised to sum 1, as Mixtral and Qwen3-MoE do), each an
	// NFFExp-wide SwiGLU. expert_count, expert_used_count,
	// expert_feed_forward_length.
	NExpert, NExpertUsed, NFFExp int
	// ExpertRaw keeps the chosen experts' softmax probabilities as they are
	// instead of renormalising them to sum 1 (qwen2moe).
	ExpertRaw bool
	// NFFShexp is the shared expert's width (qwen2moe), 0 without one.
	NFFShexp int
	// Layers holds what differs between blocks: sliding windows and their
	// RoPE (gemma2/3 interleave local and global layers). One per NLayer.
	Layers []LayerConfig
}

// Activation is the gated FFN's non-linearity.
type Activation int

const (
	// SiLU is SwiGLU: silu(gate) * up (llama, qwen, phi3).
	SiLU Activation = iota
	// GELUTanh is GeGLU with tanh-approximated GELU: gelu(gate) * up (gemma).
	GELUTanh
)

// LayerConfig is one block's attention variant.
type LayerConfig struct {
	// Window is the sliding window: a token at position p attends to
	// positions p-Window+1..p. 0 = the whole context (a global layer).
	Window    int
	RoPEBase  float32 // this layer's RoPE frequency base
	RoPEScale float32 // and frequency scale
}

// KVWindow is how far back any layer reads: when every layer has a sliding
// window, the largest of them (a query at position q reads q-KVWindow()+1..q
// in every layer, so older K/V may be released); 0 when some layer is
// global (gemma2/gemma3 interleave global layers, which read everything).
func (c *Config) KVWindow() int {
	w := 0
	for _, l := range c.Layers {
		if l.Window <= 0 {
			return 0
		}
		w = max(w, l.Window)
	}
	return w
}

// RoPEConfig is the rotary embedding of a model; FreqFactors (Llama 3
// rope_freqs) live with the weights.
type RoPEConfig struct {
	Dims      int             // rope.dimension_count (default HeadDim)
	Mode      native.RoPEMode // llama: normal (adjacent pairs); qwen2: NeoX (halves)
	FreqBase  float32         // rope.freq_base (default 10000)
	FreqScale float32         // 1/rope.scaling.factor for linear scaling, else 1
	// AttnFactor multiplies the rotated Q and K (phi3 LongRoPE's
	// rope.scaling.attn_factor, ggml's mscale); 0 or 1 = none.
	AttnFactor float32
	// OrigCtx is rope.scaling.original_context_length (LongRoPE picks its
	// long factors for contexts beyond it); 0 = unknown.
	OrigCtx int
}

// dims names the tensor table's dimensions (the shape tags of weights.go);
// "vocab" is learned from token_embd.
func (c *Config) dims() map[string]int {
	return map[string]int{
		"embd":       c.NEmbd,
		"q":          c.NHead * c.HeadDim,
		"kv":         c.NHeadKV * c.HeadDim,
		"qkv":        (c.NHead + 2*c.NHeadKV) * c.HeadDim,
		"head":       c.HeadDim,
		"ff":         c.NFF,
		"ff2":        2 * c.NFF,
		"expert":     c.NExpert,
		"ffexp":      c.NFFExp,
		"ffshexp":    c.NFFShexp,
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
	if c.NHead%c.NHeadKV != 0 {
		return Config{}, fmt.Errorf("head_count %d is not a multiple of head_count_kv %d", c.NHead, c.NHeadKV)
	}
	if err := readHeadDim(f, &c); err != nil {
		return Config{}, err
	}
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
	if err := readExperts(f, &c); err != nil {
		return Config{}, err
	}
	c.Layers = make([]LayerConfig, c.NLayer)
	for i := range c.Layers {
		c.Layers[i] = LayerConfig{RoPEBase: c.RoPE.FreqBase, RoPEScale: c.RoPE.FreqScale}
	}
	if a.configure != nil {
		if err := a.configure(f, &c); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// readExperts reads the mixture-of-experts hyperparameters, if any.
func readExperts(f *gguf.File, c *Config) error {
	n, ok := f.ArchUint32("expert_count")
	if !ok || n == 0 {
		return nil
	}
	used, ok := f.ArchUint32("expert_used_count")
	if !ok || used == 0 || used > n || n > 1<<12 {
		return fmt.Errorf("%s = %d with %s = %d: want 1 <= used <= count <= 4096",
			f.ArchKey("expert_count"), n, f.ArchKey("expert_used_count"), used)
	}
	c.NExpert, c.NExpertUsed = int(n), int(used)
	c.NFFExp = c.NFF / c.NExpertUsed // llama.cpp's default when the key is absent
	if v, ok := f.ArchUint32("expert_feed_forward_length"); ok && v > 0 {
		c.NFFExp = int(v)
	}
	if c.NFFExp == 0 {
		return fmt.Errorf("expert feed-forward length is zero")
	}
	return nil
}

// readHeadDim sets c.HeadDim from attention.key_length (qwen3 and gemma
// heads are not NEmbd/NHead wide), else NEmbd/NHead. K and V heads must be
// equally wide: the paged cache stores both with one head_dim.
func readHeadDim(f *gguf.File, c *Config) error {
	k, hasK := f.ArchUint32("attention.key_length")
	v, hasV := f.ArchUint32("attention.value_length")
	switch {
	case hasK && (k == 0 || k > 1<<16):
		return fmt.Errorf("%s = %d: want a width in [1, 65536]", f.ArchKey("attention.key_length"), k)
	case hasV && (!hasK || v != k):
		return fmt.Errorf("%s = %d differs from the key width: unsupported", f.ArchKey("attention.value_length"), v)
	case hasK:
		c.HeadDim = int(k)
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("embedding_length %d is not a multiple of head_count %d", c.NEmbd, c.NHead)
	default:
		c.HeadDim = c.NEmbd / c.NHead
	}
	return nil
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
