package control

import (
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/sample"
)

// BenchmarkNChoices measures the wall time of one request with n = 4 (and
// a width-4 beam search) against n = 1 on the same 500-token prompt, side
// by side in every iteration (16 or 64 generated tokens per choice, EOS
// ignored, no prefix cache): forks share one prefill, so n = 4 should cost
// far less than 4x; what it costs beyond n = 1 is the decode of 4 rows per
// step instead of 1.
func BenchmarkNChoices(b *testing.B) {
	for _, gen := range []int{16, 64} {
		b.Run("gen="+itoa(gen), func(b *testing.B) { benchNChoices(b, gen) })
	}
}

func benchNChoices(b *testing.B, gen int) {
	e := newBenchEngine(b, Config{MaxNumSeqs: 16}, 16*48)
	p := benchPrompt(7, 500, e.exec.VocabSize())
	req := func(n int, beam bool) Request {
		r := Request{Prompt: p, MaxTokens: gen, IgnoreEOS: true, N: n, Sample: sample.DefaultParams()}
		r.Sample.Seed = 1
		if beam {
			r.BestOf, r.Beam = n, &BeamSearch{LengthPenalty: 1}
		}
		return r
	}
	timed := func(r Request) time.Duration {
		t0 := time.Now()
		for _, c := range runChoices(b, e, r) {
			if len(c.tokens) != gen {
				b.Fatalf("choice with %d tokens, want %d", len(c.tokens), gen)
			}
		}
		return time.Since(t0)
	}
	var one, four, beam time.Duration
	for b.Loop() {
		one += timed(req(1, false))
		four += timed(req(4, false))
		beam += timed(req(4, true))
	}
	n := float64(b.N)
	b.ReportMetric(one.Seconds()*1e3/n, "n1_ms")
	b.ReportMetric(four.Seconds()*1e3/n, "n4_ms")
	b.ReportMetric(beam.Seconds()*1e3/n, "beam4_ms")
	b.ReportMetric(four.Seconds()/one.Seconds(), "n4/n1")
	b.ReportMetric(beam.Seconds()/one.Seconds(), "beam4/n1")
}
