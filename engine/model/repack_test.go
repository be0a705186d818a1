package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestRepackBitIdentical: a model whose Q8_0 projections and output head
// were repacked at load gives the logits of the same model used in place,
// bit for bit, on a batch of two prefills and then two decodes, with 1 and
// 2 threads: dense llama (tied head), phi3 (Q, K, V and gate/up are row
// views of fused tensors) and qwen3moe (experts stay in place).
func TestRepackBitIdentical(t *testing.T) {
	_, canRepack := native.RepackType(native.Q8_0)
	defer native.Init(0)
	for _, preset := range []string{"tiny", "tiny-phi3", "tiny-qwen3moe"} {
		t.Run(preset, func(t *testing.T) {
			p, err := synth.LookupPreset(preset)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), preset+"-q8_0.gguf")
			if err := synth.Write(path, synth.Options{Preset: p, Type: native.Q8_0, Seed: 3}); err != nil {
				t.Fatal(err)
			}
			packed := loadModel(t, path, WithRepack(true))
			inPlace := loadModel(t, path, WithRepack(false))
			st := packed.Repacked()
			t.Logf("repacked %d tensors, %d bytes, in %v", st.Tensors, st.Bytes, st.Took)
			if (st.Tensors > 0) != canRepack || inPlace.Repacked().Tensors != 0 {
				t.Fatalf("repacked %d tensors (this CPU has a layout: %v), %d with repacking off", st.Tensors, canRepack, inPlace.Repacked().Tensors)
			}
			for _, threads := range []int{1, 2} {
				if err := native.Init(threads); err != nil {
					t.Fatal(err)
				}
				got, want := smallVocabLogits(t, packed), smallVocabLogits(t, inPlace)
				for step := range want {
					for i := range want[step] {
						if math.Float32bits(got[step][i]) != math.Float32bits(want[step][i]) {
							t.Fatalf("threads=%d step %d logit %d: repacked %v, in place %v", threads, step, i, got[step][i], want[step][i])
						}
					}
				}
			}
		})
	}
}

// smallVocabLogits is twoSeqLogits with token ids below the tiny presets' 320.
func smallVocabLogits(t *testing.T, m *Model) [][]float32 {
	kv, err := m.NewKVCache(8, 4, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	a := seqRun{tokens: []int32{1, 203, 207, 61, 278, 9}, blocks: []int32{5, 1}}
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
