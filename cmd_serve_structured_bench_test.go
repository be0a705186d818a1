package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// benchSchema makes a long output (at least 64 objects) so that a
// constrained request runs to max_tokens like a free one: both then decode
// the same number of tokens. Its members use the keywords real schemas
// use (an integer range, a pattern, formats) besides plain types.
const benchSchema = `{"type":"object","properties":{"items":{"type":"array","minItems":64,"items":{"type":"object",
 "properties":{"name":{"type":"string","maxLength":24},"kind":{"enum":["a","b","c"]},"n":{"type":"number"},
 "age":{"type":"integer","minimum":0,"maximum":130},"code":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2,4}$"},
 "born":{"type":"string","format":"date"},"email":{"type":"string","format":"email"}},
 "required":["name","kind","n","age","code","born","email"]}}},"required":["items"]}`

// BenchmarkJSONSchemaDecode reports decode tokens/s of a real kiln serve
// with and without a JSON-schema mask, on the same model in the same run,
// interleaved (one free and one constrained request per iteration, so that
// noise on a shared machine hits both alike), for 1 and 4 concurrent
// streams. The model is KILN_BENCH_MODEL, else /tmp/smol-q8.gguf
// (go run . synth --preset smollm2-135m --type q8_0 -o /tmp/smol-q8.gguf).
//
//	go test . -run '^$' -bench JSONSchemaDecode -benchtime 3x
func BenchmarkJSONSchemaDecode(b *testing.B) {
	path := os.Getenv("KILN_BENCH_MODEL")
	if path == "" {
		path = "/tmp/smol-q8.gguf"
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("no benchmark model: %v", err)
	}
	url := startServeB(b, func(c *configs.Config) {
		c.Model, c.SessionLen, c.KVCacheSize, c.MaxNumSeqs = path, 1024, "256MiB", 4
	})
	const maxTokens = 256
	// Greedy both ways: sampling at temperature 1 draws over the whole
	// vocabulary unmasked but over a few tokens masked, which would credit
	// the mask with the sampler's savings.
	opts := `"prompt":"Once upon a time","temperature":0,"stream":true,"stream_options":{"include_usage":true}`
	free := fmt.Sprintf(`{%s,"max_tokens":%d,"ignore_eos":true,"seed":%%d}`, opts, maxTokens)
	schema := fmt.Sprintf(`{%s,"max_tokens":%d,"seed":%%d,"guided_json":%s}`, opts, maxTokens, benchSchema)
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			var freeTok, freeDur, schemaTok, schemaDur float64
			for i := range b.N {
				for _, kind := range []string{free, schema} {
					tok, dur := decodeRate(b, url, kind, streams, i)
					if kind == free {
						freeTok, freeDur = freeTok+tok, freeDur+dur
					} else {
						schemaTok, schemaDur = schemaTok+tok, schemaDur+dur
					}
				}
			}
			fr, sr := freeTok/freeDur, schemaTok/schemaDur
			b.ReportMetric(fr, "free_tok/s")
			b.ReportMetric(sr, "schema_tok/s")
			b.ReportMetric(100*(1-sr/fr), "mask_cost_%")
		})
	}
}

// decodeRate runs streams concurrent streamed requests of body (with a
// seed) and returns the decode tokens (after each stream's first) and the
// wall time from the first token of any stream to the last of all.
func decodeRate(b *testing.B, url, body string, streams, iter int) (tokens, seconds float64) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first, last time.Time
	total := 0
	for s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(fmt.Sprintf(body, iter*streams+s+1)))
			if err != nil {
				b.Error(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			n := 0
			var t0, t1 time.Time
			for sc.Scan() {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				var ch struct {
					Choices []struct {
						FinishReason *string `json:"finish_reason"`
					} `json:"choices"`
					Usage *struct {
						CompletionTokens int `json:"completion_tokens"`
					} `json:"usage"`
				}
				if json.Unmarshal([]byte(data), &ch) != nil {
					continue
				}
				if ch.Usage != nil {
					n = ch.Usage.CompletionTokens
					continue
				}
				now := time.Now()
				if t0.IsZero() {
					t0 = now // the first token: prefill ends here
				}
				t1 = now
				if len(ch.Choices) > 0 {
					if f := ch.Choices[0].FinishReason; f != nil && *f != "length" {
						b.Errorf("finish %q: the benchmark wants runs of max_tokens", *f)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if first.IsZero() || t0.Before(first) {
				first = t0
			}
			if t1.After(last) {
				last = t1
			}
			total += n - 1
		}()
	}
	wg.Wait()
	return float64(total), last.Sub(first).Seconds()
}

// startServeB is startServe for a benchmark.
func startServeB(b *testing.B, edit func(*configs.Config)) string {
	b.Helper()
	cfg := configs.Defaults()
	cfg.Host, cfg.Port, cfg.TensorParallelSize = "127.0.0.1", 0, 0
	cfg.ShutdownGracePeriod, cfg.LogLevel = 2*time.Second, "warn"
	edit(&cfg)
	return runServe(b, cfg)
}
