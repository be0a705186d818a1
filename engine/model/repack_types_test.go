package model

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestRepackBitIdenticalTypes: tiny-256 models quantized by the q5_k_m,
// iq4_xs, iq4_nl, q4_1 and q5_1 presets whose Q5_K, IQ4_XS, IQ4_NL, Q4_1
// and Q5_1 matrices were repacked at load give the logits of the same
// models used in place, bit for bit, on two prefills and then decodes, with
// 1 and 2 threads.
func TestRepackBitIdenticalTypes(t *testing.T) {
	defer native.Init(0)
	p, err := synth.LookupPreset("tiny-256")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		preset   string
		src, dst native.Type
		tensor   gguf.TensorType
	}{
		{"q5_k_m", native.Q5_K, native.Q5_KR16, gguf.TensorQ5_K},
		{"iq4_xs", native.IQ4_XS, native.IQ4_XSR16, gguf.TensorIQ4_XS},
		{"iq4_nl", native.IQ4_NL, native.IQ4_NLR16, gguf.TensorIQ4_NL},
		{"q4_1", native.Q4_1, native.Q4_1R16, gguf.TensorQ4_1},
		{"q5_1", native.Q5_1, native.Q5_1R16, gguf.TensorQ5_1},
	} {
		t.Run(tc.preset, func(t *testing.T) {
			_, canRepack := native.RepackType(tc.src)
			qp, err := quantize.LookupPreset(tc.preset)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), fmt.Sprintf("tiny-256-%s.gguf", tc.preset))
			if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Quantize: &qp, Seed: 9}); err != nil {
				t.Fatal(err)
			}
			packed := loadModel(t, path, WithRepack(true))
			inPlace := loadModel(t, path, WithRepack(false))
			count := 0
			for _, ti := range packed.File().Tensors() {
				if ti.Type == tc.tensor {
					count++
				}
			}
			st := packed.Repacked()
			t.Logf("%d %v tensors; repacked %d tensors (%s), %d bytes, in %v", count, tc.src, st.Tensors, st.Type, st.Bytes, st.Took)
			if count == 0 || strings.Contains(st.Type, tc.dst.String()) != canRepack || inPlace.Repacked().Tensors != 0 {
				t.Fatalf("%d %v tensors, repacked into %q (this CPU has a layout: %v), %d tensors with repacking off",
					count, tc.src, st.Type, canRepack, inPlace.Repacked().Tensors)
			}
			requireSameLogits(t, "repacked", packed, "in place", inPlace, smallVocabLogits)
		})
	}
}
