package model

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// repackCase is a model some of whose matrices, of type src, have a
// repacked layout on this CPU.
type repackCase struct {
	name   string
	src    native.Type
	path   func(t *testing.T) string
	logits func(t *testing.T, m *Model) [][]float32
}

// TestRepackBitIdentical: every model below, with its matrices repacked at
// load, gives the logits of the same model used in place, bit for bit, on a
// batch of two prefills and then decodes, with 1 and 2 threads; and the
// repacked layout of the case's type is among those used. Q8_0: dense llama
// (tied head), phi3 (Q, K, V and gate/up are row views of fused tensors)
// and qwen3moe (experts stay in place); Q4_K and Q4_0: the llama-quantize
// test models; Q6_K: a Q4_K_M model's tied head, last attn_v and ffn_down;
// Q5_0: the q4_k_m preset's fallback for 64-long rows; Q5_K, IQ4_XS,
// IQ4_NL, Q4_1 and Q5_1: tiny-256 quantized by those presets.
func TestRepackBitIdentical(t *testing.T) {
	defer native.Init(0)
	cases := []repackCase{
		{"tiny-q8_0", native.Q8_0, synthModel("tiny", native.Q8_0, "", 3), smallVocabLogits},
		{"tiny-phi3-q8_0", native.Q8_0, synthModel("tiny-phi3", native.Q8_0, "", 3), smallVocabLogits},
		{"tiny-qwen3moe-q8_0", native.Q8_0, synthModel("tiny-qwen3moe", native.Q8_0, "", 3), smallVocabLogits},
		{"tiny256-q4_k_m", native.Q4_K, testdataModel("tiny256-q4_k_m.gguf"), smallVocabLogits},
		{"tiny-256-q4_k_m", native.Q6_K, synthModel("tiny-256", native.F16, "q4_k_m", 5), smallVocabLogits},
		{"tiny256-q4_0", native.Q4_0, testdataModel("tiny256-q4_0.gguf"), func(t *testing.T, m *Model) [][]float32 {
			return seqPairLogits(t, m, []int32{1, 203, 207, 61, 278, 9, 400, 511})
		}},
		{"tiny-q4_k_m", native.Q5_0, synthModel("tiny", native.F16, "q4_k_m", 7), smallVocabLogits},
		{"tiny-256-q5_k_m", native.Q5_K, synthModel("tiny-256", native.F16, "q5_k_m", 9), smallVocabLogits},
		{"tiny-256-iq4_xs", native.IQ4_XS, synthModel("tiny-256", native.F16, "iq4_xs", 9), smallVocabLogits},
		{"tiny-256-iq4_nl", native.IQ4_NL, synthModel("tiny-256", native.F16, "iq4_nl", 9), smallVocabLogits},
		{"tiny-256-q4_1", native.Q4_1, synthModel("tiny-256", native.F16, "q4_1", 9), smallVocabLogits},
		{"tiny-256-q5_1", native.Q5_1, synthModel("tiny-256", native.F16, "q5_1", 9), smallVocabLogits},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, canRepack := native.RepackType(c.src)
			path := c.path(t)
			packed := loadModel(t, path, WithRepack(true))
			inPlace := loadModel(t, path, WithRepack(false))
			st := packed.Repacked()
			t.Logf("repacked %d tensors (%s), %d bytes, in %v", st.Tensors, st.Type, st.Bytes, st.Took)
			if strings.Contains(st.Type, c.src.String()+"_r16") != canRepack {
				t.Fatalf("repacked into %q; this CPU has a %s layout: %v", st.Type, c.src, canRepack)
			}
			if inPlace.Repacked().Tensors != 0 {
				t.Fatalf("%d tensors repacked with repacking off", inPlace.Repacked().Tensors)
			}
			requireSameLogits(t, "repacked", packed, "in place", inPlace, c.logits)
		})
	}
}

// synthModel makes a preset's model of type typ (quantized by the quantize
// preset quant, if not empty) in the test's temporary directory.
func synthModel(preset string, typ native.Type, quant string, seed uint64) func(t *testing.T) string {
	return func(t *testing.T) string {
		p, err := synth.LookupPreset(preset)
		if err != nil {
			t.Fatal(err)
		}
		o := synth.Options{Preset: p, Type: typ, Seed: seed}
		if quant != "" {
			q, err := quantize.LookupPreset(quant)
			if err != nil {
				t.Fatal(err)
			}
			o.Quantize = &q
		}
		path := filepath.Join(t.TempDir(), preset+".gguf")
		if err := synth.Write(path, o); err != nil {
			t.Fatal(err)
		}
		return path
	}
}

// testdataModel is a model of testdata/quant (made by llama-quantize).
func testdataModel(name string) func(t *testing.T) string {
	return func(t *testing.T) string { return filepath.Join("testdata", "quant", name) }
}

// smallVocabLogits is twoSeqLogits with token ids below the tiny presets' 320.
func smallVocabLogits(t *testing.T, m *Model) [][]float32 {
	return seqPairLogits(t, m, []int32{1, 203, 207, 61, 278, 9})
}
