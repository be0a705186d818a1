package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// fakeExec is an Executor whose "K/V cache" stores token ids, so a wrong
// block table, a missed copy-on-write or a bad slot changes the output: the
// logits of a row depend on every token the sequence's cache holds.
type fakeExec struct {
	mu        sync.Mutex
	vocab     int
	maxBatch  int
	nCtx      int
	blockSize int
	cache     []int32 // [numBlocks*blockSize] token id per slot
	banned    map[int32]bool
	steps     int
	maxSeqs   int // most sequences seen in one step
	delay     time.Duration
	fail      func(s *Step) error
	copyBack  int        // > 0: the top token repeats the cached token this far back (repetitive text)
	salt      uint64     // mixed into the logits' hash: a fake with another salt disagrees
	clock     *fakeClock // advanced by cost(step) in Forward, when set
	cost      func(s *Step) time.Duration
}

// fakeClock is a clock that moves only when the fake executor runs a step,
// by the step's fake cost: latencies measured on it are exact.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newFakeExec(numBlocks, blockSize int) *fakeExec {
	return &fakeExec{vocab: 512, maxBatch: 256, nCtx: 1 << 20, blockSize: blockSize,
		cache: make([]int32, numBlocks*blockSize), banned: map[int32]bool{}}
}

func (f *fakeExec) VocabSize() int      { return f.vocab }
func (f *fakeExec) MaxBatchTokens() int { return f.maxBatch }
func (f *fakeExec) ContextLen() int     { return f.nCtx }
func (f *fakeExec) NumBlocks() int      { return len(f.cache) / f.blockSize }
func (f *fakeExec) BlockSize() int      { return f.blockSize }

func (f *fakeExec) CopyBlocks(copies []kvcache.Copy) error {
	for _, c := range copies {
		copy(f.cache[int(c.Dst)*f.blockSize:(int(c.Dst)+1)*f.blockSize], f.cache[int(c.Src)*f.blockSize:(int(c.Src)+1)*f.blockSize])
	}
	return nil
}

func (f *fakeExec) slot(table []int32, pos int) int {
	return int(table[pos/f.blockSize])*f.blockSize + pos%f.blockSize
}

func (f *fakeExec) Forward(s *Step, logits []float32) error {
	f.mu.Lock()
	f.steps++
	f.maxSeqs = max(f.maxSeqs, len(s.Seqs))
	delay, fail, copyBack := f.delay, f.fail, f.copyBack
	if f.clock != nil {
		f.clock.advance(f.cost(s))
	}
	f.mu.Unlock()
	if fail != nil {
		if err := fail(s); err != nil {
			return err
		}
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	for i, tok := range s.Tokens {
		f.cache[f.slot(s.Seqs[s.Seq[i]].BlockTable, int(s.Pos[i]))] = tok
	}
	for j, row := range s.Outputs {
		q := s.Seqs[s.Seq[row]]
		// FNV over the cached context (positions 0..Pos[row]).
		h := uint64(14695981039346656037) ^ f.salt
		for p := 0; p <= int(s.Pos[row]); p++ {
			h = (h ^ uint64(uint32(f.cache[f.slot(q.BlockTable, p)]))) * 1099511628211
		}
		out := logits[j*f.vocab : (j+1)*f.vocab]
		for v := range out {
			out[v] = float32((h>>7+uint64(v)*2654435761)%1000) / 1000
		}
		if copyBack > 0 && int(s.Pos[row]) >= copyBack {
			out[f.cache[f.slot(q.BlockTable, int(s.Pos[row])+1-copyBack)]] = 2
		}
		for id := range f.banned {
			out[id] = -10
		}
	}
	return nil
}

// storiesTokenizer is the tokenizer of ../shared's stories260K (512 ids,
// EOS 2); tests skip without it.
func storiesTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	p, err := filepath.Abs("../../shared/models/stories260K.gguf")
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("shared test model: %v", err)
	}
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newFakeEngine starts an engine on a fake executor that never picks EOS
// unless told to.
func newFakeEngine(t testing.TB, numBlocks int, cfg Config) (*Engine, *fakeExec) {
	t.Helper()
	tok := storiesTokenizer(t)
	f := newFakeExec(numBlocks, 16)
	for _, id := range tok.EOGTokens() {
		f.banned[id] = true
	}
	e, err := New(f, tok, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, f
}

// result is everything a request produced.
type result struct {
	tokens []int32
	text   string
	last   Event
	events int
}

// collectChoices reads a request's events into one result per choice.
func collectChoices(t testing.TB, ch <-chan Event, n int) []result {
	t.Helper()
	res := make([]result, n)
	timeout := time.After(60 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				for i, r := range res {
					if r.last.Finish == "" {
						t.Errorf("choice %d: channel closed without a final event", i)
					}
				}
				return res
			}
			if ev.Index < 0 || ev.Index >= n {
				t.Fatalf("event for choice %d of %d", ev.Index, n)
			}
			r := &res[ev.Index]
			if r.last.Finish != "" {
				t.Errorf("choice %d: event after its final one", ev.Index)
			}
			r.events++
			r.tokens = append(r.tokens, ev.Tokens...)
			r.text += ev.Text
			if ev.Finish != "" {
				r.last = ev
			}
		case <-timeout:
			t.Fatalf("no final events after 60 s")
			return res
		}
	}
}

func runChoices(t testing.TB, e *Engine, req Request) []result {
	t.Helper()
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return collectChoices(t, ch, req.choices())
}

// collect reads a single-choice request's events.
func collect(t testing.TB, ch <-chan Event) result {
	t.Helper()
	return collectChoices(t, ch, 1)[0]
}

func run(t testing.TB, e *Engine, req Request) result {
	t.Helper()
	ch, err := e.Submit(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, ch)
}

func greedyReq(prompt []int32, n int) Request {
	r := Request{Prompt: prompt, MaxTokens: n}
	r.Sample = defaultGreedy()
	return r
}

func prompt(seed, n int) []int32 {
	p := make([]int32, n)
	p[0] = 1
	for i := 1; i < n; i++ {
		p[i] = int32(3 + (seed*7919+i*104729)%500)
	}
	return p
}

func (r result) String() string {
	return fmt.Sprintf("%d tokens, finish %s", len(r.tokens), r.last.Finish)
}
