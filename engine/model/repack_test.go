package model

import (
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestRepackBitIdentical: a model whose Q8_0 projections and output head
// were repacked at load gives the logits of the same model used in place,
// bit for bit, on a batch of two prefills and then two decodes, with 1 and
// 2 threads: dense llama (tied head), phi3 (Q, K, V and gate/up are row
// views of fused tensors) and qwen3moe (experts stay in place); and a
// Q4_K_M model whose Q4_K matrices were repacked.
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
			requireSameLogits(t, "repacked", packed, "in place", inPlace, smallVocabLogits)
		})
	}
	// Q4_K_M (Q4_K projections repacked, Q6_K ones beside them) from the quant test models
	t.Run("tiny256-q4_k_m", func(t *testing.T) {
		_, canRepackQ4K := native.RepackType(native.Q4_K)
		path := filepath.Join("testdata", "quant", "tiny256-q4_k_m.gguf")
		packed := loadModel(t, path, WithRepack(true))
		inPlace := loadModel(t, path, WithRepack(false))
		st := packed.Repacked()
		t.Logf("repacked %d tensors, %d bytes, in %v", st.Tensors, st.Bytes, st.Took)
		if (st.Tensors > 0) != canRepackQ4K || inPlace.Repacked().Tensors != 0 {
			t.Fatalf("repacked %d tensors (this CPU has a Q4_K layout: %v), %d with repacking off", st.Tensors, canRepackQ4K, inPlace.Repacked().Tensors)
		}
		requireSameLogits(t, "repacked", packed, "in place", inPlace, smallVocabLogits)
	})
}

// smallVocabLogits is twoSeqLogits with token ids below the tiny presets' 320.
func smallVocabLogits(t *testing.T, m *Model) [][]float32 {
	return seqPairLogits(t, m, []int32{1, 203, 207, 61, 278, 9})
}
