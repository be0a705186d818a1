package control

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// newModelEngine serves ../shared's stories260K (a real model) with a pool
// of numBlocks blocks of 16 tokens.
func newModelEngine(t testing.TB, numBlocks int, cfg Config) *Engine {
	t.Helper()
	return newWrappedModelEngine(t, numBlocks, cfg, func(x Executor) Executor { return x })
}

// loadExecutor loads the model file at path (closed when t ends) with its
// tokenizer and an executor of numBlocks 16-token blocks of kvType.
func loadExecutor(t testing.TB, path string, numBlocks int, kvType native.Type) (*tokenizer.Tokenizer, *model.Executor) {
	t.Helper()
	m, err := model.Load(path, model.WithMaxBatchTokens(128))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	tok, err := tokenizer.FromGGUF(m.File())
	if err != nil {
		t.Fatal(err)
	}
	x, err := model.NewExecutor(m, numBlocks, 16, kvType)
	if err != nil {
		t.Fatal(err)
	}
	return tok, x
}

// newWrappedModelEngine is newModelEngine with the executor wrapped.
func newWrappedModelEngine(t testing.TB, numBlocks int, cfg Config, wrap func(Executor) Executor) *Engine {
	t.Helper()
	storiesTokenizer(t) // skips without ../shared
	p, _ := filepath.Abs("../../shared/models/stories260K.gguf")
	tok, x := loadExecutor(t, p, numBlocks, native.F32)
	e, err := New(wrap(x), tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// storyPrompt is a prompt of the model's own vocabulary.
func storyPrompt(i, n int) []int32 {
	p := []int32{1}
	for j := 1; j < n; j++ {
		p = append(p, int32(259+(i*31+j*17)%250))
	}
	return p
}

// TestModelBatchInvariance: with greedy sampling, 16 concurrent requests on
// the real model produce exactly the tokens each produces alone.
func TestModelBatchInvariance(t *testing.T) {
	e := newModelEngine(t, 256, Config{MaxBatchTokens: 96})
	const n = 16
	req := func(i int) Request { return greedyReq(storyPrompt(i, 3+9*i), 40) }
	alone := make([]result, n)
	for i := range n {
		alone[i] = run(t, e, req(i))
	}
	together := runConcurrently(t, e, n, req)
	for i := range n {
		if !slices.Equal(alone[i].tokens, together[i].tokens) || alone[i].text != together[i].text {
			t.Errorf("request %d:\nalone    %q\ntogether %q", i, alone[i].text, together[i].text)
		}
	}
}

// TestModelPreemption: a pool that holds about four sequences completes 16
// requests with the unconstrained outputs, recomputing preempted ones.
func TestModelPreemption(t *testing.T) {
	const n = 16
	req := func(i int) Request { return greedyReq(storyPrompt(i, 30+i), 60) } // 90-105 tokens: 6-7 blocks
	want := runConcurrently(t, newModelEngine(t, 512, Config{}), n, req)
	small := newModelEngine(t, 28, Config{})
	got := runConcurrently(t, small, n, req)
	for i := range n {
		if !slices.Equal(want[i].tokens, got[i].tokens) {
			t.Errorf("request %d: %v, want %v", i, got[i].tokens, want[i].tokens)
		}
	}
	m := small.Metrics()
	if m.Preemptions == 0 {
		t.Error("no preemption happened")
	}
	if m.KV.UsedBlocks != 0 {
		t.Errorf("blocks left in use: %+v", m.KV)
	}
	t.Logf("%d preemptions", m.Preemptions)
}

// TestModelGreedyMatchesReference: the engine reproduces stories260K's
// greedy continuation from BOS (the same ids as engine/generate).
func TestModelGreedyMatchesReference(t *testing.T) {
	e := newModelEngine(t, 64, Config{})
	a := run(t, e, greedyReq([]int32{1}, 59))
	b := run(t, e, greedyReq([]int32{1}, 59))
	if !slices.Equal(a.tokens, b.tokens) || len(a.tokens) != 59 {
		t.Fatalf("two greedy runs differ or are short: %v / %v", a, b)
	}
	want := []int32{403, 407, 261, 378, 432, 383, 286, 261, 376, 298}
	if !slices.Equal(a.tokens[:len(want)], want) {
		t.Errorf("first tokens %v, want %v (llama2.c reference)", a.tokens[:len(want)], want)
	}
}
