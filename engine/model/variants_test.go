package model

import (
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/native"
)

// evalOnce runs ids through a fresh F32-K/V session of the model at path.
func evalOnce(t *testing.T, path string, ids []int32) (*Model, []float32) {
	t.Helper()
	m := loadModel(t, path)
	s, err := m.NewSession(len(ids), native.F32)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := s.Eval(ids)
	if err != nil {
		t.Fatal(err)
	}
	return m, logits
}

func f32Bytes(x []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
}

// TestRoPEVariants covers what the reference files do not: Llama 3 style
// rope_freqs.weight divisors and linear rope scaling, on stories260K (RoPE
// over 8 dims, so 4 divisors).
func TestRoPEVariants(t *testing.T) {
	shared := sharedDir(t)
	src := filepath.Join(shared, "testdata", "stories260K-f32.gguf")
	ids := []int32{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}
	_, base := evalOnce(t, src, ids)

	withFreqs := func(freqs []float32) string {
		w := gguf.NewWriter()
		f, err := gguf.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, kv := range f.KVs() {
			if err := w.Set(kv.Key, kv.Value); err != nil {
				t.Fatal(err)
			}
		}
		for i, info := range f.Tensors() {
			data, err := f.TensorDataAt(i)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddTensor(info.Name, info.Type, info.Shape, data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.AddTensor("rope_freqs.weight", gguf.TensorF32, []int64{int64(len(freqs))}, f32Bytes(freqs)); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "freqs.gguf")
		if err := w.WriteFile(out); err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("ones", func(t *testing.T) {
		m, got := evalOnce(t, withFreqs([]float32{1, 1, 1, 1}), ids)
		if len(m.Weights.RoPEFreqs) != 4 {
			t.Fatalf("rope_freqs not bound: %v", m.Weights.RoPEFreqs)
		}
		if d := maxDiff(got, base); d != 0 {
			t.Errorf("divisors of 1 changed the logits by %.3g", d)
		}
	})
	t.Run("twos vs linear scaling", func(t *testing.T) {
		_, got := evalOnce(t, withFreqs([]float32{2, 2, 2, 2}), ids)
		if d := maxDiff(got, base); d < 1e-3 {
			t.Errorf("divisors of 2 moved the logits by only %.3g", d)
		}
		scaled := rewrite(t, src, func(w *gguf.Writer) {
			_ = w.Set("llama.rope.scaling.type", "linear")
			_ = w.Set("llama.rope.scaling.factor", float32(2))
		}, nil)
		m, lin := evalOnce(t, scaled, ids)
		if m.Config.RoPE.FreqScale != 0.5 {
			t.Errorf("FreqScale = %v, want 0.5", m.Config.RoPE.FreqScale)
		}
		if d := maxDiff(lin, got); d > 1e-3 {
			t.Errorf("linear scaling ×2 vs divisors of 2: max |Δ| %.3g", d)
		}
	})
	t.Run("wrong length", func(t *testing.T) {
		if m, err := Load(withFreqs([]float32{1, 1, 1})); err == nil {
			m.Close()
			t.Fatal("rope_freqs of 3 entries accepted for 8 rotated dims")
		}
	})
}

// TestBF16Weights converts tiny-smollm2's F32 matrices to BF16 and checks
// the logits stay near the F32 reference (BF16 keeps 8 mantissa bits).
func TestBF16Weights(t *testing.T) {
	shared := sharedDir(t)
	src := filepath.Join(shared, "testdata", "tiny-smollm2-f32.gguf")
	ref := readRef(t, filepath.Join(shared, "testdata", "tiny-smollm2-f32.ref-kvf32.json"))
	want := readLogitsBin(t, filepath.Join(shared, "testdata", "tiny-smollm2-f32.logits0-kvf32.bin"), ref.NVocab)
	path := rewriteBF16(t, src)
	m, got := evalOnce(t, path, ref.Prompts[0].TokenIDs)
	if m.Weights.Layers[0].Q.Type != native.BF16 || m.Weights.Output.Type != native.BF16 {
		t.Fatalf("weights not BF16: %v %v", m.Weights.Layers[0].Q.Type, m.Weights.Output.Type)
	}
	d := maxDiff(got, want)
	t.Logf("BF16 weights vs F32 reference: max |Δlogit| = %.3g", d)
	if d > 2e-2 {
		t.Errorf("max |Δlogit| %.3g > 2e-2", d)
	}
}

// rewriteBF16 writes a copy of the GGUF at src with its F32 matrices
// converted to BF16, and returns its path.
func rewriteBF16(t *testing.T, src string) string {
	t.Helper()
	return rewrite(t, src, nil, func(info gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) {
		if len(info.Shape) != 2 || info.Type != gguf.TensorF32 {
			return info, data, true
		}
		x := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), len(data)/4)
		y := make([]uint16, len(x))
		if err := native.F32ToBF16(x, y); err != nil {
			t.Fatal(err)
		}
		info.Type = gguf.TensorBF16
		return info, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(y))), 2*len(y)), true
	})
}

// TestKVCacheOfAnotherModel checks that a cache shaped for one model is
// refused by another.
func TestKVCacheOfAnotherModel(t *testing.T) {
	shared := sharedDir(t)
	a := loadModel(t, filepath.Join(shared, "testdata", "stories260K-f32.gguf"))
	b := loadModel(t, filepath.Join(shared, "testdata", "tiny-qwen2-f16.gguf"))
	kv, err := b.NewKVCache(1, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	kv.Layers = append(kv.Layers, kv.Layers[0], kv.Layers[0], kv.Layers[0]) // 5 layers like stories260K
	err = a.Forward(&Batch{KV: kv, Tokens: []int32{1}, Pos: []int32{0}, Seq: []int32{0},
		Seqs: []SeqState{{BlockTable: []int32{0}, CtxLen: 1}}}, make([]float32, a.Config.NVocab))
	if err == nil {
		t.Fatal("Forward accepted another model's KV cache")
	}
}

// TestExactActivations checks the opt-out of ggml's activation rounding:
// still within the README's tolerance, but no longer on llama.cpp's logits.
func TestExactActivations(t *testing.T) {
	shared := sharedDir(t)
	base := filepath.Join(shared, "testdata", "stories260K-q8_0")
	ref := readRef(t, base+".ref-kvf32.json")
	want := readLogitsBin(t, base+".logits0-kvf32.bin", ref.NVocab)
	ids := ref.Prompts[0].TokenIDs
	_, rounded := evalOnce(t, base+".gguf", ids)
	m := loadModel(t, base+".gguf", WithExactActivations())
	s, err := m.NewSession(len(ids), native.F32)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := s.Eval(ids)
	if err != nil {
		t.Fatal(err)
	}
	dr, de := maxDiff(rounded, want), maxDiff(exact, want)
	t.Logf("max |Δlogit| vs llama.cpp: rounded %.3g, exact %.3g", dr, de)
	if dr > 1e-4 || de > 0.5 || de <= dr {
		t.Errorf("rounded %.3g (want <= 1e-4), exact %.3g (want in (rounded, 0.5])", dr, de)
	}
}
