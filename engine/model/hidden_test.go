package model

import (
	"context"
	"encoding/binary"
	"errors"
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

// TestSessionEmbed: Session.Embed is the unit-length mean of the hidden
// states one Forward gives (up to the float64 sum's rounding), the same bit
// for bit whether the input runs in one chunk or in chunks of 3, and a
// cancelled context stops it.
func TestSessionEmbed(t *testing.T) {
	path := filepath.Join(sharedDir(t), "testdata", "stories260K-f32.gguf")
	tokens := []int32{1, 403, 407, 261, 378, 10, 286, 261}
	n := len(tokens)
	whole := loadModel(t, path)
	c := whole.Config
	kv, err := whole.NewKVCache(1, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{KV: kv, Tokens: tokens, Pos: make([]int32, n), Seq: make([]int32, n),
		Seqs: []SeqState{{BlockTable: []int32{0}, CtxLen: n}}, Outputs: []int32{}, Hidden: make([]float32, n*c.NEmbd)}
	for i := range b.Pos {
		b.Pos[i] = int32(i)
	}
	if err := whole.Forward(b, nil); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, c.NEmbd)
	var ss float64
	for k := range want {
		for i := range n {
			want[k] += float64(b.Hidden[i*c.NEmbd+k])
		}
		ss += want[k] * want[k]
	}
	embed := func(m *Model) []float32 {
		s, err := m.NewSession(n, native.F32)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Embed(t.Context(), tokens)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != n {
			t.Fatalf("session holds %d tokens after Embed, want %d", s.Len(), n)
		}
		return v
	}
	one := embed(whole)
	for k, v := range one {
		if d := math.Abs(float64(v) - want[k]/math.Sqrt(ss)); d > 1e-6 {
			t.Fatalf("element %d: %g, want %g", k, v, want[k]/math.Sqrt(ss))
		}
	}
	chunked := embed(loadModel(t, path, WithMaxBatchTokens(3)))
	for k := range one {
		if one[k] != chunked[k] {
			t.Fatalf("element %d: %g in one chunk, %g in chunks of 3", k, one[k], chunked[k])
		}
	}
	s, err := whole.NewSession(n, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Embed(ctx, tokens); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed on a cancelled context: %v", err)
	}
	if _, err := s.Embed(t.Context(), nil); err == nil {
		t.Error("Embed of no tokens succeeded")
	}
}
