package control

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// benchModelPath is $KILN_BENCH_MODEL, or a SmolLM2-135M-shaped Q8_0 model
// synthesized once per run (the serving benchmark model).
var benchModel = sync.OnceValues(func() (string, error) {
	if p := os.Getenv("KILN_BENCH_MODEL"); p != "" {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "kiln-control-bench")
	if err != nil {
		return "", err
	}
	p, err := synth.LookupPreset("smollm2-135m")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "smollm2-135m-q8_0.gguf")
	return path, synth.Write(path, synth.Options{Preset: p, Type: native.Q8_0, Seed: 1})
})

func newBenchEngine(b *testing.B, cfg Config, numBlocks int) *Engine {
	b.Helper()
	path, err := benchModel()
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.Load(path, model.WithMaxBatchTokens(512))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	tok, err := tokenizer.FromGGUF(m.File())
	if err != nil {
		b.Fatal(err)
	}
	x, err := model.NewExecutor(m, numBlocks, 16, native.F16)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(x, tok, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e
}

func benchPrompt(i, n, vocab int) []int32 {
	p := make([]int32, n)
	for j := range p {
		p[j] = int32(100 + (i*7919+j*104729)%(vocab-200))
	}
	return p
}

// BenchmarkDecodeStreams measures aggregate decode tokens/s with 1 and 16
// concurrent streams (16-token prompts, 128 generated tokens each, EOS
// ignored): the ratio of the two is what continuous batching buys.
func BenchmarkDecodeStreams(b *testing.B) {
	benchDecodeStreams(b, false)
}

// BenchmarkDecodeStreamsSampled is BenchmarkDecodeStreams with OpenAI's
// default sampling (temperature 1, no top-k/top-p): every token draws from
// the whole vocabulary, which is where sampling cost shows.
func BenchmarkDecodeStreamsSampled(b *testing.B) {
	benchDecodeStreams(b, true)
}

func benchDecodeStreams(b *testing.B, sampled bool) {
	for _, streams := range []int{1, 16} {
		b.Run("streams="+itoa(streams), func(b *testing.B) {
			e := newBenchEngine(b, Config{MaxNumSeqs: 16}, 16*10)
			const gen = 128
			var tokens int
			var decode time.Duration
			for b.Loop() {
				var wg sync.WaitGroup
				var mu sync.Mutex
				var firstAll time.Time
				for i := range streams {
					req := greedyReq(benchPrompt(i, 16, e.exec.VocabSize()), gen)
					req.IgnoreEOS = true
					if sampled {
						req.Sample = sample.DefaultParams()
						req.Sample.Seed = uint64(i)
					}
					ch, err := e.Submit(context.Background(), req)
					if err != nil {
						b.Fatal(err)
					}
					wg.Go(func() {
						n, first := 0, time.Time{}
						for ev := range ch {
							if first.IsZero() && len(ev.Tokens) > 0 {
								first = time.Now()
							}
							n += len(ev.Tokens)
						}
						mu.Lock()
						tokens += n - 1 // the first token is prefill's
						if first.After(firstAll) {
							firstAll = first
						}
						mu.Unlock()
					})
				}
				wg.Wait()
				// Decode time: from the last stream's first token to the end.
				decode += time.Since(firstAll)
			}
			b.ReportMetric(float64(tokens)/decode.Seconds(), "decode_tok/s")
		})
	}
}

// BenchmarkPrefixTTFT measures the time to first token of a request with a
// 1,000-token prompt, cold and then again with a different 8-token tail
// after an identical prefix has been served (prefix cache).
func BenchmarkPrefixTTFT(b *testing.B) {
	e := newBenchEngine(b, Config{PrefixCaching: true}, 256)
	vocab := e.exec.VocabSize()
	var cold, warm time.Duration
	for i := 0; b.Loop(); i++ {
		e.pool.ResetPrefixCache()
		prefix := benchPrompt(1000+i, 1000, vocab)
		ttft := func(tail int32) time.Duration {
			req := greedyReq(append(append([]int32(nil), prefix...), benchPrompt(int(tail), 8, vocab)...), 1)
			r := run(b, e, req)
			return r.last.Timings.FirstToken
		}
		cold += ttft(1)
		warm += ttft(2)
	}
	b.ReportMetric(float64(cold.Microseconds())/float64(b.N)/1e3, "cold_ttft_ms")
	b.ReportMetric(float64(warm.Microseconds())/float64(b.N)/1e3, "cached_ttft_ms")
	b.ReportMetric(cold.Seconds()/warm.Seconds(), "ttft_ratio")
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkProposeNgram is the drafter's cost per decode step in its worst
// case: a long context where no suffix recurs, so every length is scanned
// to the start.
func BenchmarkProposeNgram(b *testing.B) {
	for _, n := range []int{256, 2048, 8192} {
		b.Run(fmt.Sprintf("ctx=%d", n), func(b *testing.B) {
			tokens := make([]int32, n)
			for i := range tokens {
				tokens[i] = int32(i) // all distinct: nothing recurs
			}
			var dst []int32
			for b.Loop() {
				dst = proposeNgram(tokens, 1, 4, 4, dst[:0])
			}
			if len(dst) != 0 {
				b.Fatal("a draft from distinct tokens")
			}
		})
	}
}
