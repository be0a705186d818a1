package control

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// hideWindow wraps an executor so the engine does not see its attention
// window: every block stays held, the reference behaviour.
type hideWindow struct{ Executor }

// newWindowedEngine serves the tiny llama preset (random weights, a
// 1024-token context) with a sliding window on every layer, over a pool of
// numBlocks blocks of 16 tokens. hide keeps the window from the engine.
func newWindowedEngine(t *testing.T, window, numBlocks int, cfg Config, hide bool) *Engine {
	t.Helper()
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.NCtx, p.SlidingWindow, p.QKStd = 1024, window, 0.15
	path := filepath.Join(t.TempDir(), "tiny-window.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	tok, x := loadExecutor(t, path, numBlocks, native.F32)
	var exec Executor = x
	if hide {
		exec = hideWindow{x}
	}
	e, err := New(exec, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// windowPrompt is a prompt of the tiny vocabulary.
func windowPrompt(i, n int) []int32 {
	p := make([]int32, n)
	for j := range p {
		p[j] = int32(3 + (i*53+j*29)%300)
	}
	return p
}

func longGreedy(p []int32, n int) Request {
	r := greedyReq(p, n)
	r.IgnoreEOS = true
	return r
}

// TestWindowBoundsBlocks: four 300-token generations of a model with a
// 24-token window run at once in a pool of 24 blocks (384 slots), which
// could not hold even two of them whole. The windowed engine releases the
// blocks that leave the window, so nothing is preempted and each sequence
// holds at most ceil(24/16)+2 blocks at a time; the outputs are those of
// an engine that keeps every block (a big pool with the window hidden).
func TestWindowBoundsBlocks(t *testing.T) {
	const n, window, gen = 4, 24, 300
	req := func(i int) Request { return longGreedy(windowPrompt(i, 10+3*i), gen) }
	want := runConcurrently(t, newWindowedEngine(t, window, 128, Config{SessionLen: 512}, true), n, req)

	e := newWindowedEngine(t, window, 24, Config{SessionLen: 384}, false)
	got := runConcurrently(t, e, n, req)
	for i := range n {
		if len(got[i].tokens) != gen || !slices.Equal(got[i].tokens, want[i].tokens) {
			t.Errorf("request %d: %d tokens, equal to keeping every block: %v", i, len(got[i].tokens), slices.Equal(got[i].tokens, want[i].tokens))
		}
	}
	m := e.Metrics()
	perSeq := (window+15)/16 + 2
	if m.Preemptions != 0 || m.KV.PeakUsedBlocks > n*perSeq || m.KV.WindowReleases == 0 || m.KV.UsedBlocks != 0 {
		t.Errorf("preemptions %d, peak used blocks %d (want <= %d), window releases %d, used at the end %d",
			m.Preemptions, m.KV.PeakUsedBlocks, n*perSeq, m.KV.WindowReleases, m.KV.UsedBlocks)
	}
	t.Logf("peak used blocks %d of 24, window releases %d", m.KV.PeakUsedBlocks, m.KV.WindowReleases)
}

// TestWindowPrefixCacheAndSessions: with released blocks, a repeated prompt
// still hits the prefix cache (its chain stays cached), a session's
// follow-up prefills only its new tokens, and both give the outputs of an
// engine that keeps every block and caches nothing.
func TestWindowPrefixCacheAndSessions(t *testing.T) {
	const window = 24
	ref := newWindowedEngine(t, window, 128, Config{SessionLen: 1024}, true)
	e := newWindowedEngine(t, window, 64, Config{SessionLen: 1024, PrefixCaching: true}, false)

	p1 := windowPrompt(1, 70)
	turn1 := longGreedy(p1, 40)
	turn1.SessionID = "s"
	r1 := run(t, e, turn1)
	if w := run(t, ref, longGreedy(p1, 40)); !slices.Equal(r1.tokens, w.tokens) {
		t.Fatalf("first turn differs from the reference")
	}
	hist := append(slices.Clone(p1), r1.tokens...)
	p2 := append(slices.Clone(hist), 7, 8, 9)
	turn2 := longGreedy(p2, 40)
	turn2.SessionID = "s"
	r2 := run(t, e, turn2)
	if got, want := r2.last.Usage.CachedTokens, len(hist)-1; got != want {
		t.Errorf("session turn reused %d tokens, want %d", got, want)
	}
	if w := run(t, ref, longGreedy(p2, 40)); !slices.Equal(r2.tokens, w.tokens) {
		t.Errorf("session turn differs from the reference")
	}
	if !e.EndSession("s") {
		t.Fatal("no session")
	}
	// The same first prompt again: its 4 full blocks (64 tokens) are still
	// cached although the session had released the first ones.
	r3 := run(t, e, longGreedy(p1, 40))
	if r3.last.Usage.CachedTokens != 64 || !slices.Equal(r3.tokens, r1.tokens) {
		t.Errorf("repeated prompt: cached %d tokens (want 64), same output %v", r3.last.Usage.CachedTokens, slices.Equal(r3.tokens, r1.tokens))
	}
	m := e.Metrics()
	if m.KV.WindowReleases == 0 || m.KV.UsedBlocks != 0 {
		t.Errorf("window releases %d, used blocks at the end %d", m.KV.WindowReleases, m.KV.UsedBlocks)
	}
}
