package model

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/native"
)

// seqRun is one sequence fed to Forward in steps, with its own blocks.
type seqRun struct {
	tokens []int32 // all tokens, fed in chunks
	blocks []int32
}

// chunkBatch appends r's tokens [from, to) to b as its next sequence.
func chunkBatch(b *Batch, r seqRun, from, to int) {
	for p := from; p < to; p++ {
		b.Tokens = append(b.Tokens, r.tokens[p])
		b.Pos = append(b.Pos, int32(p))
		b.Seq = append(b.Seq, int32(len(b.Seqs)))
	}
	b.Seqs = append(b.Seqs, SeqState{BlockTable: r.blocks, CtxLen: to})
}

// TestBatchConsistency checks that sequences evaluated together in one
// Forward (a prefill next to a prefill, then a decode next to a prefill
// chunk) get bit-identical logits to the same sequences evaluated alone.
func TestBatchConsistency(t *testing.T) {
	shared := sharedDir(t)
	for _, name := range []string{"stories260K-q8_0", "tiny-qwen2-f16", "tiny-smollm2-f32"} {
		t.Run(name, func(t *testing.T) {
			m := loadModel(t, filepath.Join(shared, "testdata", name+".gguf"))
			for _, kvType := range []native.Type{native.F32, native.F16, native.Q8_0} {
				t.Run(kvType.String(), func(t *testing.T) {
					checkBatchConsistency(t, m, kvType)
				})
			}
		})
	}
}

func checkBatchConsistency(t *testing.T, m *Model, kvType native.Type) {
	const bs = 4
	vocab := m.Config.NVocab
	a := seqRun{tokens: []int32{1, 403, 407, 261, 378, 9, 30, 100, 7}, blocks: []int32{5, 1, 7}}
	b := seqRun{tokens: []int32{1, 20, 21, 22, 23, 24, 25, 26}, blocks: []int32{0, 6}}
	for i := range a.tokens { // the same ids for every vocabulary of 408 or more
		a.tokens[i] %= int32(vocab)
	}
	// Steps: a prefills 0..5 while b prefills 0..3; then a decodes 5..6
	// while b prefills 3..8; then a prefills 6..9 alone in the batch too.
	type span struct{ from, to int }
	steps := [][2]span{{{0, 5}, {0, 3}}, {{5, 6}, {3, 8}}, {{6, 9}, {8, 8}}}

	alone := func(r seqRun, which int) [][]float32 {
		kv, err := m.NewKVCache(8, bs, kvType)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, st := range steps {
			sp := st[which]
			if sp.from == sp.to {
				continue
			}
			var bt Batch
			bt.KV = kv
			chunkBatch(&bt, r, sp.from, sp.to)
			logits := make([]float32, vocab)
			if err := m.Forward(&bt, logits); err != nil {
				t.Fatal(err)
			}
			out = append(out, logits)
		}
		return out
	}
	wantA, wantB := alone(a, 0), alone(b, 1)

	kv, err := m.NewKVCache(8, bs, kvType)
	if err != nil {
		t.Fatal(err)
	}
	var gotA, gotB [][]float32
	for _, st := range steps {
		bt := Batch{KV: kv}
		runs := []seqRun{a, b}
		var who []int
		for i, sp := range st {
			if sp.from < sp.to {
				chunkBatch(&bt, runs[i], sp.from, sp.to)
				who = append(who, i)
			}
		}
		logits := make([]float32, len(who)*vocab)
		if err := m.Forward(&bt, logits); err != nil {
			t.Fatal(err)
		}
		for j, i := range who {
			row := logits[j*vocab : (j+1)*vocab]
			if i == 0 {
				gotA = append(gotA, row)
			} else {
				gotB = append(gotB, row)
			}
		}
	}
	for name, pair := range map[string][2][][]float32{"a": {gotA, wantA}, "b": {gotB, wantB}} {
		got, want := pair[0], pair[1]
		if len(got) != len(want) {
			t.Fatalf("sequence %s: %d logit rows, want %d", name, len(got), len(want))
		}
		for i := range got {
			if d := maxDiff(got[i], want[i]); !slices.Equal(got[i], want[i]) {
				t.Errorf("sequence %s step %d: batched logits differ from alone (max |Δ| %.3g)", name, i, d)
			}
		}
	}
}

// TestOutputsAllRows checks that asking for every row of a prefill gives,
// at each position, the logits of feeding the tokens one at a time, and
// that the last row is the default output.
func TestOutputsAllRows(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "testdata", "stories260K-f32.gguf"))
	toks := []int32{1, 403, 407, 261, 378, 432}
	vocab := m.Config.NVocab
	kv, err := m.NewKVCache(2, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.KV = kv
	chunkBatch(&b, seqRun{tokens: toks, blocks: []int32{1}}, 0, len(toks))
	b.Outputs = make([]int32, len(toks))
	for i := range b.Outputs {
		b.Outputs[i] = int32(i)
	}
	all := make([]float32, len(toks)*vocab)
	if err := m.Forward(&b, all); err != nil {
		t.Fatal(err)
	}
	s, err := m.NewSession(len(toks), native.F32)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		one, err := s.Eval([]int32{tok})
		if err != nil {
			t.Fatal(err)
		}
		// Prefill and decode share attention bit for bit, but the matmul of
		// m rows may sum in another order than m = 1; allow float32 noise.
		if d := maxDiff(all[i*vocab:(i+1)*vocab], one); d > 1e-4 {
			t.Errorf("row %d: max |Δ| %.3g vs token-by-token", i, d)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// TestBadBatch checks that malformed batches are errors, not panics.
func TestBadBatch(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "testdata", "stories260K-f32.gguf"), WithMaxBatchTokens(8))
	kv, err := m.NewKVCache(4, 4, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	good := func() *Batch {
		return &Batch{KV: kv, Tokens: []int32{1, 2, 3}, Pos: []int32{0, 1, 2}, Seq: []int32{0, 0, 0},
			Seqs: []SeqState{{BlockTable: []int32{2}, CtxLen: 3}}}
	}
	logits := make([]float32, 3*m.Config.NVocab)
	if err := m.Forward(good(), logits); err != nil {
		t.Fatalf("good batch: %v", err)
	}
	tests := []struct {
		name string
		mod  func(b *Batch)
	}{
		{"nil kv", func(b *Batch) { b.KV = nil }},
		{"no tokens", func(b *Batch) { b.Tokens, b.Pos, b.Seq = nil, nil, nil }},
		{"too many tokens", func(b *Batch) {
			b.Tokens = make([]int32, 9)
			b.Pos, b.Seq = make([]int32, 9), make([]int32, 9)
		}},
		{"short pos", func(b *Batch) { b.Pos = b.Pos[:2] }},
		{"token id", func(b *Batch) { b.Tokens[1] = 512 }},
		{"negative token", func(b *Batch) { b.Tokens[0] = -1 }},
		{"position", func(b *Batch) { b.Pos[2] = 7 }},
		{"seq index", func(b *Batch) { b.Seq[2] = 1 }},
		{"negative seq", func(b *Batch) { b.Seq[0] = -1 }},
		{"no seqs", func(b *Batch) { b.Seqs = nil }},
		{"ctx too short", func(b *Batch) { b.Seqs[0].CtxLen = 2 }},
		{"zero ctx", func(b *Batch) { b.Seqs[0].CtxLen = 0 }},
		{"short block table", func(b *Batch) { b.Seqs[0].CtxLen = 5; b.Pos = []int32{2, 3, 4} }},
		{"block out of range", func(b *Batch) { b.Seqs[0].BlockTable = []int32{4} }},
		{"negative block", func(b *Batch) { b.Seqs[0].BlockTable = []int32{-1} }},
		{"slot mismatch", func(b *Batch) { b.Slots = []int32{8, 9, 11} }},
		{"slots length", func(b *Batch) { b.Slots = []int32{8} }},
		{"outputs order", func(b *Batch) { b.Outputs = []int32{2, 1} }},
		{"outputs range", func(b *Batch) { b.Outputs = []int32{3} }},
		{"logits short", func(b *Batch) { b.Outputs = []int32{0, 1, 2} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good()
			tt.mod(b)
			out := logits
			if tt.name == "logits short" {
				out = logits[:2*m.Config.NVocab]
			}
			err := m.Forward(b, out)
			if err == nil {
				t.Fatal("Forward accepted a bad batch")
			}
			if !errors.Is(err, ErrBatch) {
				t.Errorf("error %v is not ErrBatch", err)
			}
		})
	}
	t.Run("slots ok", func(t *testing.T) {
		b := good()
		b.Slots = []int32{8, 9, 10}
		if err := m.Forward(b, logits); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("kv cache args", func(t *testing.T) {
		for _, c := range []struct {
			n, bs int
			typ   native.Type
		}{{0, 16, native.F32}, {1, 0, native.F32}, {1, 16, native.Q4_0}} {
			if _, err := m.NewKVCache(c.n, c.bs, c.typ); err == nil {
				t.Errorf("NewKVCache(%d, %d, %v) accepted", c.n, c.bs, c.typ)
			}
		}
	})
	t.Run("session", func(t *testing.T) {
		s, err := m.NewSession(4, native.F16)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Eval(nil); err == nil {
			t.Error("Eval(nil) accepted")
		}
		if _, err := s.Eval(make([]int32, 17)); err == nil {
			t.Error("Eval beyond the session's capacity accepted")
		}
		if _, err := m.NewSession(0, native.F32); err == nil {
			t.Error("NewSession(0) accepted")
		}
	})
}

// TestForwardAllocs checks that a steady-state Forward allocates nothing of
// its own: the scratch is sized at load and the plan's buffers are reused.
// Only the cgo binding is held to it: purego's reflective calls allocate on
// every kernel call by design (it is the no-C-toolchain fallback).
func TestForwardAllocs(t *testing.T) {
	paths := []string{filepath.Join(sharedDir(t), "testdata", "tiny-qwen2-f16.gguf")}
	for _, ac := range archCases() { // every architecture hook, MoE routing included
		paths = append(paths, archPath(ac.name, ".gguf"))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			checkForwardAllocs(t, loadModel(t, path))
		})
	}
}

func checkForwardAllocs(t *testing.T, m *Model) {
	kv, err := m.NewKVCache(4, 16, native.F16)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.KV = kv
	chunkBatch(&b, seqRun{tokens: []int32{1, 2, 3, 4, 5}, blocks: []int32{3}}, 0, 5)
	chunkBatch(&b, seqRun{tokens: []int32{6, 7}, blocks: []int32{1}}, 0, 2)
	logits := make([]float32, 2*m.Config.NVocab)
	if err := m.Forward(&b, logits); err != nil {
		t.Fatal(err)
	}
	if native.Binding != "cgo" {
		t.Skipf("the %s binding allocates per kernel call by design", native.Binding)
	}
	const allowed = 0
	if n := testing.AllocsPerRun(5, func() {
		if err := m.Forward(&b, logits); err != nil {
			t.Fatal(err)
		}
	}); n > float64(allowed) {
		t.Errorf("Forward allocates %v times per call with the %s binding, want <= %d", n, native.Binding, allowed)
	}
}

// TestKVOnlyStep: empty Outputs fill the K/V cache without computing a head,
// and decoding after such a chunk gives the logits of evaluating at once.
func TestKVOnlyStep(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "testdata", "stories260K-q8_0.gguf"))
	toks := []int32{1, 403, 407, 261, 378, 9}
	run := func(split int) []float32 {
		kv, err := m.NewKVCache(4, 4, native.F32)
		if err != nil {
			t.Fatal(err)
		}
		table := []int32{2, 0, 3, 1}
		step := func(from, to int, outputs []int32, logits []float32) {
			b := &Batch{KV: kv, Seqs: []SeqState{{BlockTable: table, CtxLen: to}}, Outputs: outputs}
			for p := from; p < to; p++ {
				b.Tokens, b.Pos, b.Seq = append(b.Tokens, toks[p]), append(b.Pos, int32(p)), append(b.Seq, 0)
			}
			if err := m.Forward(b, logits); err != nil {
				t.Fatal(err)
			}
		}
		logits := make([]float32, m.Config.NVocab)
		if split > 0 {
			step(0, split, []int32{}, nil)
		}
		step(split, len(toks), nil, logits)
		return logits
	}
	if a, b := run(0), run(4); !slices.Equal(a, b) {
		t.Error("logits after a K/V-only chunk differ from one pass")
	}
}
