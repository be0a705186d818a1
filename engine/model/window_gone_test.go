package model

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/batch"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// tinyWindowed writes and loads the tiny llama preset with the given
// sliding window on every layer (0: none).
func tinyWindowed(t *testing.T, window int) *Model {
	t.Helper()
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.QKStd, p.SlidingWindow = 0.15, window
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	return loadModel(t, path)
}

// TestKVWindow: the span a scheduler may drop K/V beyond is the window
// when every layer has one, and nothing for models with global layers.
func TestKVWindow(t *testing.T) {
	tests := []struct {
		name   string
		layers []LayerConfig
		want   int
	}{
		{"no layers windowed", []LayerConfig{{}, {}}, 0},
		{"every layer windowed", []LayerConfig{{Window: 8}, {Window: 8}}, 8},
		{"different windows", []LayerConfig{{Window: 8}, {Window: 32}}, 32},
		{"a global layer among windowed ones (gemma2/3)", []LayerConfig{{Window: 8}, {}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Layers: tt.layers}
			if got := c.KVWindow(); got != tt.want {
				t.Fatalf("KVWindow() = %d, want %d", got, tt.want)
			}
		})
	}
	if w := tinyWindowed(t, 8).Config.KVWindow(); w != 8 {
		t.Fatalf("a llama file with attention.sliding_window 8: KVWindow %d", w)
	}
}

// TestForwardGoneBlocks: a windowed model decodes with the blocks before
// the window marked gone exactly as with them present, even when their
// contents are destroyed; gone entries the step would read are refused, as
// are gone entries for a model with global layers.
func TestForwardGoneBlocks(t *testing.T) {
	const bs, window, n = 4, 8, 24
	m := tinyWindowed(t, window)
	kv, err := m.NewKVCache(16, bs, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, n+1)
	for i := range ids {
		ids[i] = int32((i*37 + 5) % m.Config.NVocab)
	}
	full := []int32{0, 1, 2, 3, 4, 5, 6}
	fwd := func(table []int32, toks []int32, start int) ([]float32, error) {
		b := &Batch{KV: kv, Tokens: toks, Pos: make([]int32, len(toks)), Seq: make([]int32, len(toks)),
			Seqs: []SeqState{{BlockTable: table, CtxLen: start + len(toks)}}}
		for i := range toks {
			b.Pos[i] = int32(start + i)
		}
		logits := make([]float32, m.Config.NVocab)
		err := m.Forward(b, logits)
		return logits, err
	}
	if _, err := fwd(full, ids[:n], 0); err != nil {
		t.Fatal(err)
	}
	want, err := fwd(full, ids[n:], n)
	if err != nil {
		t.Fatal(err)
	}
	// Destroy blocks 0..3 (positions 0..15): the query at 24 reads 17..24.
	for b := 0; b < 4; b++ {
		if err := kv.CopyBlock(9, b); err != nil {
			t.Fatal(err)
		}
	}
	gone := batch.GoneBlock
	got, err := fwd([]int32{gone, gone, gone, gone, 4, 5, 6}, ids[n:], n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("with the blocks before the window gone: max |Δlogit| %.3g, want bit-identical", maxDiff(got, want))
	}
	bad := []struct {
		name  string
		table []int32
	}{
		{"a gone block inside the window", []int32{gone, gone, gone, gone, gone, 5, 6}},
		{"the block being written gone", []int32{0, 1, 2, 3, 4, 5, gone}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := fwd(tt.table, ids[n:], n); !errors.Is(err, ErrBatch) {
				t.Fatalf("err %v, want ErrBatch", err)
			}
		})
	}
	t.Run("a model with a global layer", func(t *testing.T) {
		g := tinyWindowed(t, 0)
		gkv, err := g.NewKVCache(16, bs, native.F32)
		if err != nil {
			t.Fatal(err)
		}
		b := &Batch{KV: gkv, Tokens: ids[:1], Pos: []int32{20}, Seq: []int32{0},
			Seqs: []SeqState{{BlockTable: []int32{gone, 1, 2, 3, 4, 5}, CtxLen: 21}}}
		if err := g.Forward(b, make([]float32, g.Config.NVocab)); !errors.Is(err, ErrBatch) {
			t.Fatalf("err %v, want ErrBatch", err)
		}
	})
}
