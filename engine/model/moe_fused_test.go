package model

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// withPerExpert runs MoE layers expert by expert: the reference the fused
// native.MoEFFN path must match bit for bit.
func withPerExpert() Option {
	return func(o *options) error {
		o.perExpert = true
		return nil
	}
}

// synthMoE writes a small MoE model whose widths are whole Q8_K blocks, so
// its K-quant experts take the fused path: Q4_K_M makes gate/up Q4_K and
// ffn_down Q4_K in layer 0, Q6_K in layer 1 (llama.cpp's use_more_bits).
func synthMoE(t *testing.T, p synth.Preset, quant string) string {
	t.Helper()
	qp, err := quantize.LookupPreset(quant)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), p.Name+"-"+quant+".gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Quantize: &qp, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	return path
}

func moePresets() []synth.Preset {
	base := synth.Preset{NEmbd: 256, NLayer: 2, NHead: 4, NHeadKV: 2, HeadDimOverride: 64, NFF: 256, NVocab: 512, NCtx: 256,
		RopeBase: 1000000, RMSEps: 1e-6, QKStd: 0.15, NExpert: 8, NExpertUsed: 3, NFFExp: 256}
	q3 := base
	q3.Name, q3.Arch, q3.QKNorm = "moe-qwen3", "qwen3moe", true
	q2 := base
	q2.Name, q2.Arch, q2.QKVBias, q2.NFFShexp = "moe-qwen2", "qwen2moe", true, 256
	mx := base
	mx.Name, mx.Arch, mx.NExpert, mx.NExpertUsed = "moe-mixtral", "llama", 4, 2
	return []synth.Preset{q3, q2, mx}
}

// TestMoEFusedBitIdentical: K-quant MoE models (qwen3moe, qwen2moe with its
// shared expert, Mixtral-style llama) give the same logits bit for bit
// through the fused native.MoEFFN as expert by expert, with 1 and 2 threads,
// on a batch of a prefill next to a decode; and the fused path keeps the
// batch contract (a sequence's logits do not depend on what shares its
// batch) and decode ≡ prefill.
func TestMoEFusedBitIdentical(t *testing.T) {
	defer native.Init(0)
	for _, p := range moePresets() {
		for _, quant := range []string{"q4_k_m", "iq4_xs"} {
			t.Run(p.Name+"-"+quant, func(t *testing.T) {
				path := synthMoE(t, p, quant)
				fused := loadModel(t, path)
				ref := loadModel(t, path, withPerExpert())
				for i := range fused.Weights.Layers {
					if !fused.fusedExperts(&fused.Weights.Layers[i]) {
						l := &fused.Weights.Layers[i]
						t.Fatalf("layer %d (%v/%v/%v) does not take the fused path", i, l.GateExps.Type, l.UpExps.Type, l.DownExps.Type)
					}
				}
				for _, threads := range []int{1, 2} {
					if err := native.Init(threads); err != nil {
						t.Fatal(err)
					}
					got, want := twoSeqLogits(t, fused), twoSeqLogits(t, ref)
					for step := range want {
						for i := range want[step] {
							if math.Float32bits(got[step][i]) != math.Float32bits(want[step][i]) {
								t.Fatalf("threads=%d step %d logit %d: fused %v, per expert %v", threads, step, i, got[step][i], want[step][i])
							}
						}
					}
					checkBatchConsistency(t, fused, native.F32)
					checkDecodeIsPrefill(t, fused)
				}
			})
		}
	}
}

// checkDecodeIsPrefill: a 40-token prompt evaluated in one chunk with every
// position's logits equals the same prompt decoded one token at a time.
func checkDecodeIsPrefill(t *testing.T, m *Model) {
	t.Helper()
	toks := make([]int32, 40) // 40 tokens × 3 of 8 experts: most experts take more rows than the GEMV
	for i := range toks {
		toks[i] = int32((i*37 + 11) % m.Config.NVocab)
	}
	vocab := m.Config.NVocab
	table := []int32{2, 0, 3}
	run := func(chunk int) [][]float32 {
		kv, err := m.NewKVCache(4, 16, native.F32)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for from := 0; from < len(toks); from += chunk {
			to := min(from+chunk, len(toks))
			b := &Batch{KV: kv, Seqs: []SeqState{{BlockTable: table, CtxLen: to}}}
			for p := from; p < to; p++ {
				b.Tokens, b.Pos, b.Seq = append(b.Tokens, toks[p]), append(b.Pos, int32(p)), append(b.Seq, 0)
				b.Outputs = append(b.Outputs, int32(p-from))
			}
			logits := make([]float32, (to-from)*vocab)
			if err := m.Forward(b, logits); err != nil {
				t.Fatal(err)
			}
			for i := range to - from {
				out = append(out, logits[i*vocab:(i+1)*vocab])
			}
		}
		return out
	}
	prefill, decode := run(len(toks)), run(1)
	for p := range prefill {
		for i := range prefill[p] {
			if math.Float32bits(prefill[p][i]) != math.Float32bits(decode[p][i]) {
				t.Fatalf("position %d logit %d: prefill %v, decode %v", p, i, prefill[p][i], decode[p][i])
			}
		}
	}
}
