package model

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// archSpec is one supported architecture: what it adds to the llama
// family's shared tensor table (weights.go) and hyperparameters
// (readConfig). Everything an architecture changes in the forward pass is
// a Config field its configure sets (activation, scales, soft-caps, per-layer
// windows and RoPE) or an optional tensor it requires (biases, Q/K norms,
// post-norms): one forward pass with hooks, not a copy per model.
type archSpec struct {
	// ropeMode is how RoPE pairs the dimensions of a head.
	ropeMode native.RoPEMode
	// require names tensors the table marks optional (by their table name,
	// "blk.%d." included) that this architecture must have.
	require []string
	// allow names ",arch" tensors of the table this architecture may have
	// without requiring them.
	allow []string
	// fused: the file stores attn_qkv (Q, K, V rows stacked) and a
	// [2*ff]-row ffn_up (gate rows, then up rows) instead of attn_q/k/v and
	// ffn_gate (phi3). The binder splits them into row views, no copy.
	fused bool
	// configure reads what the architecture adds to the shared
	// hyperparameters (nil: nothing).
	configure func(f *gguf.File, c *Config) error
}

// architectures are the supported architectures by general.architecture.
func architectures() map[string]archSpec {
	qkNorms := []string{"blk.%d.attn_q_norm.weight", "blk.%d.attn_k_norm.weight"}
	postNorms := []string{"blk.%d.post_attention_norm.weight", "blk.%d.post_ffw_norm.weight"}
	return map[string]archSpec{
		"llama": {ropeMode: native.RoPENormal, configure: configureLlama},
		"qwen2": {
			ropeMode: native.RoPENeoX,
			require:  []string{"blk.%d.attn_q.bias", "blk.%d.attn_k.bias", "blk.%d.attn_v.bias"},
			configure: func(_ *gguf.File, c *Config) error {
				c.HasBiases = true
				return nil
			},
		},
		"qwen3": {ropeMode: native.RoPENeoX, require: qkNorms},
		"qwen3moe": {ropeMode: native.RoPENeoX, require: qkNorms, configure: func(f *gguf.File, c *Config) error {
			if c.NExpert == 0 {
				return fmt.Errorf("missing %s", f.ArchKey("expert_count"))
			}
			return nil
		}},
		"qwen2moe": {
			ropeMode: native.RoPENeoX,
			require: []string{"blk.%d.attn_q.bias", "blk.%d.attn_k.bias", "blk.%d.attn_v.bias", "blk.%d.ffn_gate_inp_shexp.weight",
				"blk.%d.ffn_gate_shexp.weight", "blk.%d.ffn_up_shexp.weight", "blk.%d.ffn_down_shexp.weight"},
			configure: configureQwen2MoE,
		},
		"gemma2": {ropeMode: native.RoPENeoX, require: postNorms, configure: configureGemma2},
		"gemma3": {ropeMode: native.RoPENeoX, require: slices.Concat(qkNorms, postNorms), configure: configureGemma3},
		"phi3": {ropeMode: native.RoPENeoX, fused: true, configure: configurePhi3,
			allow: []string{"rope_factors_long.weight", "rope_factors_short.weight"}},
	}
}

// configureQwen2MoE: qwen2's biases, experts whose weights are the raw
// softmax probabilities, and a sigmoid-gated shared expert
// (expert_shared_feed_forward_length, default feed_forward_length).
func configureQwen2MoE(f *gguf.File, c *Config) error {
	if c.NExpert == 0 {
		return fmt.Errorf("missing %s", f.ArchKey("expert_count"))
	}
	c.HasBiases, c.ExpertRaw, c.NFFShexp = true, true, c.NFF
	if v, ok := f.ArchUint32("expert_shared_feed_forward_length"); ok && v > 0 {
		c.NFFShexp = int(v)
	}
	return nil
}

// configureLlama: llama files with experts (Mixtral) have experts as wide
// as feed_forward_length (llama.cpp ignores expert_feed_forward_length
// there); a sliding window (Mistral 7B v0.1) applies to every layer.
func configureLlama(f *gguf.File, c *Config) error {
	if c.NExpert > 0 {
		c.NFFExp = c.NFF
	}
	w, ok := f.ArchUint32("attention.sliding_window")
	if !ok || w == 0 || int(w) >= c.NCtx {
		return nil
	}
	for i := range c.Layers {
		c.Layers[i].Window = int(w)
	}
	return nil
}

// gemmaCommon is what gemma2 and gemma3 share: GeGLU, embeddings scaled by
// sqrt(n_embd), and the attention scale, 1/sqrt(head_dim) except for the
// 27B models (46 and 62 layers), which use 1/sqrt(n_embd/n_head) as
// gemma_pytorch (and llama.cpp) do. Norm weights need no +1 here: GGUF
// converters store gemma's (1 + w) already added.
func gemmaCommon(c *Config, is27B bool) {
	c.Act = GELUTanh
	c.EmbedScale = float32(math.Sqrt(float64(c.NEmbd)))
	if is27B {
		c.AttnScale = float32(1 / math.Sqrt(float64(c.NEmbd/c.NHead)))
	}
}

// swaLayers marks the sliding-window layers: of every `period` layers the
// last is global (gemma2: 2, gemma3: 6), unless the file lists them as a
// bool array under attention.sliding_window_pattern.
func swaLayers(f *gguf.File, c *Config, window int, period uint32, baseSWA float32) error {
	key := f.ArchKey("attention.sliding_window_pattern")
	is := make([]bool, c.NLayer)
	v, ok := f.Value(key)
	if arr, isArr := v.Data.([]bool); ok && isArr {
		if len(arr) != c.NLayer {
			return fmt.Errorf("%s has %d entries for %d layers", key, len(arr), c.NLayer)
		}
		copy(is, arr)
	} else {
		if p, ok := f.Uint32(key); ok {
			period = p
		}
		for i := range is {
			is[i] = period == 0 || uint32(i)%period < period-1
		}
	}
	for i, swa := range is {
		if swa {
			c.Layers[i] = LayerConfig{Window: window, RoPEBase: baseSWA, RoPEScale: 1}
		}
	}
	return nil
}

// positive reads an optional positive float key (def when absent).
func positive(f *gguf.File, suffix string, def float32) (float32, error) {
	v, ok := f.ArchFloat32(suffix)
	if !ok {
		return def, nil
	}
	if !(v > 0) || math.IsInf(float64(v), 0) {
		return 0, fmt.Errorf("%s = %v: want a positive number", f.ArchKey(suffix), v)
	}
	return v, nil
}

func configureGemma2(f *gguf.File, c *Config) error {
	gemmaCommon(c, c.NLayer == 46)
	var err error
	if c.AttnSoftcap, err = positive(f, "attn_logit_softcapping", 50); err != nil {
		return err
	}
	if c.FinalSoftcap, err = positive(f, "final_logit_softcapping", 30); err != nil {
		return err
	}
	window := uint32(4096)
	if w, ok := f.ArchUint32("attention.sliding_window"); ok {
		window = w
	}
	base, err := positive(f, "rope.freq_base_swa", c.RoPE.FreqBase)
	if err != nil {
		return err
	}
	return swaLayers(f, c, int(window), 2, base)
}

func configureGemma3(f *gguf.File, c *Config) error {
	gemmaCommon(c, c.NLayer == 62)
	var err error
	if c.FinalSoftcap, err = positive(f, "final_logit_softcapping", 0); err != nil {
		return err
	}
	w, ok := f.ArchUint32("attention.sliding_window")
	if !ok || w == 0 {
		return nil // every layer global
	}
	base, err := positive(f, "rope.freq_base_swa", 10000)
	if err != nil {
		return err
	}
	return swaLayers(f, c, int(w), 6, base)
}

// configurePhi3 reads LongRoPE's attention factor. Its frequency factors
// (rope_factors_long/short) are tensors, chosen at bind time. Phi-3's
// sliding_window is ignored, as llama.cpp does: the checkpoints are
// evaluated without it.
func configurePhi3(f *gguf.File, c *Config) error {
	af, err := positive(f, "rope.scaling.attn_factor", 1)
	if err != nil {
		return err
	}
	c.RoPE.AttnFactor = af
	if v, ok := f.ArchUint32("rope.scaling.original_context_length"); ok {
		c.RoPE.OrigCtx = int(v)
	}
	return nil
}

// lookupArch returns the spec of arch or an error listing the supported ones.
func lookupArch(arch string) (archSpec, error) {
	all := architectures()
	if a, ok := all[arch]; ok {
		return a, nil
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	slices.Sort(names)
	return archSpec{}, fmt.Errorf("unsupported architecture %q (want one of %s)", arch, strings.Join(names, ", "))
}
