package model

import (
	"path/filepath"
	"testing"

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
