package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// qwen3GGUF is a tiny model whose heads are 32 values wide: one Q8_0 block
// per K/V row, so q8_0 stores 34 bytes where f16 stores 64.
const qwen3GGUF = "engine/model/testdata/arch/tiny-qwen3-f16.gguf"

// kvCapacity is the pool's size in blocks: the sum of kiln_kv_blocks's states.
func kvCapacity(t *testing.T, url string) float64 {
	t.Helper()
	n := 0.0
	for _, s := range []string{"used", "cached", "free"} {
		n += metric(t, url, `kiln_kv_blocks{state="`+s+`"}`)
	}
	return n
}

// TestServeKVCacheDtypeCapacity starts the real `kiln serve` with the same
// kv_cache_size in f16 and in q8_0: q8_0's pool holds 64/34 ≈ 1.88× the
// blocks, so as many more sequences; the start-up log and /metrics state
// the type and the bytes per token; q8_0 answers completions.
func TestServeKVCacheDtypeCapacity(t *testing.T) {
	const budget = "1MiB" // the pool, not max_num_seqs × session_len, limits the blocks
	args := []string{"serve", "-m", qwen3GGUF, "--host", "127.0.0.1", "--port", "0", "-tp", "1",
		"--kv-cache-size", budget, "--session-len", "256", "--max-num-seqs", "64"}
	type pool struct {
		blocks, perToken float64
	}
	pools := map[string]pool{}
	for _, dt := range []string{"f16", "q8_0"} {
		p := startKilnProcess(t, append(args, "--kv-cache-dtype", dt)...)
		m := metricsText(t, p.url)
		re := regexp.MustCompile(`(?m)^kiln_kv_cache_bytes_per_token\{dtype="` + dt + `",model_name="tiny-qwen3-f16"\} (\d+)$`)
		sm := re.FindStringSubmatch(m)
		if sm == nil {
			t.Fatalf("%s: no kiln_kv_cache_bytes_per_token for the model in /metrics:\n%s", dt, m)
		}
		var perTok float64
		fmt.Sscan(sm[1], &perTok)
		pools[dt] = pool{kvCapacity(t, p.url), perTok}
		ready := fmt.Sprintf(`kv_type=%s kv_bytes_per_token=%s`, dt, sm[1])
		if !strings.Contains(p.logs.String(), ready) {
			t.Errorf("%s: start-up log lacks %q:\n%s", dt, ready, p.logs.Tail(10))
		}
		code, body := post(t, p.url+"/v1/completions", `{"prompt": "Hello there", "max_tokens": 8, "temperature": 0}`)
		if code != 200 || !strings.Contains(body, `"completion_tokens":8`) {
			t.Errorf("%s: completion %d %s", dt, code, body)
		}
	}
	f16, q8 := pools["f16"], pools["q8_0"]
	t.Logf("%s pool: f16 %v blocks (%v B/token), q8_0 %v blocks (%v B/token): %.2f× the blocks", budget, f16.blocks, f16.perToken, q8.blocks, q8.perToken, q8.blocks/f16.blocks)
	if f16.perToken*34 != q8.perToken*64 {
		t.Errorf("bytes per token: f16 %v, q8_0 %v: want 64:34", f16.perToken, q8.perToken)
	}
	// 16-token blocks of 1 MiB: f16 128 blocks (8 sequences of 256 tokens), q8_0 240 (15).
	if f16.blocks != 128 || q8.blocks != 240 {
		t.Errorf("pool blocks: f16 %v, q8_0 %v; want 128 and 240", f16.blocks, q8.blocks)
	}
}

// TestServeKVCacheDtypeRefused: an unknown K/V type stops serve before it
// listens, with an error naming the option and the accepted values.
func TestServeKVCacheDtypeRefused(t *testing.T) {
	for _, dt := range []string{"q4_0", "int8", ""} {
		_, _, err := runKilnOutput(t, "serve", "-m", storiesGGUF, "--port", "0", "--kv-cache-dtype", dt)
		if err == nil || !strings.Contains(err.Error(), "kv_cache_dtype") || !strings.Contains(err.Error(), "q8_0") {
			t.Errorf("--kv-cache-dtype %q: %v", dt, err)
		}
	}
}

// TestServeQ8KVCacheFeatures serves stories260K with a q8_0 cache, with and
// without n-gram speculation: a repeated prompt is served from the prefix
// cache with the same greedy text, n=2 forks (copy-on-write) repeat it,
// speculation (whose rejected drafts are truncated off the cache) gives
// it too, an interactive session keeps its history, and no block stays
// held once the requests are done.
func TestServeQ8KVCacheFeatures(t *testing.T) {
	q8 := func(c *configs.Config) { c.KVCacheDtype = "q8_0" }
	plain := startServe(t, q8)
	spec := startServe(t, func(c *configs.Config) { q8(c); c.Speculative, c.NumSpeculativeTokens = "ngram", 4 })
	type reply struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
		Usage struct {
			Prompt struct {
				Cached int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	complete := func(url, body string) reply {
		t.Helper()
		var r reply
		code, b := post(t, url+"/v1/completions", body)
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	const prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog"
	body := `{"prompt": "` + prompt + `", "max_tokens": 48, "temperature": 0%s}`
	first := complete(plain, fmt.Sprintf(body, ""))
	want := first.Choices[0].Text
	if strings.TrimSpace(want) == "" {
		t.Fatalf("empty greedy completion: %+v", first)
	}
	again := complete(plain, fmt.Sprintf(body, ""))
	if again.Usage.Prompt.Cached == 0 || again.Choices[0].Text != want {
		t.Errorf("repeat: %d cached tokens, text %q; want cached > 0 and %q", again.Usage.Prompt.Cached, again.Choices[0].Text, want)
	}
	forks := complete(plain, fmt.Sprintf(body, `, "n": 2`))
	for i, c := range forks.Choices {
		if c.Text != want {
			t.Errorf("n=2 choice %d: %q, want %q", i, c.Text, want)
		}
	}
	for range 2 {
		if got := complete(spec, fmt.Sprintf(body, "")).Choices[0].Text; got != want {
			t.Errorf("speculative: %q, want %q", got, want)
		}
	}
	if d := metric(t, spec, "kiln_spec_decode_num_draft_tokens_total"); d == 0 {
		t.Error("speculation drafted nothing")
	}
	var turn interactiveReply
	for i := range 2 {
		status, b := post(t, plain+"/v1/chat/interactive", `{"prompt": "Hello! How are you?", "session_id": 3, "interactive_mode": true, "request_output_len": 8, "temperature": 0}`)
		mustJSON(t, status, b, &turn)
		if i == 1 && turn.HistoryTokens == 0 {
			t.Error("the session kept no history")
		}
	}
	for _, url := range []string{plain, spec} {
		if m := metricsText(t, url); !strings.Contains(m, `kiln_kv_cache_bytes_per_token{dtype="q8_0"`) {
			t.Errorf("%s/metrics does not state the q8_0 cache", url)
		}
	}
	waitEngineIdle(t, spec, 10*time.Second) // no block left held (the session holds plain's)
}

// TestServeQ8KVCacheSpill: with --prefix-cache-dir, a q8_0 server's saved
// blocks come back after a restart (same greedy answer, cached prompt
// tokens), and an f16 server on the same directory never reads them (the
// dtype is part of the blocks' identity): it recomputes the prompt.
func TestServeQ8KVCacheSpill(t *testing.T) {
	dir := t.TempDir()
	q8 := []string{"--prefix-cache-dir", dir, "--kv-cache-dtype", "q8_0"}
	first := startServeProcess(t, q8...)
	want, cached := spillCompletion(t, first.url, "")
	if cached != 0 {
		t.Fatalf("a fresh server reports %d cached tokens", cached)
	}
	stopServe(t, first)
	if len(spillFiles(t, dir)) == 0 {
		t.Fatalf("nothing saved in %s\n%s", dir, first.logs.Tail(20))
	}
	second := startServeProcess(t, q8...)
	got, cached := spillCompletion(t, second.url, "")
	if cached == 0 || got != want {
		t.Errorf("q8_0 after a restart: cached %d, answer %q, want cached > 0 and %q", cached, got, want)
	}
	stopServe(t, second)
	f16 := startServeProcess(t, "--prefix-cache-dir", dir, "--kv-cache-dtype", "f16")
	if _, cached := spillCompletion(t, f16.url, ""); cached != 0 {
		t.Errorf("an f16 server loaded %d tokens of q8_0 blocks", cached)
	}
}
