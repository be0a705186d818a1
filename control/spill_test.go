package control

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/control/kvcache/spill"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// spillEngine is an engine over stories260K whose prefix cache spills to
// a Cache on dir; close stops the engine (saving its cache), then the Cache.
type spillEngine struct {
	*Engine
	cache *spill.Cache
	store *spill.Store
}

func (s *spillEngine) close() {
	s.Engine.Close()
	s.cache.Close()
}

// newSpillEngine starts an engine of numBlocks 16-token blocks spilling to
// dir (none if dir is empty), on a model loaded afresh as a restarted
// server would.
func newSpillEngine(t *testing.T, dir string, numBlocks int, cfg Config) *spillEngine {
	t.Helper()
	storiesTokenizer(t) // skips without ../shared
	p, _ := filepath.Abs("../../shared/models/stories260K.gguf")
	return newSpillEngineOn(t, p, dir, numBlocks, cfg)
}

// newSpillEngineOn is newSpillEngine serving the model file at path.
func newSpillEngineOn(t *testing.T, path, dir string, numBlocks int, cfg Config) *spillEngine {
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
	x, err := model.NewExecutor(m, numBlocks, 16, native.F16)
	if err != nil {
		t.Fatal(err)
	}
	se := &spillEngine{}
	if dir != "" {
		fp, err := m.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		se.cache, err = spill.Open(spill.Options{Dir: dir, MaxBytes: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		se.store, err = se.cache.Store(spill.Identity{Model: fp, Geometry: x.KVGeometry(), BlockSize: 16, BlockBytes: x.KVBlockBytes()})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Spill = se.store
	}
	cfg.PrefixCaching = true
	se.Engine, err = New(x, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		se.Engine.Close()
		if se.cache != nil {
			se.cache.Close()
		}
	})
	return se
}

// output is what one choice produced, logprobs included (their float bits
// compared: they are the logits' fingerprint).
type output struct {
	tokens   []int32
	logprobs []TokenLogprob
	usage    Usage
}

// runOutputs submits req and collects every choice.
func runOutputs(t *testing.T, e *Engine, req Request) []output {
	t.Helper()
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]output, req.choices())
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return out
			}
			o := &out[ev.Index]
			o.tokens = append(o.tokens, ev.Tokens...)
			o.logprobs = append(o.logprobs, ev.Logprobs...)
			if ev.Err != nil {
				t.Fatalf("choice %d: %v", ev.Index, ev.Err)
			}
			if ev.Usage != nil {
				o.usage = *ev.Usage
			}
		case <-timeout:
			t.Fatal("no final event after 60 s")
		}
	}
}

// spillReq is a greedy request with logprobs over a long prompt.
func spillReq(i, n int) Request {
	r := greedyReq(storyPrompt(i, n), 24)
	r.Logprobs, r.TopLogprobs = true, 5
	return r
}

// TestSpillRestartIsExact: a prompt computed by one engine, saved when it
// closes and loaded by a new engine (new model, new pool, new Cache on the
// same directory) is not recomputed (cached_tokens), and every token and
// logprob equals recomputing it.
func TestSpillRestartIsExact(t *testing.T) {
	dir := t.TempDir()
	req := spillReq(1, 150) // 9 full blocks reusable (the last token is computed)
	want := runOutputs(t, newSpillEngine(t, "", 64, Config{}).Engine, req)[0]

	first := newSpillEngine(t, dir, 64, Config{})
	if got := runOutputs(t, first.Engine, req)[0]; !reflect.DeepEqual(got.tokens, want.tokens) || got.usage.CachedTokens != 0 {
		t.Fatalf("first run: cached %d, tokens %v, want %v", got.usage.CachedTokens, got.tokens, want.tokens)
	}
	first.close()
	if st := first.store.Stats(); st.Writes < 9 {
		t.Fatalf("closing saved %d blocks, want the prompt's 9 and more: %+v", st.Writes, st)
	}

	second := newSpillEngine(t, dir, 64, Config{})
	got := runOutputs(t, second.Engine, req)[0]
	if got.usage.CachedTokens != 144 {
		t.Errorf("cached_tokens after a restart = %d, want 144", got.usage.CachedTokens)
	}
	if !reflect.DeepEqual(got.tokens, want.tokens) || !reflect.DeepEqual(got.logprobs, want.logprobs) {
		t.Errorf("over reloaded blocks:\n%v\nwant (recomputed)\n%v", got.tokens, want.tokens)
	}
	m := second.Metrics()
	if m.Spill.HitTokens != 144 || m.Spill.Reads != 9 || m.Spill.Errors != 0 {
		t.Errorf("spill metrics %+v, want 144 hit tokens from 9 reads", m.Spill)
	}
	if m.KV.UsedBlocks != 0 {
		t.Errorf("blocks left in use: %+v", m.KV)
	}
}

// TestSpillEvictionServesLater: blocks evicted while serving go to the
// directory and serve a later prompt, with unchanged outputs, and a
// corrupted file is recomputed, deleted and counted.
func TestSpillEvictionServesLater(t *testing.T) {
	dir := t.TempDir()
	ref := newSpillEngine(t, "", 64, Config{})
	e := newSpillEngine(t, dir, 24, Config{}) // 24 blocks: each prompt below evicts the previous ones
	var want [][]int32
	for i := range 4 {
		want = append(want, runOutputs(t, ref.Engine, spillReq(i, 200))[0].tokens)
		if got := runOutputs(t, e.Engine, spillReq(i, 200))[0]; !slices.Equal(got.tokens, want[i]) {
			t.Fatalf("prompt %d differs with spilling on", i)
		}
	}
	waitUntil(t, func() bool { return e.store.Stats().Writes >= 12 })
	// Spoil one of prompt 0's files: its first block.
	key := kvcache.PromptKeys(nil, storyPrompt(0, 200), 16)[0]
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.kvb"))
	var spoilt string
	for _, f := range files {
		if filepath.Base(f) == hexKey(key)+".kvb" {
			spoilt = f
		}
	}
	if spoilt == "" {
		t.Fatalf("prompt 0's first block is not among %d files", len(files))
	}
	raw, _ := os.ReadFile(spoilt)
	raw[len(raw)/2] ^= 1
	if err := os.WriteFile(spoilt, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	// Prompt 1's blocks come back from the directory; prompt 0's chain
	// breaks at its first block, so it is recomputed.
	for _, i := range []int{1, 0} {
		before := e.Metrics().Spill
		got := runOutputs(t, e.Engine, spillReq(i, 200))[0]
		if !slices.Equal(got.tokens, want[i]) {
			t.Errorf("prompt %d after spilling: %v, want %v", i, got.tokens, want[i])
		}
		after := e.Metrics().Spill
		switch i {
		case 1:
			if after.HitTokens-before.HitTokens == 0 || got.usage.CachedTokens == 0 {
				t.Errorf("prompt 1 loaded nothing from the spill (cached %d, %+v)", got.usage.CachedTokens, after)
			}
		case 0:
			if after.Errors-before.Errors != 1 {
				t.Errorf("spoilt file: %d errors counted, want 1", after.Errors-before.Errors)
			}
			if _, err := os.Stat(spoilt); !os.IsNotExist(err) {
				t.Error("the spoilt file was not deleted")
			}
		}
	}
}

func hexKey(k kvcache.BlockKey) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 0, 64)
	for _, c := range k {
		b = append(b, digits[c>>4], digits[c&15])
	}
	return string(b)
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSpillWithFeatures: after a restart, requests with n > 1, seeded
// sampling, speculative decoding and sessions produce over reloaded blocks
// exactly what they produce over recomputed ones, and leak no block.
func TestSpillWithFeatures(t *testing.T) {
	spec := Config{Speculative: SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 3}}
	cases := []struct {
		name string
		cfg  Config
		req  func() Request
	}{
		{"n=3 seeded", Config{}, func() Request {
			r := sampledReq(storyPrompt(7, 120), 20, 42)
			r.N = 3
			return r
		}},
		{"speculative", spec, func() Request { return greedyReq(storyPrompt(8, 120), 30) }},
		{"session", Config{}, func() Request {
			r := greedyReq(storyPrompt(9, 120), 20)
			r.SessionID = "chat"
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			want := runOutputs(t, newSpillEngine(t, "", 64, c.cfg).Engine, c.req())
			first := newSpillEngine(t, dir, 64, c.cfg)
			runOutputs(t, first.Engine, c.req())
			first.close()
			second := newSpillEngine(t, dir, 64, c.cfg)
			got := runOutputs(t, second.Engine, c.req())
			for j := range want {
				if !slices.Equal(got[j].tokens, want[j].tokens) {
					t.Errorf("choice %d: %v, want %v", j, got[j].tokens, want[j].tokens)
				}
			}
			if got[0].usage.CachedTokens != 112 {
				t.Errorf("cached_tokens %d, want 112", got[0].usage.CachedTokens)
			}
			// A second turn of the session extends the kept K/V.
			if c.name == "session" {
				r := c.req()
				r.Prompt = append(append(slices.Clone(r.Prompt), got[0].tokens...), 300, 301)
				if o := runOutputs(t, second.Engine, r)[0]; o.usage.CachedTokens < len(r.Prompt)-3 {
					t.Errorf("second turn cached %d of %d", o.usage.CachedTokens, len(r.Prompt))
				}
				second.EndSession("chat")
			}
			waitUntil(t, func() bool { return second.Metrics().KV.UsedBlocks == 0 })
		})
	}
}

// TestSpillConfigErrors: a store whose block shape is not the executor's,
// or spilling without prefix caching or block I/O, is refused.
func TestSpillConfigErrors(t *testing.T) {
	c, err := spill.Open(spill.Options{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Store(spill.Identity{Geometry: "g", BlockSize: 16, BlockBytes: 123})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeExec(32, 16)
	if _, err := New(fake, storiesTokenizer(t), Config{PrefixCaching: true, Spill: st}); err == nil {
		t.Error("an executor without block I/O was accepted")
	}
	if _, err := New(fake, storiesTokenizer(t), Config{Spill: st}); err == nil {
		t.Error("spilling without prefix caching was accepted")
	}
}

// TestSpillWindowed: a model with a sliding window releases the blocks that
// leave it, also blocks just loaded from the spill; prompts reloaded after
// eviction and after a restart still give the outputs of an engine that
// keeps every block.
func TestSpillWindowed(t *testing.T) {
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p.NCtx, p.SlidingWindow, p.QKStd = 1024, 24, 0.15
	path := filepath.Join(t.TempDir(), "tiny-window.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.F16, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	req := func(i int) Request { return longGreedy(windowPrompt(i, 150), 40) }
	ref := newWindowedEngine(t, 24, 256, Config{}, true)
	var want [][]int32
	for i := range 4 {
		want = append(want, run(t, ref, req(i)).tokens)
	}
	dir := t.TempDir()
	e := newSpillEngineOn(t, path, dir, 24, Config{}) // 24 blocks: each prompt evicts the ones before
	if w, ok := e.exec.(WindowedExecutor); !ok || w.AttentionWindow() != 24 {
		t.Fatal("the engine does not see the model's window")
	}
	check := func(e *Engine, i int, what string) Usage {
		got := runOutputs(t, e, req(i))[0]
		if !slices.Equal(got.tokens, want[i]) {
			t.Errorf("prompt %d %s: %v, want %v", i, what, got.tokens, want[i])
		}
		return got.usage
	}
	for i := range 4 {
		check(e.Engine, i, "first")
	}
	waitUntil(t, func() bool { return e.store.Stats().Writes > 0 })
	if u := check(e.Engine, 0, "after eviction"); u.CachedTokens == 0 {
		t.Error("prompt 0 loaded nothing after eviction")
	}
	e.close()
	// All four at once: several admissions in one step, each evicting
	// blocks that the window released from the ones before.
	again := newSpillEngineOn(t, path, dir, 24, Config{})
	for i, r := range runConcurrently(t, again.Engine, 4, req) {
		if !slices.Equal(r.tokens, want[i]) {
			t.Errorf("prompt %d after a restart, all at once: %v, want %v", i, r.tokens, want[i])
		}
	}
	for i := range 4 { // and again one by one, over what the burst left cached and spilled
		check(again.Engine, i, "after the burst")
	}
	// A prompt sharing only the first 50 tokens reads, within its window,
	// blocks that the long prompts released and spilled long ago.
	for i := range 4 {
		short := longGreedy(append(slices.Clone(windowPrompt(i, 150)[:50]), 7, 8, 9), 20)
		if got, w := run(t, again.Engine, short).tokens, run(t, ref, short).tokens; !slices.Equal(got, w) {
			t.Errorf("prompt %d's 50-token prefix: %v, want %v", i, got, w)
		}
	}
	if m := again.Metrics(); m.KV.WindowReleases == 0 || m.Spill.HitTokens == 0 {
		t.Errorf("no window release or no spill hit: %+v %+v", m.KV, m.Spill)
	}
}
