package model

import (
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// quantRefCases are the quantized test models of testdata/quant (a tiny-256
// model quantized by llama-quantize, references by llama.cpp; see its
// README) with each one's absolute logit tolerance and the tensor types the
// file must hold (so a preset that silently fell back would be noticed).
func quantRefCases() []struct {
	name  string
	tol   float64
	types []gguf.TensorType
} {
	return []struct {
		name  string
		tol   float64
		types []gguf.TensorType
	}{
		{"tiny256-q4_k_m", 0.05, []gguf.TensorType{gguf.TensorQ4_K, gguf.TensorQ6_K}},
		{"tiny256-q5_k_m", 0.05, []gguf.TensorType{gguf.TensorQ5_K, gguf.TensorQ6_K}},
		{"tiny256-q6_k", 0.05, []gguf.TensorType{gguf.TensorQ6_K}},
		{"tiny256-q4_0", 0.05, []gguf.TensorType{gguf.TensorQ4_0, gguf.TensorQ6_K}},
		{"tiny256-iq4_xs", 0.05, []gguf.TensorType{gguf.TensorIQ4_XS, gguf.TensorQ6_K}},
		{"tiny256-q3_k_m", 0.05, []gguf.TensorType{gguf.TensorQ3_K, gguf.TensorQ4_K, gguf.TensorQ5_K, gguf.TensorQ6_K}},
		{"tiny256-q2_k", 0.05, []gguf.TensorType{gguf.TensorQ2_K, gguf.TensorQ3_K, gguf.TensorQ6_K}},
	}
}

// TestQuantReferences: each quantized model's last-position logits are
// within its tolerance of llama.cpp's, and greedy decoding follows
// llama.cpp's tokens until a step whose reference top-2 margin is below
// twice the tolerance (checkPrompt, as TestReferences for Q8_0).
func TestQuantReferences(t *testing.T) {
	for _, qc := range quantRefCases() {
		t.Run(qc.name, func(t *testing.T) {
			base := filepath.Join("testdata", "quant", qc.name)
			m := loadModel(t, base+".gguf")
			have := map[gguf.TensorType]bool{}
			for _, ti := range m.File().Tensors() {
				have[ti.Type] = true
			}
			for _, want := range qc.types {
				if !have[want] {
					t.Errorf("the file holds no %v tensor", want)
				}
			}
			tok, err := tokenizer.FromGGUF(m.File())
			if err != nil {
				t.Fatal(err)
			}
			ref := readRef(t, base+".ref-kvf32.json")
			if ref.NVocab != m.Config.NVocab {
				t.Fatalf("n_vocab %d, reference %d", m.Config.NVocab, ref.NVocab)
			}
			logits0 := readLogitsBin(t, base+".logits0-kvf32.bin", ref.NVocab)
			rc := refCase{name: qc.name, tol: qc.tol}
			for pi, p := range ref.Prompts {
				t.Run("prompt"+strconv.Itoa(pi), func(t *testing.T) {
					checkPrompt(t, m, tok, rc, pi, p.Prompt, p.TokenIDs, p.Top20, p.Greedy.IDs, p.Greedy.Logits, p.Greedy.Margins, logits0)
				})
			}
		})
	}
}

// TestQuantBatchConsistency: on the quantized models too, sequences
// evaluated together in one Forward get the logits they get alone, bit for
// bit (checkBatchConsistency).
func TestQuantBatchConsistency(t *testing.T) {
	for _, name := range []string{"tiny256-q4_k_m", "tiny256-q4_0", "tiny256-iq4_xs"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, filepath.Join("testdata", "quant", name+".gguf"))
			checkBatchConsistency(t, m, native.F32)
		})
	}
}

// TestQuantDecodeEqualsPrefill: every row of a prefill equals, bit for bit,
// the logits of feeding the same tokens one at a time (a quantized matmul
// computes each output as the same dot product whatever the batch).
func TestQuantDecodeEqualsPrefill(t *testing.T) {
	for _, qc := range quantRefCases() {
		t.Run(qc.name, func(t *testing.T) {
			m := loadModel(t, filepath.Join("testdata", "quant", qc.name+".gguf"))
			toks := []int32{1, 403, 407, 261, 378, 432, 300, 17}
			vocab := m.Config.NVocab
			kv, err := m.NewKVCache(2, 16, native.F32)
			if err != nil {
				t.Fatal(err)
			}
			b := Batch{KV: kv}
			chunkBatch(&b, seqRun{tokens: toks, blocks: []int32{1}}, 0, len(toks))
			b.Outputs = make([]int32, len(toks))
			for i := range b.Outputs {
				b.Outputs[i] = int32(i)
			}
			all := make([]float32, len(toks)*vocab)
			if err := m.Forward(&b, all); err != nil {
				t.Fatal(err)
			}
			s, err := m.NewSession(len(toks), native.F32)
			if err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				one, err := s.Eval([]int32{tok})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(all[i*vocab:(i+1)*vocab], one) {
					t.Errorf("row %d: prefill differs from decode (max |Δ| %.3g)", i, maxDiff(all[i*vocab:(i+1)*vocab], one))
				}
			}
		})
	}
}
