package hf

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

// hfName inverts ggufName for the test fixtures.
func hfName(arch, name string) string {
	switch name {
	case "token_embd.weight":
		return "model.embed_tokens.weight"
	case "output_norm.weight":
		return "model.norm.weight"
	case "output.weight":
		return "lm_head.weight"
	}
	var i int
	var rest string
	if _, err := fmt.Sscanf(name, "blk.%d.", &i); err != nil {
		return ""
	}
	rest = name[strings.Index(name[4:], ".")+5:]
	gemma := arch == "gemma2" || arch == "gemma3"
	m := map[string]string{
		"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
		"attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
		"attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
		"attn_qkv.weight": "self_attn.qkv_proj.weight", "attn_q_norm.weight": "self_attn.q_norm.weight",
		"attn_k_norm.weight": "self_attn.k_norm.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
		"ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
		"post_attention_norm.weight": "post_attention_layernorm.weight", "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
		"attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
		"ffn_gate_shexp.weight": "mlp.shared_expert.gate_proj.weight", "ffn_up_shexp.weight": "mlp.shared_expert.up_proj.weight",
		"ffn_down_shexp.weight": "mlp.shared_expert.down_proj.weight", "ffn_gate_inp_shexp.weight": "mlp.shared_expert_gate.weight",
	}
	if rest == "ffn_gate_inp.weight" {
		if arch == "llama" {
			return fmt.Sprintf("model.layers.%d.block_sparse_moe.gate.weight", i)
		}
		return fmt.Sprintf("model.layers.%d.mlp.gate.weight", i)
	}
	if gemma && rest == "ffn_norm.weight" {
		return fmt.Sprintf("model.layers.%d.pre_feedforward_layernorm.weight", i)
	}
	if arch == "phi3" && rest == "ffn_up.weight" {
		return fmt.Sprintf("model.layers.%d.mlp.gate_up_proj.weight", i)
	}
	return fmt.Sprintf("model.layers.%d.%s", i, m[rest])
}

// unpermuteQK inverts permuteQK.
func unpermuteQK(b []byte, nHead, rowBytes int) []byte {
	rows := len(b) / rowBytes
	hd := rows / nHead
	out := make([]byte, len(b))
	for h := range nHead {
		for i := range hd / 2 {
			for j := range 2 {
				src, dst := h*hd+2*i+j, h*hd+j*hd/2+i
				copy(out[dst*rowBytes:(dst+1)*rowBytes], b[src*rowBytes:(src+1)*rowBytes])
			}
		}
	}
	return out
}

type stEntry struct {
	name, dtype string
	shape       []int64
	data        []byte
}

// writeSafetensors writes entries as one safetensors file.
func writeSafetensors(t *testing.T, path string, es []stEntry) {
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	off := int64(0)
	for _, e := range es {
		hdr[e.name] = map[string]any{"dtype": e.dtype, "shape": e.shape, "data_offsets": []int64{off, off + int64(len(e.data))}}
		off += int64(len(e.data))
	}
	h, _ := json.Marshal(hdr)
	for len(h)%8 != 0 { // real files pad the header so the data is 8-byte aligned
		h = append(h, ' ')
	}
	var out []byte
	out = binary.LittleEndian.AppendUint64(out, uint64(len(h)))
	out = append(out, h...)
	for _, e := range es {
		out = append(out, e.data...)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hfDirFromGGUF writes the weights of a GGUF file as a two-shard Hugging
// Face directory, with a BPE tokenizer.json covering its vocabulary.
func hfDirFromGGUF(t *testing.T, path string) string {
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f, c := m.File(), m.Config
	arch := c.Arch
	dir := t.TempDir()
	var es []stEntry
	for _, ti := range f.Tensors() {
		data, err := f.TensorData(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		shape := slices.Clone(ti.Shape)
		slices.Reverse(shape)
		dtype := map[gguf.TensorType]string{gguf.TensorF32: "F32", gguf.TensorF16: "F16", gguf.TensorBF16: "BF16"}[ti.Type]
		data = slices.Clone(data)
		switch {
		case strings.HasSuffix(ti.Name, "ffn_gate_inp_shexp.weight"):
			shape = []int64{1, shape[0]} // Hugging Face's nn.Linear(hidden, 1)
		case strings.HasPrefix(ti.Name, "rope_factors_"), ti.Name == "rope_freqs.weight":
			continue // config.json's rope_scaling carries them
		case len(shape) == 1 && (arch == "gemma2" || arch == "gemma3") && strings.HasSuffix(ti.Name, "norm.weight"):
			for i := 0; i < len(data); i += 4 {
				v := math.Float32frombits(binary.LittleEndian.Uint32(data[i:])) - 1
				binary.LittleEndian.PutUint32(data[i:], math.Float32bits(v))
			}
		case arch == "llama" && strings.HasSuffix(ti.Name, "attn_q.weight"):
			data = unpermuteQK(data, c.NHead, len(data)/int(shape[0]))
		case arch == "llama" && strings.HasSuffix(ti.Name, "attn_k.weight"):
			data = unpermuteQK(data, c.NHeadKV, len(data)/int(shape[0]))
		}
		if len(shape) == 3 { // an expert stack: one 2-D tensor per expert
			l, kind := 0, strings.TrimSuffix(ti.Name[strings.Index(ti.Name[4:], ".")+5:], ".weight")
			fmt.Sscanf(ti.Name, "blk.%d.", &l)
			per := len(data) / int(shape[0])
			for e := range int(shape[0]) {
				name := fmt.Sprintf("model.layers.%d.mlp.experts.%d.%s.weight", l, e,
					map[string]string{"ffn_gate_exps": "gate_proj", "ffn_up_exps": "up_proj", "ffn_down_exps": "down_proj"}[kind])
				if arch == "llama" {
					name = fmt.Sprintf("model.layers.%d.block_sparse_moe.experts.%d.%s.weight", l, e,
						map[string]string{"ffn_gate_exps": "w1", "ffn_up_exps": "w3", "ffn_down_exps": "w2"}[kind])
				}
				es = append(es, stEntry{name, dtype, shape[1:], data[e*per : (e+1)*per]})
			}
			continue
		}
		es = append(es, stEntry{hfName(arch, ti.Name), dtype, shape, data})
	}
	half := len(es) / 2
	writeSafetensors(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), es[:half])
	writeSafetensors(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), es[half:])
	wm := map[string]string{}
	for i, e := range es {
		wm[e.name] = map[bool]string{true: "model-00001-of-00002.safetensors", false: "model-00002-of-00002.safetensors"}[i < half]
	}
	writeJSON(t, filepath.Join(dir, "model.safetensors.index.json"), map[string]any{"weight_map": wm})

	hfArch := map[string]string{"llama": "LlamaForCausalLM", "qwen3": "Qwen3ForCausalLM", "qwen3moe": "Qwen3MoeForCausalLM", "gemma2": "Gemma2ForCausalLM",
		"gemma3": "Gemma3ForCausalLM", "phi3": "Phi3ForCausalLM", "qwen2moe": "Qwen2MoeForCausalLM"}[arch]
	cfg := map[string]any{
		"architectures": []string{hfArch}, "hidden_size": c.NEmbd, "num_hidden_layers": c.NLayer,
		"num_attention_heads": c.NHead, "num_key_value_heads": c.NHeadKV, "head_dim": c.HeadDim,
		"intermediate_size": c.NFF, "vocab_size": c.NVocab, "max_position_embeddings": c.NCtx,
		"rms_norm_eps": c.RMSEps, "rope_theta": c.RoPE.FreqBase, "eos_token_id": c.NVocab - 1,
	}
	switch {
	case arch == "qwen3moe":
		cfg["num_experts"], cfg["num_experts_per_tok"], cfg["moe_intermediate_size"], cfg["norm_topk_prob"] = c.NExpert, c.NExpertUsed, c.NFFExp, true
	case arch == "qwen2moe":
		cfg["num_experts"], cfg["num_experts_per_tok"], cfg["moe_intermediate_size"], cfg["norm_topk_prob"] = c.NExpert, c.NExpertUsed, c.NFFExp, false
		cfg["shared_expert_intermediate_size"], cfg["decoder_sparse_step"], cfg["mlp_only_layers"] = c.NFFShexp, 1, []int{}
	case c.NExpert > 0:
		cfg["architectures"] = []string{"MixtralForCausalLM"}
		cfg["num_local_experts"], cfg["num_experts_per_tok"] = c.NExpert, c.NExpertUsed
	}
	if c.RoPE.Dims != c.HeadDim {
		cfg["partial_rotary_factor"] = float64(c.RoPE.Dims) / float64(c.HeadDim)
	}
	switch arch {
	case "gemma2":
		cfg["sliding_window"], cfg["attn_logit_softcapping"], cfg["final_logit_softcapping"] = c.Layers[0].Window, c.AttnSoftcap, c.FinalSoftcap
	case "gemma3":
		var types []string
		for _, l := range c.Layers {
			types = append(types, map[bool]string{true: "sliding_attention", false: "full_attention"}[l.Window > 0])
		}
		cfg["sliding_window"], cfg["layer_types"], cfg["rope_local_base_freq"] = c.Layers[0].Window, types, c.Layers[0].RoPEBase
	case "llama":
		if m.Weights.RoPEFreqs != nil { // synth's Llama 3 factors: factor 32, 1 and 4, original 8192
			cfg["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
				"high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
		}
	case "phi3":
		long, short := m.Weights.RoPELong, m.Weights.RoPEShort
		cfg["original_max_position_embeddings"] = c.RoPE.OrigCtx
		cfg["rope_scaling"] = map[string]any{"type": "longrope", "long_factor": long, "short_factor": short}
	}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), byteLevelTokenizer(c.NVocab))
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"chat_template": testTemplate, "add_bos_token": false})
	writeJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{"eos_token_id": []int{c.NVocab - 1, 2}})
	return dir
}

// testTemplate is a ChatML template for the fixtures.
const testTemplate = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}" +
	"{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"

// byteLevelTokenizer is a GPT-2 byte-level BPE tokenizer.json of exactly n
// ids (n >= 300): the 256 byte symbols, "Ġ"+letter merges, letter-pair
// merges, and the special tokens <|im_start|> and <|im_end|> last.
func byteLevelTokenizer(n int) map[string]any {
	sym := gpt2Bytes()
	vocab := map[string]int{}
	for b := range 256 {
		vocab[sym[b]] = b
	}
	var merges []string
	add := func(a, b string) {
		if len(vocab) < n-2 {
			vocab[a+b] = len(vocab)
			merges = append(merges, a+" "+b)
		}
	}
	for c := 'a'; c <= 'z'; c++ {
		add("Ġ", string(c))
	}
	for _, p := range []string{"th", "he", "in", "er", "an", "re", "on", "at", "en", "nd", "ti", "es", "or", "te", "of", "ed", "is", "it", "al", "ar", "st", "to", "nt", "ng", "se", "ha", "as", "ou", "io", "le", "ve", "co", "me", "de", "hi", "ri", "ro", "ic", "ne", "ea", "ra", "ce"} {
		add(p[:1], p[1:])
	}
	for len(vocab) < n-2 {
		add("Ġ", fmt.Sprintf("%d", len(vocab)))
	}
	return map[string]any{
		"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false},
		"added_tokens": []map[string]any{
			{"id": n - 2, "content": "<|im_start|>", "special": true},
			{"id": n - 1, "content": "<|im_end|>", "special": true},
		},
	}
}

// gpt2Bytes is GPT-2's byte-to-unicode table.
func gpt2Bytes() [256]string {
	var out [256]string
	next := 256
	for b := range 256 {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE:
			out[b] = string(rune(b))
		default:
			out[b] = string(rune(next))
			next++
		}
	}
	return out
}

// TestWriteFixture regenerates the Hugging Face directory fixture of
// engine/model/testdata/arch/hf-tiny-qwen3 when KILN_WRITE_HF_FIXTURE is 1.
func TestWriteFixture(t *testing.T) {
	if os.Getenv("KILN_WRITE_HF_FIXTURE") != "1" {
		t.Skip("set KILN_WRITE_HF_FIXTURE=1 to regenerate the fixture")
	}
	src := hfDirFromGGUF(t, filepath.Join("..", "model", "testdata", "arch", "tiny-qwen3-f16.gguf"))
	dst := filepath.Join("..", "model", "testdata", "arch", "hf-tiny-qwen3")
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestFixtureMatchesGGUF: the committed directory fixture converts to the
// same logits as the GGUF it was made from.
func TestFixtureMatchesGGUF(t *testing.T) {
	dir := filepath.Join("..", "model", "testdata", "arch", "hf-tiny-qwen3")
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := Convert(dir, out); err != nil {
		t.Fatal(err)
	}
	want := evalLogits(t, filepath.Join("..", "model", "testdata", "arch", "tiny-qwen3-f16.gguf"))
	if !slices.Equal(evalLogits(t, out), want) || !slices.Equal(evalLogits(t, dir), want) {
		t.Fatal("the fixture's logits (converted or in place) differ from tiny-qwen3-f16.gguf's")
	}
}

func writeJSON(t *testing.T, path string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// evalLogits runs a fixed 30-token prompt through the model at path (a
// GGUF file, or a directory opened in place).
func evalLogits(t *testing.T, path string) []float32 {
	var m *model.Model
	var err error
	if IsModelDir(path) {
		var src model.Source
		if src, err = Open(path); err == nil {
			m, err = model.LoadSource(src)
		}
	} else {
		m, err = model.Load(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := make([]int32, 30)
	for i := range ids {
		ids[i] = int32((i*53 + 7) % m.Config.NVocab)
	}
	s, err := m.NewSession(len(ids), native.F32)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Eval(ids)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(logits)
}

// TestConvertMatchesGGUF: a Hugging Face directory holding a GGUF's
// weights, converted or opened in place, gives logits bit-identical to the
// GGUF's, for each architecture with a directory form (llama's permuted
// Q/K, gemma's 1+w norms, phi3's fused tensors and LongRoPE factors).
func TestConvertMatchesGGUF(t *testing.T) {
	for _, tc := range archDirCases(t, t.TempDir()) {
		t.Run(tc.name, func(t *testing.T) {
			dir := hfDirFromGGUF(t, tc.path)
			if !IsModelDir(dir) {
				t.Fatal("IsModelDir = false")
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			if err := Convert(dir, out); err != nil {
				t.Fatal(err)
			}
			want, got := evalLogits(t, tc.path), evalLogits(t, out)
			if !slices.Equal(got, want) {
				t.Fatalf("logits of the converted directory differ from the GGUF's")
			}
			if inPlace := evalLogits(t, dir); !slices.Equal(inPlace, want) {
				t.Fatalf("logits of the directory opened in place differ from the GGUF's")
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tmpl, _ := f.String("tokenizer.chat_template"); tmpl != testTemplate {
				t.Errorf("chat template %q", tmpl)
			}
			if eos, _ := f.Uint32("tokenizer.ggml.eos_token_id"); eos != 319 {
				t.Errorf("eos %d, want 319 (generation_config's first)", eos)
			}
		})
	}
}
