package model

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// tinyModel is a one-layer model of the given architecture small enough
// to fuzz: 2 query heads over 1 K/V head, 4 tokens, projections in matType;
// 8-wide embeddings in F32 (about 2 KB), 32-wide in Q8_0 (a Q8_0 row is at
// least one 32-element block; about 8 KB).
func tinyModel(t testing.TB, arch string, matType gguf.TensorType) []byte {
	t.Helper()
	embd, vocab := 8, 4
	if matType == gguf.TensorQ8_0 {
		embd = 32
	}
	ff, kv := embd, embd/2
	w := gguf.NewWriter()
	set := func(k string, v any) {
		if err := w.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	set(gguf.KeyArchitecture, arch)
	set(arch+".embedding_length", uint32(embd))
	set(arch+".block_count", uint32(1))
	set(arch+".feed_forward_length", uint32(ff))
	set(arch+".context_length", uint32(64))
	set(arch+".attention.head_count", uint32(2))
	set(arch+".attention.head_count_kv", uint32(1))
	set(arch+".attention.layer_norm_rms_epsilon", float32(1e-5))
	seed := uint32(1)
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			seed = seed*1664525 + 1013904223
			v[i] = float32(int32(seed>>8)%1000) / 20000
		}
		return v
	}
	f32 := func(v []float32) []byte {
		b := make([]byte, 0, 4*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		return b
	}
	add := func(name string, typ gguf.TensorType, rows, cols int) {
		shape := []int64{int64(cols), int64(rows)}
		var data []byte
		switch {
		case rows == 0:
			shape = shape[:1]
			data = f32(vals(cols))
		case typ == gguf.TensorQ8_0:
			data = make([]byte, native.RowSize(native.Q8_0, cols)*rows)
			if err := native.QuantizeQ8_0(vals(rows*cols), data); err != nil {
				t.Fatal(err)
			}
		default:
			data = f32(vals(rows * cols))
		}
		if err := w.AddTensor(name, typ, shape, data); err != nil {
			t.Fatal(err)
		}
	}
	add("token_embd.weight", matType, vocab, embd)
	add("output_norm.weight", gguf.TensorF32, 0, embd)
	add("blk.0.attn_norm.weight", gguf.TensorF32, 0, embd)
	add("blk.0.attn_q.weight", matType, embd, embd)
	add("blk.0.attn_k.weight", matType, kv, embd)
	add("blk.0.attn_v.weight", matType, kv, embd)
	if arch == "qwen2" {
		add("blk.0.attn_q.bias", gguf.TensorF32, 0, embd)
		add("blk.0.attn_k.bias", gguf.TensorF32, 0, kv)
		add("blk.0.attn_v.bias", gguf.TensorF32, 0, kv)
	}
	add("blk.0.attn_output.weight", matType, embd, embd)
	add("blk.0.ffn_norm.weight", gguf.TensorF32, 0, embd)
	add("blk.0.ffn_gate.weight", matType, ff, embd)
	add("blk.0.ffn_up.weight", matType, ff, embd)
	add("blk.0.ffn_down.weight", matType, embd, ff)
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzLoad writes arbitrary bytes to a file and loads it as a model: Load
// must return an error or a model, never panic, and a model it accepts
// must run a forward pass (logits of a two-token prompt, finite or not)
// without panicking either.
func FuzzLoad(f *testing.F) {
	for _, arch := range []string{"llama", "qwen2"} {
		for _, typ := range []gguf.TensorType{gguf.TensorF32, gguf.TensorQ8_0} {
			b := tinyModel(f, arch, typ)
			f.Add(b)
			f.Add(b[:len(b)-40])
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "model.gguf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path, WithMaxBatchTokens(4))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "model: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		defer m.Close()
		s, err := m.NewSession(4, native.F32)
		if err != nil {
			t.Fatal(err)
		}
		logits, err := s.Eval([]int32{0, int32(m.Config.NVocab - 1)})
		if err == nil && len(logits) != m.Config.NVocab {
			t.Fatalf("%d logits, vocabulary %d", len(logits), m.Config.NVocab)
		}
	})
}

// TestTinyModelLoads keeps FuzzLoad's seeds honest: each one loads.
func TestTinyModelLoads(t *testing.T) {
	for _, arch := range []string{"llama", "qwen2"} {
		for _, typ := range []gguf.TensorType{gguf.TensorF32, gguf.TensorQ8_0} {
			t.Run(arch+"/"+typ.String(), func(t *testing.T) {
				path := writeTemp(t, tinyModel(t, arch, typ))
				m, err := Load(path)
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				s, err := m.NewSession(4, native.F32)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.Eval([]int32{1, 2, 3}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
