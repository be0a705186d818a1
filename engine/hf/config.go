package hf

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// config is the part of a Hugging Face config.json the supported
// architectures use.
type config struct {
	Architectures []string `json:"architectures"`
	Hidden        int      `json:"hidden_size"`
	Layers        int      `json:"num_hidden_layers"`
	Heads         int      `json:"num_attention_heads"`
	KVHeads       int      `json:"num_key_value_heads"`
	HeadDim       int      `json:"head_dim"`
	FF            int      `json:"intermediate_size"`
	Vocab         int      `json:"vocab_size"`
	MaxPos        int      `json:"max_position_embeddings"`
	OrigMaxPos    int      `json:"original_max_position_embeddings"`
	RMSEps        float64  `json:"rms_norm_eps"`
	RopeTheta     float64  `json:"rope_theta"`
	RopeLocalBase float64  `json:"rope_local_base_freq"`
	PartialRotary float64  `json:"partial_rotary_factor"`
	Tied          *bool    `json:"tie_word_embeddings"`
	SlidingWindow *int     `json:"sliding_window"`
	SWAPattern    int      `json:"sliding_window_pattern"`
	LayerTypes    []string `json:"layer_types"`
	AttnSoftcap   *float64 `json:"attn_logit_softcapping"`
	FinalSoftcap  *float64 `json:"final_logit_softcapping"`
	QKVBias       *bool    `json:"attention_bias"`
	Experts       int      `json:"num_local_experts"` // Mixtral
	NumExperts    int      `json:"num_experts"`       // Qwen3-MoE
	ExpertsPerTok int      `json:"num_experts_per_tok"`
	MoEFF         int      `json:"moe_intermediate_size"`
	SharedFF      int      `json:"shared_expert_intermediate_size"` // Qwen2-MoE
	NormTopK      *bool    `json:"norm_topk_prob"`
	SparseStep    int      `json:"decoder_sparse_step"`
	MLPOnly       []int    `json:"mlp_only_layers"`
	// Multimodal is set for a multimodal checkpoint whose text model is
	// served alone (Gemma3ForConditionalGeneration): the fields above are
	// its text_config's, its tensors are renamed by textTensorName.
	Multimodal  bool `json:"-"`
	RopeScaling *struct {
		Type        string    `json:"type"`
		RopeType    string    `json:"rope_type"`
		Factor      float64   `json:"factor"`
		LongFactor  []float64 `json:"long_factor"`
		ShortFactor []float64 `json:"short_factor"`
		LowFreq     float64   `json:"low_freq_factor"`
		HighFreq    float64   `json:"high_freq_factor"`
		OrigMaxPos  float64   `json:"original_max_position_embeddings"`
	} `json:"rope_scaling"`
}

// archOf maps config.json's architectures to GGUF's general.architecture.
func archOf(hfArch string) (string, error) {
	switch hfArch {
	case "LlamaForCausalLM", "MistralForCausalLM", "MixtralForCausalLM":
		return "llama", nil
	case "Qwen3MoeForCausalLM":
		return "qwen3moe", nil
	case "Qwen2MoeForCausalLM":
		return "qwen2moe", nil
	case "Qwen2ForCausalLM":
		return "qwen2", nil
	case "Qwen3ForCausalLM":
		return "qwen3", nil
	case "Gemma2ForCausalLM":
		return "gemma2", nil
	case "Gemma3ForCausalLM":
		return "gemma3", nil
	case "Phi3ForCausalLM":
		return "phi3", nil
	}
	return "", fmt.Errorf("hf: architecture %q is not supported (want Llama, Mistral, Mixtral, Qwen2, Qwen2Moe, Qwen3, Qwen3Moe, Gemma2, Gemma3 (text) or Phi3 ForCausalLM)", hfArch)
}

func readConfig(dir string) (*config, string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, "", fmt.Errorf("hf: %w", err)
	}
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, "", fmt.Errorf("hf: config.json: %w", err)
	}
	if len(c.Architectures) != 1 {
		return nil, "", fmt.Errorf("hf: config.json: architectures %v: want exactly one", c.Architectures)
	}
	if err := c.textModel(raw); err != nil {
		return nil, "", err
	}
	arch, err := archOf(c.Architectures[0])
	if err != nil {
		return nil, "", err
	}
	if arch == "gemma3" {
		c.gemma3Defaults()
	}
	if err := c.checkExperts(arch); err != nil {
		return nil, "", err
	}
	if c.Hidden <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.FF <= 0 || c.MaxPos <= 0 || !(c.RMSEps > 0) {
		return nil, "", fmt.Errorf("hf: config.json: hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings and rms_norm_eps must be positive")
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	return &c, arch, nil
}

// checkExperts validates the mixture-of-experts fields: the forward pass
// routes every layer through experts, softmax top-k with the weights
// renormalised, as Mixtral does and Qwen3-MoE does with norm_topk_prob,
// or kept as they are beside a sigmoid-gated shared expert, as Qwen2-MoE
// (Qwen1.5-MoE, Qwen2-57B-A14B) does without it.
func (c *config) checkExperts(arch string) error {
	switch arch {
	case "qwen3moe", "qwen2moe":
		name := map[string]string{"qwen3moe": "Qwen3-MoE", "qwen2moe": "Qwen2-MoE"}[arch]
		c.Experts = c.NumExperts
		norm := c.NormTopK != nil && *c.NormTopK
		switch {
		case arch == "qwen3moe" && !norm:
			return fmt.Errorf("hf: Qwen3-MoE without norm_topk_prob is not supported")
		case arch == "qwen2moe" && norm:
			return fmt.Errorf("hf: Qwen2-MoE with norm_topk_prob is not supported (its forward keeps the raw top-k softmax weights, as llama.cpp's qwen2moe does)")
		case c.SparseStep > 1 || len(c.MLPOnly) > 0:
			return fmt.Errorf("hf: %s with dense layers (decoder_sparse_step, mlp_only_layers) is not supported", name)
		case c.MoEFF <= 0:
			return fmt.Errorf("hf: %s needs moe_intermediate_size", name)
		case c.Experts == 0:
			return fmt.Errorf("hf: %s needs num_experts", name)
		case arch == "qwen2moe" && c.SharedFF <= 0:
			return fmt.Errorf("hf: Qwen2-MoE needs shared_expert_intermediate_size")
		}
	default:
		if c.Experts > 0 && arch != "llama" {
			return fmt.Errorf("hf: %s with experts is not supported", arch)
		}
		c.MoEFF = c.FF // Mixtral's experts are intermediate_size wide
	}
	if c.Experts > 0 && (c.ExpertsPerTok <= 0 || c.ExpertsPerTok > c.Experts) {
		return fmt.Errorf("hf: num_experts_per_tok %d with %d experts", c.ExpertsPerTok, c.Experts)
	}
	return nil
}

// meta returns the {arch}.* metadata of c, in llama.cpp's converter's terms.
func (c *config) meta(arch string) ([]string, []any, error) {
	var keys []string
	var vals []any
	add := func(k string, v any) { keys, vals = append(keys, arch+"."+k), append(vals, v) }
	add("context_length", uint32(c.MaxPos))
	add("embedding_length", uint32(c.Hidden))
	add("block_count", uint32(c.Layers))
	add("feed_forward_length", uint32(c.FF))
	add("attention.head_count", uint32(c.Heads))
	add("attention.head_count_kv", uint32(c.KVHeads))
	add("attention.layer_norm_rms_epsilon", float32(c.RMSEps))
	add("rope.freq_base", float32(c.RopeTheta))
	if c.Experts > 0 {
		add("expert_count", uint32(c.Experts))
		add("expert_used_count", uint32(c.ExpertsPerTok))
		add("expert_feed_forward_length", uint32(c.MoEFF))
	}
	if arch == "qwen2moe" {
		add("expert_shared_feed_forward_length", uint32(c.SharedFF))
	}
	if c.HeadDim != c.Hidden/c.Heads || arch == "qwen3" || arch == "qwen3moe" || arch == "gemma3" {
		add("attention.key_length", uint32(c.HeadDim))
		add("attention.value_length", uint32(c.HeadDim))
	}
	rot := c.HeadDim
	if c.PartialRotary > 0 && c.PartialRotary < 1 {
		rot = int(float64(c.HeadDim) * c.PartialRotary)
	}
	add("rope.dimension_count", uint32(rot))
	if rs := c.RopeScaling; rs != nil {
		typ := rs.Type
		if typ == "" {
			typ = rs.RopeType
		}
		switch typ {
		case "linear":
			add("rope.scaling.type", "linear")
			add("rope.scaling.factor", float32(rs.Factor))
		case "longrope", "su":
			if arch != "phi3" {
				return nil, nil, fmt.Errorf("hf: rope_scaling %q on %s is not supported", typ, arch)
			}
			orig := c.OrigMaxPos
			if orig <= 0 {
				return nil, nil, fmt.Errorf("hf: longrope needs original_max_position_embeddings")
			}
			scale := float64(c.MaxPos) / float64(orig)
			af := 1.0
			if scale > 1 {
				af = math.Sqrt(1 + math.Log(scale)/math.Log(float64(orig)))
			}
			add("rope.scaling.attn_factor", float32(af))
			add("rope.scaling.original_context_length", uint32(orig))
		case "llama3":
			if arch != "llama" {
				return nil, nil, fmt.Errorf("hf: rope_scaling %q on %s is not supported", typ, arch)
			} // written as the rope_freqs.weight tensor (llama3Freqs)
		case "", "default":
		default:
			return nil, nil, fmt.Errorf("hf: rope_scaling type %q is not supported (want linear, llama3 or phi3's longrope)", typ)
		}
	}
	switch arch {
	case "llama":
		if c.SlidingWindow != nil && *c.SlidingWindow > 0 && *c.SlidingWindow < c.MaxPos {
			add("attention.sliding_window", uint32(*c.SlidingWindow))
		}
	case "gemma2":
		if c.SlidingWindow != nil {
			add("attention.sliding_window", uint32(*c.SlidingWindow))
		}
		if c.AttnSoftcap != nil {
			add("attn_logit_softcapping", float32(*c.AttnSoftcap))
		}
		if c.FinalSoftcap != nil {
			add("final_logit_softcapping", float32(*c.FinalSoftcap))
		}
	case "gemma3":
		if c.SlidingWindow != nil {
			add("attention.sliding_window", uint32(*c.SlidingWindow))
			if len(c.LayerTypes) == c.Layers {
				pat := make([]bool, c.Layers)
				for i, t := range c.LayerTypes {
					pat[i] = t == "sliding_attention"
				}
				if period, ok := swaPeriod(pat); ok {
					add("attention.sliding_window_pattern", period)
				} else {
					add("attention.sliding_window_pattern", pat)
				}
			} else if c.SWAPattern > 0 {
				add("attention.sliding_window_pattern", uint32(c.SWAPattern))
			}
		}
		if c.RopeLocalBase > 0 {
			add("rope.freq_base_swa", float32(c.RopeLocalBase))
		}
		if c.FinalSoftcap != nil {
			add("final_logit_softcapping", float32(*c.FinalSoftcap))
		}
	}
	return keys, vals, nil
}

// swaPeriod finds the period p of a sliding-window layer pattern in
// llama.cpp's terms (layer i slides iff i%p < p-1; p = 0: all slide), so
// the pattern can be written as the number llama.cpp's gemma3 reads: it
// takes no array there and would fall back to a period of 6.
func swaPeriod(pat []bool) (uint32, bool) {
	for p := 0; p <= len(pat)+1; p++ {
		ok := true
		for i, swa := range pat {
			ok = ok && swa == (p == 0 || i%p < p-1)
		}
		if ok {
			return uint32(p), true
		}
	}
	return 0, false
}

// llama3Freqs are Llama 3.1+'s RoPE frequency divisors (rope_freqs.weight)
// for a rope_scaling of type llama3, computed as llama.cpp's converter
// does; nil for other models.
func (c *config) llama3Freqs() []float32 {
	rs := c.RopeScaling
	if rs == nil || (rs.Type != "llama3" && rs.RopeType != "llama3") {
		return nil
	}
	factor, low, high, orig := rs.Factor, rs.LowFreq, rs.HighFreq, rs.OrigMaxPos
	if factor == 0 {
		factor = 8
	}
	if low == 0 {
		low = 1
	}
	if high == 0 {
		high = 4
	}
	if orig == 0 {
		orig = 8192
	}
	lowWav, highWav := orig/low, orig/high
	out := make([]float32, c.HeadDim/2)
	for i := range out {
		freq := float64(float32(1 / math.Pow(c.RopeTheta, float64(2*i)/float64(c.HeadDim))))
		wav := 2 * math.Pi / freq
		switch {
		case wav < highWav:
			out[i] = 1
		case wav > lowWav:
			out[i] = float32(factor)
		default:
			smooth := (orig/wav - low) / (high - low)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}
