package model

import (
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestRepackBitIdenticalQ4_0: the Q4_0 test model (testdata/quant, made by
// llama-quantize) with its Q4_0 projections repacked at load (Q4_0 ->
// Q4_0R16) gives the logits of the same model used in place, bit for bit,
// on two prefills then two decodes, with 1 and 2 threads.
func TestRepackBitIdenticalQ4_0(t *testing.T) {
	_, canRepack := native.RepackType(native.Q4_0)
	defer native.Init(0)
	path := filepath.Join("testdata", "quant", "tiny256-q4_0.gguf")
	packed := loadModel(t, path, WithRepack(true))
	inPlace := loadModel(t, path, WithRepack(false))
	st := packed.Repacked()
	t.Logf("repacked %d tensors, %d bytes, in %v", st.Tensors, st.Bytes, st.Took)
	if (st.Tensors > 0) != canRepack || inPlace.Repacked().Tensors != 0 {
		t.Fatalf("repacked %d tensors (this CPU has a layout: %v), %d with repacking off", st.Tensors, canRepack, inPlace.Repacked().Tensors)
	}
	requireSameLogits(t, "repacked", packed, "in place", inPlace, func(t *testing.T, m *Model) [][]float32 {
		return seqPairLogits(t, m, []int32{1, 203, 207, 61, 278, 9, 400, 511})
	})
}

// TestRepackBitIdenticalQ5_0: a "tiny" model quantized by the q4_k_m preset
// (its 64-long rows fall back to Q5_0 and the like) with its Q5_0 matrices
// repacked at load (Q5_0 -> Q5_0R16) gives the logits of the same model
// used in place, bit for bit, with 1 and 2 threads.
func TestRepackBitIdenticalQ5_0(t *testing.T) {
	_, canRepack := native.RepackType(native.Q5_0)
	defer native.Init(0)
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	qp, err := quantize.LookupPreset("q4_k_m")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny-q4_k_m.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Quantize: &qp, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	packed := loadModel(t, path, WithRepack(true))
	inPlace := loadModel(t, path, WithRepack(false))
	q5 := 0
	for _, ti := range packed.File().Tensors() {
		if ti.Type == gguf.TensorQ5_0 {
			q5++
		}
	}
	st := packed.Repacked()
	t.Logf("%d Q5_0 tensors; repacked %d tensors, %d bytes, in %v", q5, st.Tensors, st.Bytes, st.Took)
	if q5 == 0 || (st.Tensors > 0) != canRepack || inPlace.Repacked().Tensors != 0 {
		t.Fatalf("%d Q5_0 tensors, repacked %d (this CPU has a layout: %v), %d with repacking off", q5, st.Tensors, canRepack, inPlace.Repacked().Tensors)
	}
	requireSameLogits(t, "repacked", packed, "in place", inPlace, smallVocabLogits)
}
