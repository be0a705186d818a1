package control

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// stepRecord is one fake step: its cost and its composition.
type stepRecord struct {
	cost              time.Duration
	decodes, prefills int // sequences with one token; tokens of the others
}

// linearCost is a machine where a step costs 20 ms, 4 ms per decode row
// and 1 ms per other token: a 256-token prefill chunk stalls a stream for
// about 0.3 s.
func linearCost(log *[]stepRecord, mu *sync.Mutex) func(s *Step) time.Duration {
	return func(s *Step) time.Duration {
		var r stepRecord
		for i := range s.Seqs {
			n := 0
			for _, q := range s.Seq {
				if int(q) == i {
					n++
				}
			}
			if n == 1 {
				r.decodes++
			} else {
				r.prefills += n
			}
		}
		r.cost = 20*time.Millisecond + time.Duration(r.decodes)*4*time.Millisecond + time.Duration(r.prefills)*time.Millisecond
		mu.Lock()
		*log = append(*log, r)
		mu.Unlock()
		return r.cost
	}
}

// TestITLBoundedWhileLongPromptPrefills runs four streams, started one
// after another, and then submits a 1500-token prompt beside them: with a
// 120 ms target every step that carries a decode stays within it (the long
// prompt progresses in chunks between decodes), and the long prompt's
// output is the one it gets alone. Without the target the same scenario
// stalls the streams for 288 ms, which shows the check can fail.
func TestITLBoundedWhileLongPromptPrefills(t *testing.T) {
	const target = 120 * time.Millisecond
	tests := []struct {
		name    string
		maxITL  time.Duration
		bounded bool
	}{
		{"target", target, true},
		{"no target", -1, false},
	}
	long := prompt(99, 1500)
	var want []int32
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			e, f := newFakeEngine(t, 512, Config{MaxBatchTokens: 256, MaxNumSeqs: 8, MaxITL: tt.maxITL, Now: clock.Now})
			var mu sync.Mutex
			var steps []stepRecord
			f.mu.Lock()
			f.clock, f.cost = clock, linearCost(&steps, &mu)
			f.mu.Unlock()

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var streams []<-chan Event
			for i := range 4 {
				ch, err := e.Submit(ctx, greedyReq(prompt(i, 40+30*i), 100000))
				if err != nil {
					t.Fatal(err)
				}
				streams = append(streams, ch)
				<-ch // decoding: the next stream's prefill shares steps with it
				go func() {
					for range ch {
					}
				}()
			}
			mu.Lock()
			from := len(steps)
			mu.Unlock()
			r := run(t, e, greedyReq(long, 8))
			if want == nil {
				want = r.tokens
			} else if !equalTokens(r.tokens, want) {
				t.Fatalf("long prompt's output depends on the chunking: %v vs %v", r.tokens, want)
			}
			mu.Lock()
			during := append([]stepRecord(nil), steps[from:]...)
			mu.Unlock()
			var worst time.Duration
			chunks := 0
			for _, s := range during {
				if s.decodes > 0 {
					worst = max(worst, s.cost)
				}
				if s.prefills > 0 {
					chunks++
				}
			}
			t.Logf("%d steps while the long prompt ran, %d with prefill, worst step with decodes %v", len(during), chunks, worst)
			if tt.bounded && worst > target {
				t.Errorf("a decode step took %v, over the %v target", worst, target)
			}
			if !tt.bounded && worst <= target {
				t.Errorf("without a target the worst decode step is %v, within %v: the scenario shows nothing", worst, target)
			}
			cancel()
		})
	}
}

func equalTokens(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// prefillWatch records the largest prefill chunk that shared a step with
// a decode.
type prefillWatch struct {
	Executor
	mu        sync.Mutex
	maxBeside int
}

func (w *prefillWatch) Forward(s *Step, logits []float32) error {
	decodes, prefill := 0, 0
	for i := range s.Seqs {
		n := 0
		for _, q := range s.Seq {
			if int(q) == i {
				n++
			}
		}
		if n == 1 {
			decodes++
		} else {
			prefill += n
		}
	}
	if decodes > 0 {
		w.mu.Lock()
		w.maxBeside = max(w.maxBeside, prefill)
		w.mu.Unlock()
	}
	return w.Executor.Forward(s, logits)
}

// TestModelITLChunkingKeepsOutputs: on the real model, a latency target
// so tight that every prefill beside decodes is cut to the floor chunk
// changes no output (the kernels are batch-invariant), and the prefill
// beside decodes is indeed cut. The long prompt arrives once the six
// streams decode (arriving with them, it would join their cohort).
func TestModelITLChunkingKeepsOutputs(t *testing.T) {
	runStaggered := func(t *testing.T, e *Engine) [][]result {
		var chans []<-chan Event
		for i := range 6 {
			ch, err := e.Submit(context.Background(), greedyReq(storyPrompt(i, 5+3*i), 80))
			if err != nil {
				t.Fatal(err)
			}
			chans = append(chans, ch)
		}
		for _, ch := range chans {
			<-ch // decoding; the rest of each stream is compared
		}
		ch, err := e.Submit(context.Background(), greedyReq(storyPrompt(7, 400), 20))
		if err != nil {
			t.Fatal(err)
		}
		var out [][]result
		for _, ch := range append(chans, ch) {
			out = append(out, []result{collect(t, ch)})
		}
		return out
	}
	var want [][]result
	var beside []int
	for _, itl := range []time.Duration{-1, time.Microsecond} {
		w := &prefillWatch{}
		e := newWrappedModelEngine(t, 512, Config{MaxBatchTokens: 128, MaxITL: itl}, func(x Executor) Executor { w.Executor = x; return w })
		// Warm the cost model so the target applies from the first step.
		for i := range 6 {
			run(t, e, greedyReq(storyPrompt(20+i, 40), 4))
		}
		w.mu.Lock()
		w.maxBeside = 0
		w.mu.Unlock()
		got := runStaggered(t, e)
		w.mu.Lock()
		beside = append(beside, w.maxBeside)
		w.mu.Unlock()
		if want == nil {
			want = got
			continue
		}
		for i := range want {
			if w, g := want[i][0], got[i][0]; !slices.Equal(w.tokens, g.tokens) {
				t.Errorf("request %d:\nno target %v\ntarget    %v", i, w.tokens, g.tokens)
			}
		}
	}
	t.Logf("largest prefill beside decodes: %d tokens without a target, %d with", beside[0], beside[1])
	if beside[1] > minPrefillChunk || beside[0] <= minPrefillChunk {
		t.Errorf("largest prefill beside decodes %d with the target, %d without: want <= %d with, more without", beside[1], beside[0], minPrefillChunk)
	}
}
