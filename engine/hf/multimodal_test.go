package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// multimodalDir rewrites the Hugging Face directory of the tiny gemma3 as a
// Gemma3ForConditionalGeneration checkpoint: config.json nests the text
// config under text_config beside a vision_config, the text tensors get
// the language model's prefix (prefix), and a vision tower and projector
// are added.
func multimodalDir(t *testing.T, prefix string) string {
	t.Helper()
	dir := hfDirFromGGUF(t, filepath.Join("..", "model", "testdata", "arch", "tiny-gemma3-f16.gguf"))
	var text map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &text); err != nil {
		t.Fatal(err)
	}
	delete(text, "architectures")
	text["model_type"] = "gemma3_text"
	writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{
		"architectures": []string{"Gemma3ForConditionalGeneration"}, "model_type": "gemma3",
		"text_config": text, "vision_config": map[string]any{"hidden_size": 16, "model_type": "siglip_vision_model"},
		"mm_tokens_per_image": 256, "image_token_index": 262144,
	})
	wm := map[string]string{}
	for _, shard := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
		f, ts, err := openSafetensors(filepath.Join(dir, shard))
		if err != nil {
			t.Fatal(err)
		}
		var es []stEntry
		for _, tn := range ts {
			b, err := tn.read()
			if err != nil {
				t.Fatal(err)
			}
			name := tn.Name
			if rest, ok := cutModel(name); ok {
				name = prefix + rest
			} else if name == "lm_head.weight" {
				name = "language_model.lm_head.weight"
			}
			es = append(es, stEntry{name, tn.DType, tn.Shape, b})
		}
		f.Close()
		if shard == "model-00002-of-00002.safetensors" {
			es = append(es,
				stEntry{"vision_tower.vision_model.embeddings.patch_embedding.weight", "F32", []int64{2, 2}, make([]byte, 16)},
				stEntry{"multi_modal_projector.mm_input_projection_weight", "F32", []int64{2, 2}, make([]byte, 16)})
		}
		writeSafetensors(t, filepath.Join(dir, shard), es)
		for _, e := range es {
			wm[e.name] = shard
		}
	}
	writeJSON(t, filepath.Join(dir, "model.safetensors.index.json"), map[string]any{"weight_map": wm})
	return dir
}

// cutModel strips "model." from a text model tensor name.
func cutModel(name string) (string, bool) {
	const p = "model."
	if len(name) > len(p) && name[:len(p)] == p {
		return name[len(p):], true
	}
	return "", false
}

// TestGemma3Multimodal: a Gemma3ForConditionalGeneration directory, with
// either generation of transformers' tensor names, serves and converts as
// its text model: logits bit-identical to the text-only GGUF, the vision
// tensors left out.
func TestGemma3Multimodal(t *testing.T) {
	want := evalLogits(t, filepath.Join("..", "model", "testdata", "arch", "tiny-gemma3-f16.gguf"))
	for _, prefix := range []string{"language_model.model.", "model.language_model."} {
		t.Run(prefix, func(t *testing.T) {
			dir := multimodalDir(t, prefix)
			out := filepath.Join(t.TempDir(), "out.gguf")
			if err := Convert(dir, out); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(evalLogits(t, out), want) || !slices.Equal(evalLogits(t, dir), want) {
				t.Fatal("logits differ from the text-only GGUF's")
			}
			src, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			for _, ti := range src.Tensors() {
				if !slices.Contains([]string{"token_embd.weight", "output_norm.weight"}, ti.Name) && ti.Name[:4] != "blk." {
					t.Errorf("unexpected tensor %s", ti.Name)
				}
			}
		})
	}
}

// TestConfigDefaultsAndWindows: what a real config leaves out or nulls.
func TestConfigDefaultsAndWindows(t *testing.T) {
	gemma3mm := map[string]any{ // gemma-3-4b-it's config.json, abridged as published
		"architectures": []string{"Gemma3ForConditionalGeneration"},
		"text_config": map[string]any{"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
			"num_hidden_layers": 34, "rope_scaling": map[string]any{"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024},
		"vision_config": map[string]any{"model_type": "siglip_vision_model"},
	}
	mistral := func(window any) map[string]any {
		return map[string]any{"architectures": []string{"MistralForCausalLM"}, "hidden_size": 64, "num_hidden_layers": 2,
			"num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5,
			"sliding_window": window}
	}
	tests := []struct {
		name string
		cfg  map[string]any
		want map[string]any // metadata keys and values; nil value: must be absent
	}{
		{"gemma3 multimodal", gemma3mm, map[string]any{
			"gemma3.attention.head_count": uint32(8), "gemma3.attention.head_count_kv": uint32(4),
			"gemma3.attention.key_length": uint32(256), "gemma3.context_length": uint32(131072),
			"gemma3.rope.freq_base": float32(1e6), "gemma3.rope.freq_base_swa": float32(10000),
			"gemma3.attention.sliding_window": uint32(1024), "gemma3.attention.sliding_window_pattern": uint32(6),
			"gemma3.rope.scaling.factor": float32(8), "gemma3.attention.layer_norm_rms_epsilon": float32(1e-6),
		}},
		{"mistral, sliding_window null", mistral(nil), map[string]any{"llama.attention.sliding_window": nil}},
		{"mistral, sliding_window 4096", mistral(4096), map[string]any{"llama.attention.sliding_window": uint32(4096)}},
		{"mistral, sliding_window = context", mistral(32768), map[string]any{"llama.attention.sliding_window": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJSON(t, filepath.Join(dir, "config.json"), tt.cfg)
			c, arch, err := readConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			keys, vals, err := c.meta(arch)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.want {
				i := slices.Index(keys, k)
				switch {
				case want == nil && i >= 0:
					t.Errorf("%s = %v, want it absent", k, vals[i])
				case want != nil && i < 0:
					t.Errorf("%s absent, want %v", k, want)
				case want != nil && vals[i] != want:
					t.Errorf("%s = %v (%T), want %v (%T)", k, vals[i], vals[i], want, want)
				}
			}
		})
	}
}
