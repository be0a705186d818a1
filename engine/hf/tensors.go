package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kiln-llm/kiln/native"
)

// ggufName maps a Hugging Face tensor name to its GGUF name for arch, as
// llama.cpp's converter names them ("" and no error: a tensor to drop).
func ggufName(arch, name string) (string, error) {
	switch name {
	case "model.embed_tokens.weight":
		return "token_embd.weight", nil
	case "model.norm.weight":
		return "output_norm.weight", nil
	case "lm_head.weight":
		return "output.weight", nil
	}
	m, i, ok := splitLayer(name)
	if !ok {
		return "", fmt.Errorf("hf: tensor %s has no GGUF counterpart", name)
	}
	gemma := arch == "gemma2" || arch == "gemma3"
	var g string
	switch m {
	case "input_layernorm.weight":
		g = "attn_norm.weight"
	case "post_attention_layernorm.weight":
		g = "ffn_norm.weight"
		if gemma {
			g = "post_attention_norm.weight"
		}
	case "pre_feedforward_layernorm.weight":
		g = "ffn_norm.weight"
	case "post_feedforward_layernorm.weight":
		g = "post_ffw_norm.weight"
	case "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
		"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias":
		g = "attn_" + m[len("self_attn."):len("self_attn.")+1] + m[len("self_attn.q_proj"):]
	case "self_attn.o_proj.weight":
		g = "attn_output.weight"
	case "self_attn.qkv_proj.weight":
		g = "attn_qkv.weight"
	case "self_attn.q_norm.weight":
		g = "attn_q_norm.weight"
	case "self_attn.k_norm.weight":
		g = "attn_k_norm.weight"
	case "mlp.gate_proj.weight":
		g = "ffn_gate.weight"
	case "mlp.up_proj.weight", "mlp.gate_up_proj.weight":
		g = "ffn_up.weight"
	case "mlp.down_proj.weight":
		g = "ffn_down.weight"
	case "mlp.gate.weight", "block_sparse_moe.gate.weight":
		g = "ffn_gate_inp.weight"
	case "mlp.shared_expert.gate_proj.weight":
		g = "ffn_gate_shexp.weight"
	case "mlp.shared_expert.up_proj.weight":
		g = "ffn_up_shexp.weight"
	case "mlp.shared_expert.down_proj.weight":
		g = "ffn_down_shexp.weight"
	case "mlp.shared_expert_gate.weight":
		g = "ffn_gate_inp_shexp.weight"
	case "self_attn.rotary_emb.inv_freq":
		return "", nil // recomputed from rope_theta
	default:
		return "", fmt.Errorf("hf: tensor %s has no GGUF counterpart", name)
	}
	return fmt.Sprintf("blk.%d.%s", i, g), nil
}

// splitLayer splits "model.layers.N.rest" into rest and N.
func splitLayer(name string) (string, int, bool) {
	rest, ok := strings.CutPrefix(name, "model.layers.")
	if !ok {
		return "", 0, false
	}
	num, rest, ok := strings.Cut(rest, ".")
	i, err := strconv.Atoi(num)
	if !ok || err != nil || i < 0 || rest == "" {
		return "", 0, false
	}
	return rest, i, true
}

// toF32 converts a 1-D tensor's bytes to float32 values.
func toF32(dtype string, b []byte) ([]float32, error) {
	switch dtype {
	case "F32":
		out := make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(b)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
		return out, nil
	case "F16":
		h := make([]uint16, len(b)/2)
		for i := range h {
			h[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		out := make([]float32, len(h))
		if err := native.F16ToF32(h, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %s", dtype)
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// permuteQK reorders the rows of a llama q_proj/k_proj weight from
// Hugging Face's rotate-half layout to GGUF's interleaved one, as
// llama.cpp's converter does: per head of hd rows, row 2i+j of the result
// is row j*hd/2+i of the input. rowBytes is one row's size.
func permuteQK(b []byte, nHead, rowBytes int) ([]byte, error) {
	rows := len(b) / rowBytes
	if nHead <= 0 || rows%nHead != 0 || (rows/nHead)%2 != 0 {
		return nil, fmt.Errorf("%d rows do not split into %d heads of an even size", rows, nHead)
	}
	hd := rows / nHead
	out := make([]byte, len(b))
	for h := range nHead {
		for i := range hd / 2 {
			for j := range 2 {
				dst, src := h*hd+2*i+j, h*hd+j*hd/2+i
				copy(out[dst*rowBytes:(dst+1)*rowBytes], b[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	return out, nil
}

// expertPart recognises one expert's matrix: Qwen3-MoE's
// mlp.experts.E.{gate,up,down}_proj.weight or Mixtral's
// block_sparse_moe.experts.E.w{1,3,2}.weight. It returns the layer, the
// expert and the GGUF stack the matrix belongs to ("ffn_gate_exps", ...).
func expertPart(name string) (layer, expert int, stack string, ok bool) {
	rest, layer, ok := splitLayer(name)
	if !ok {
		return 0, 0, "", false
	}
	for _, p := range []string{"mlp.experts.", "block_sparse_moe.experts."} {
		r, found := strings.CutPrefix(rest, p)
		if !found {
			continue
		}
		num, kind, _ := strings.Cut(r, ".")
		e, err := strconv.Atoi(num)
		if err != nil || e < 0 {
			return 0, 0, "", false
		}
		stack = map[string]string{
			"gate_proj.weight": "ffn_gate_exps", "up_proj.weight": "ffn_up_exps", "down_proj.weight": "ffn_down_exps",
			"w1.weight": "ffn_gate_exps", "w3.weight": "ffn_up_exps", "w2.weight": "ffn_down_exps",
		}[kind]
		return layer, e, stack, stack != ""
	}
	return 0, 0, "", false
}
