package model

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/native"
)

// withSeparateMatmuls runs every projection as its own matmul: the
// reference the fused projections must match bit for bit.
func withSeparateMatmuls() Option {
	return func(o *options) error {
		o.separate = true
		return nil
	}
}

// TestFusedMatmulsBitIdentical: projections sharing an input (Q, K, V; gate
// and up) computed in one native call give the logits of one call each, bit
// for bit, for every weight type (Q8_0, F16 with and without activation
// rounding, BF16, F32, a mixed Q8_0/F16 file, biases), with 1 and 2 threads,
// on a batch of a prefill next to a decode.
func TestFusedMatmulsBitIdentical(t *testing.T) {
	shared := sharedDir(t)
	td := func(name string) string { return filepath.Join(shared, "testdata", name+".gguf") }
	bf16 := rewriteBF16(t, td("tiny-smollm2-f32"))
	cases := []struct {
		name string
		path string
		opts []Option
	}{
		{"stories260K-q8_0 (F16 ffn_down)", td("stories260K-q8_0"), nil},
		{"tiny-llama3-q8_0", td("tiny-llama3-q8_0"), nil},
		{"tiny-qwen2-q8_0 (biases)", td("tiny-qwen2-q8_0"), nil},
		{"tiny-qwen2-f16", td("tiny-qwen2-f16"), nil},
		{"tiny-qwen2-f16 exact activations", td("tiny-qwen2-f16"), []Option{WithExactActivations()}},
		{"tiny-smollm2-f32", td("tiny-smollm2-f32"), nil},
		{"tiny-smollm2-bf16", bf16, nil},
	}
	defer native.Init(0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fused := loadModel(t, c.path, c.opts...)
			separate := loadModel(t, c.path, append(c.opts, withSeparateMatmuls())...)
			requireSameLogits(t, "fused", fused, "separate", separate, twoSeqLogits)
		})
	}
}

// TestFusedMixedQuantTypesBitIdentical: a Q4_K_M file's Q6_K attn_v fuses
// with its Q4_K attn_q and attn_k (one Q8_K activation, one hand-off) and
// gives the logits of one matmul each, bit for bit, repacked or in place.
func TestFusedMixedQuantTypesBitIdentical(t *testing.T) {
	path := filepath.Join("testdata", "quant", "tiny256-q4_k_m.gguf")
	defer native.Init(0)
	for _, repack := range []bool{true, false} {
		t.Run(fmt.Sprintf("repack=%v", repack), func(t *testing.T) {
			opts := []Option{WithRepack(repack)}
			fused := loadModel(t, path, opts...)
			mixed := 0
			for _, l := range fused.Weights.Layers {
				if l.Q.Type != l.V.Type {
					mixed++
				}
			}
			if mixed == 0 {
				t.Fatal("no layer mixes weight types among Q, K and V: the case tests nothing")
			}
			separate := loadModel(t, path, append(opts, withSeparateMatmuls())...)
			requireSameLogits(t, "fused", fused, "separate", separate, smallVocabLogits)
		})
	}
}

// twoSeqLogits runs a 5-token prefill next to a 3-token one, then a decode
// of each, and returns the logits of both steps.
func twoSeqLogits(t *testing.T, m *Model) [][]float32 {
	return seqPairLogits(t, m, []int32{1, 403, 407, 261, 378, 9})
}

// seqPairLogits is twoSeqLogits with the first sequence's six tokens given.
func seqPairLogits(t *testing.T, m *Model, first []int32) [][]float32 {
	kv, err := m.NewKVCache(8, 4, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	a := seqRun{tokens: first, blocks: []int32{5, 1}}
	b := seqRun{tokens: []int32{1, 20, 21, 22}, blocks: []int32{0}}
	var out [][]float32
	for _, st := range [][2][2]int{{{0, 5}, {0, 3}}, {{5, 6}, {3, 4}}} {
		bt := Batch{KV: kv}
		chunkBatch(&bt, a, st[0][0], st[0][1])
		chunkBatch(&bt, b, st[1][0], st[1][1])
		logits := make([]float32, 2*m.Config.NVocab)
		if err := m.Forward(&bt, logits); err != nil {
			t.Fatal(err)
		}
		out = append(out, logits)
	}
	return out
}

// requireSameLogits fails unless run gives bit-identical logits for models a
// and b at 1 and 2 threads.
func requireSameLogits(t *testing.T, aName string, a *Model, bName string, b *Model, run func(*testing.T, *Model) [][]float32) {
	t.Helper()
	for _, threads := range []int{1, 2} {
		if err := native.Init(threads); err != nil {
			t.Fatal(err)
		}
		got, want := run(t, a), run(t, b)
		for step := range want {
			for i := range want[step] {
				if math.Float32bits(got[step][i]) != math.Float32bits(want[step][i]) {
					t.Fatalf("threads=%d step %d logit %d: %s %v, %s %v", threads, step, i, aName, got[step][i], bName, want[step][i])
				}
			}
		}
	}
}
