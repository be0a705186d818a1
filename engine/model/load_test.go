package model

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// rewrite copies the GGUF at src into dir with its metadata changed by meta
// and each tensor passed through edit (which may drop it by returning false).
func rewrite(t *testing.T, src string, meta func(w *gguf.Writer),
	edit func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool)) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KVs() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if meta != nil {
		meta(w)
	}
	for i, info := range f.Tensors() {
		data, err := f.TensorDataAt(i)
		if err != nil {
			t.Fatal(err)
		}
		keep := true
		if edit != nil {
			info, data, keep = edit(info, data)
		}
		if !keep {
			continue
		}
		if err := w.AddTensor(info.Name, info.Type, info.Shape, data); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "edited.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	src := filepath.Join(sharedDir(t), "testdata", "stories260K-f32.gguf")
	tests := []struct {
		name string
		meta func(w *gguf.Writer)
		edit func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool)
		want string // substring of the error
	}{
		{
			name: "architecture",
			meta: func(w *gguf.Writer) { _ = w.Set(gguf.KeyArchitecture, "gpt2") },
			want: `unsupported architecture "gpt2"`,
		},
		{
			name: "missing tensor",
			edit: func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				return info, data, info.Name != "blk.3.ffn_up.weight"
			},
			want: "missing tensor blk.3.ffn_up.weight",
		},
		{
			name: "shape",
			edit: func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				if info.Name == "blk.1.attn_k.weight" { // [64, 32] -> [32, 64]
					info.Shape = []int64{32, 64}
				}
				return info, data, true
			},
			want: "tensor blk.1.attn_k.weight: shape [32 64], want [64 32]",
		},
		{
			name: "type",
			edit: func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				if info.Name == "blk.0.attn_q.weight" { // 64×64 as Q8_1 (an activation type): 2 blocks of 36 bytes per row
					info.Type = gguf.TensorQ8_1
					data = make([]byte, 64*72)
				}
				return info, data, true
			},
			want: "tensor blk.0.attn_q.weight: unsupported type Q8_1",
		},
		{
			name: "norm type",
			edit: func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
				if info.Name == "output_norm.weight" {
					info.Type = gguf.TensorF16
					data = data[:len(data)/2]
				}
				return info, data, true
			},
			want: "tensor output_norm.weight: type",
		},
		{
			name: "rope scaling",
			meta: func(w *gguf.Writer) { _ = w.Set("llama.rope.scaling.type", "yarn") },
			want: "unsupported llama.rope.scaling.type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := rewrite(t, src, tt.meta, tt.edit)
			m, err := Load(path)
			if err == nil {
				m.Close()
				t.Fatalf("Load succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	t.Run("no file", func(t *testing.T) {
		if _, err := Load(filepath.Join(t.TempDir(), "absent.gguf")); err == nil {
			t.Fatal("Load of a missing file succeeded")
		}
	})
	t.Run("bad option", func(t *testing.T) {
		if _, err := Load(src, WithMaxBatchTokens(0)); err == nil {
			t.Fatal("WithMaxBatchTokens(0) accepted")
		}
	})
	t.Run("closed", func(t *testing.T) {
		m, err := Load(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		kv, err := m.NewKVCache(1, 16, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Forward(&Batch{KV: kv, Tokens: []int32{1}, Pos: []int32{0}, Seq: []int32{0},
			Seqs: []SeqState{{BlockTable: []int32{0}, CtxLen: 1}}}, make([]float32, m.Config.NVocab))
		if err == nil || errors.Is(err, ErrBatch) {
			t.Fatalf("Forward after Close: %v", err)
		}
	})
}

func TestConfig(t *testing.T) {
	shared := sharedDir(t)
	tests := []struct {
		file                                    string
		arch                                    string
		embd, layers, heads, kvHeads, ff, vocab int
		base, eps                               float32
		tied, biases                            bool
	}{
		{"stories260K-f32", "llama", 64, 5, 8, 4, 172, 512, 10000, 1e-5, false, false},
		{"tiny-llama3-q8_0", "llama", 64, 2, 4, 2, 192, 128256, 500000, 1e-5, true, false},
		{"tiny-smollm2-f16", "llama", 64, 2, 4, 1, 160, 49152, 100000, 1e-5, true, false},
		{"tiny-qwen2-q8_0", "qwen2", 64, 2, 4, 2, 128, 49152, 1000000, 1e-6, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := loadModel(t, filepath.Join(shared, "testdata", tt.file+".gguf"))
			c := m.Config
			if c.Arch != tt.arch || c.NEmbd != tt.embd || c.NLayer != tt.layers || c.NHead != tt.heads ||
				c.NHeadKV != tt.kvHeads || c.NFF != tt.ff || c.NVocab != tt.vocab || c.NCtx != 2048 ||
				c.RoPE.FreqBase != tt.base || c.RMSEps != tt.eps || c.HasBiases != tt.biases ||
				c.RoPE.Dims != c.HeadDim || c.RoPE.FreqScale != 1 {
				t.Errorf("config %+v", c)
			}
			w := m.Weights
			if tied := w.Output.Name == w.TokEmbd.Name; tied != tt.tied { // (a repacked output head has its own bytes)
				t.Errorf("tied output = %v, want %v", tied, tt.tied)
			}
		})
	}
}
