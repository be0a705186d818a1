package model

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// TestLlamaSlidingWindow: a llama file declaring attention.sliding_window
// (Mistral 7B v0.1) windows every layer. Within the window the logits are
// those of the unwindowed model (up to the two kernels' summation order);
// past it they differ; and the windowed model keeps decode ≡ prefill.
func TestLlamaSlidingWindow(t *testing.T) {
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.QKStd = 0.15
	dir := t.TempDir()
	plain, windowed := filepath.Join(dir, "plain.gguf"), filepath.Join(dir, "windowed.gguf")
	if err := synth.Write(plain, synth.Options{Preset: p, Type: native.F16, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	p.SlidingWindow = 8
	if err := synth.Write(windowed, synth.Options{Preset: p, Type: native.F16, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	mp, mw := loadModel(t, plain), loadModel(t, windowed)
	for i, l := range mw.Config.Layers {
		if l.Window != 8 {
			t.Fatalf("layer %d: window %d, want 8", i, l.Window)
		}
	}
	ids := make([]int32, 24)
	for i := range ids {
		ids[i] = int32((i*29 + 3) % mw.Config.NVocab)
	}
	eval := func(m *Model, ids []int32, step int) []float32 {
		s, err := m.NewSession(len(ids), native.F32)
		if err != nil {
			t.Fatal(err)
		}
		var logits []float32
		for i := 0; i < len(ids); i += step {
			if logits, err = s.Eval(ids[i:min(i+step, len(ids))]); err != nil {
				t.Fatal(err)
			}
		}
		return slices.Clone(logits)
	}
	if d := maxDiff(eval(mw, ids[:8], 8), eval(mp, ids[:8], 8)); d > 1e-5 {
		t.Errorf("8 tokens, inside the window: windowed and plain differ by %.3g", d)
	}
	if d := maxDiff(eval(mw, ids, 24), eval(mp, ids, 24)); d < 1e-3 {
		t.Errorf("24 tokens, past the window: windowed and plain differ by only %.3g", d)
	}
	want := eval(mw, ids, 24)
	for _, step := range []int{1, 5} {
		if got := eval(mw, ids, step); !slices.Equal(got, want) {
			t.Errorf("chunks of %d: logits differ from one prefill (max |Δ| %.3g)", step, maxDiff(got, want))
		}
	}
}
