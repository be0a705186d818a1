package hf

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConvertRefuses: every malformed directory is an error naming the
// problem, before anything is written.
func TestConvertRefuses(t *testing.T) {
	good := func(t *testing.T) string {
		return hfDirFromGGUF(t, filepath.Join("..", "model", "testdata", "arch", "tiny-qwen3-f16.gguf"))
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"no config", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "config.json")) }, "config.json"},
		{"unknown architecture", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"GPT2LMHeadModel"}})
		}, `architecture "GPT2LMHeadModel" is not supported`},
		{"moe without norm_topk_prob", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"Qwen3MoeForCausalLM"}, "num_experts": 8})
		}, "norm_topk_prob"},
		{"qwen2moe with norm_topk_prob", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"Qwen2MoeForCausalLM"}, "num_experts": 8,
				"norm_topk_prob": true, "moe_intermediate_size": 32, "shared_expert_intermediate_size": 48})
		}, "Qwen2-MoE with norm_topk_prob is not supported"},
		{"qwen2moe without a shared expert", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"Qwen2MoeForCausalLM"}, "num_experts": 8,
				"moe_intermediate_size": 32})
		}, "shared_expert_intermediate_size"},
		{"qwen2moe with dense layers", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"Qwen2MoeForCausalLM"}, "num_experts": 8,
				"moe_intermediate_size": 32, "shared_expert_intermediate_size": 48, "mlp_only_layers": []int{1}})
		}, "dense layers"},
		{"experts on qwen2", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "config.json"), map[string]any{"architectures": []string{"Qwen2ForCausalLM"}, "num_local_experts": 8})
		}, "qwen2 with experts is not supported"},
		{"missing shard", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
		}, "no such file"},
		{"header past the end", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model-00001-of-00002.safetensors")
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, uint64(len(b)))
			os.WriteFile(p, b, 0o644)
		}, "does not fit the file"},
		{"truncated data", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model-00002-of-00002.safetensors")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-10], 0o644)
		}, "data_offsets"},
		{"shard outside the directory", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "model.safetensors.index.json"), map[string]any{"weight_map": map[string]string{"x": "../x.safetensors"}})
		}, "outside the directory"},
		{"unknown tensor", func(t *testing.T, dir string) {
			writeSafetensors(t, filepath.Join(dir, "model.safetensors"), nil)
			os.Remove(filepath.Join(dir, "model.safetensors.index.json"))
			writeSafetensors(t, filepath.Join(dir, "model.safetensors"), []stEntry{
				{"model.embed_tokens.weight", "F32", []int64{1}, make([]byte, 4)},
				{"model.vision_tower.weight", "F32", []int64{1}, make([]byte, 4)}})
		}, "model.vision_tower.weight has no GGUF counterpart"},
		{"sentencepiece-style tokenizer without ▁ handling", func(t *testing.T, dir string) {
			writeJSON(t, filepath.Join(dir, "tokenizer.json"), map[string]any{"model": map[string]any{"type": "BPE", "byte_fallback": true, "vocab": map[string]int{"a": 0}}})
		}, "without Replace"},
		{"int8 dtype", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "model.safetensors.index.json"))
			writeSafetensors(t, filepath.Join(dir, "model.safetensors"), []stEntry{{"model.norm.weight", "I8", []int64{4}, make([]byte, 4)}})
		}, "dtype I8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := good(t)
			tc.spoil(t, dir)
			out := filepath.Join(t.TempDir(), "out.gguf")
			err := Convert(dir, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if _, statErr := os.Stat(out); statErr == nil {
				t.Error("an output file was written")
			}
		})
	}
}
