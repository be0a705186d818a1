package model

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/native"
)

// TestHiddenStates checks Batch.Hidden: the head applied to a token's
// hidden state by hand gives the logits Forward computes for that token,
// and asking for hidden states does not change the logits.
func TestHiddenStates(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "testdata", "stories260K-f32.gguf"))
	c := m.Config
	if m.Weights.Output.Type != native.F32 {
		t.Skipf("output is %v, want f32", m.Weights.Output.Type)
	}
	kv, err := m.NewKVCache(4, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int32{1, 403, 407, 261, 378, 10}
	n := len(tokens)
	b := &Batch{KV: kv, Tokens: tokens, Pos: make([]int32, n), Seq: make([]int32, n),
		Seqs: []SeqState{{BlockTable: []int32{0}, CtxLen: n}}, Hidden: make([]float32, n*c.NEmbd)}
	for i := range b.Pos {
		b.Pos[i] = int32(i)
	}
	logits := make([]float32, c.NVocab)
	if err := m.Forward(b, logits); err != nil {
		t.Fatal(err)
	}
	last := b.Hidden[(n-1)*c.NEmbd : n*c.NEmbd]
	w := m.Weights.Output.Data
	maxDiff := 0.0
	for v := range c.NVocab {
		var dot float64
		for k := range c.NEmbd {
			wk := math.Float32frombits(binary.LittleEndian.Uint32(w[4*(v*c.NEmbd+k):]))
			dot += float64(wk) * float64(last[k])
		}
		maxDiff = max(maxDiff, math.Abs(dot-float64(logits[v])))
	}
	if maxDiff > 1e-3 {
		t.Errorf("head(hidden) differs from the logits by %g", maxDiff)
	}

	b.Hidden = nil
	again := make([]float32, c.NVocab)
	if err := m.Forward(b, again); err != nil {
		t.Fatal(err)
	}
	for v := range again {
		if again[v] != logits[v] {
			t.Fatalf("logit %d: %g with Hidden, %g without", v, logits[v], again[v])
		}
	}
	b.Hidden = make([]float32, 3)
	if err := m.Forward(b, again); err == nil {
		t.Error("a short Hidden was accepted")
	}
}
