package model

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestRepackQ6KBitIdentical: a Q4_K_M model (its tied output head, the
// last layer's attn_v and ffn_down are Q6_K) whose Q6_K matrices were
// repacked at load gives the logits of the same model used in place, bit
// for bit, on two prefills and then decodes, with 1 and 2 threads.
func TestRepackQ6KBitIdentical(t *testing.T) {
	_, canRepack := native.RepackType(native.Q6_K)
	defer native.Init(0)
	p, err := synth.LookupPreset("tiny-256")
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.LookupPreset("q4_k_m")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny-256-q4_k_m.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Quantize: &q, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	packed := loadModel(t, path, WithRepack(true))
	inPlace := loadModel(t, path, WithRepack(false))
	st := packed.Repacked()
	t.Logf("repacked %d tensors (%s), %d bytes, in %v", st.Tensors, st.Type, st.Bytes, st.Took)
	if strings.Contains(st.Type, native.Q6_KR16.String()) != canRepack || inPlace.Repacked().Tensors != 0 {
		t.Fatalf("repacked into %q (this CPU has a Q6_K layout: %v), %d tensors with repacking off", st.Type, canRepack, inPlace.Repacked().Tensors)
	}
	requireSameLogits(t, "repacked", packed, "in place", inPlace, smallVocabLogits)
}
