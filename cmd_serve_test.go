package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// storiesGGUF is the tiny real model the serve tests run.
const storiesGGUF = "../shared/models/stories260K.gguf"

// startServe runs serve in-process on a loopback port with stories260K and
// returns its base URL; the server stops (gracefully) at the test's end.
func startServe(t *testing.T, edit func(*configs.Config)) string {
	t.Helper()
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = storiesGGUF, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "32MiB", 512, 4
	cfg.ShutdownGracePeriod = 2 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	return runServe(t, cfg)
}

// runServe validates cfg, runs serve in-process, waits until it is healthy
// and returns its base URL; the server stops (gracefully) at the end.
func runServe(tb testing.TB, cfg configs.Config) string {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, &cfg, func(a net.Addr) { addr <- a }) }()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a.String()
	case err := <-done:
		cancel()
		tb.Fatalf("serve: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	waitHealthy(tb, url)
	return url
}

// waitHealthy polls /health until it answers 200.
func waitHealthy(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server at %s never became healthy (%v)", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends a JSON body and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one sample of /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatalf("no metric %s", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestServeEndToEnd(t *testing.T) {
	url := startServe(t, nil)
	ref, err := os.ReadFile("../shared/models/reference/stories260K_greedy_200steps.txt")
	if err != nil {
		t.Skip(err)
	}
	t.Run("greedy completion matches the reference", func(t *testing.T) {
		status, body := post(t, url+"/v1/completions", `{"model":"stories260K","prompt":"Once upon a time","max_tokens":30,"temperature":0}`)
		var c struct {
			Choices []struct {
				Text         string
				FinishReason string `json:"finish_reason"`
			}
		}
		if status != 200 || json.Unmarshal([]byte(body), &c) != nil {
			t.Fatalf("%d %s", status, body)
		}
		if got := "Once upon a time" + c.Choices[0].Text; !strings.HasPrefix(string(ref), got) || len(got) < 60 {
			t.Errorf("greedy text %q is not a prefix of the reference", got)
		}
	})
	t.Run("chat", func(t *testing.T) {
		status, body := post(t, url+"/v1/chat/completions", `{"model":"stories260K","messages":[{"role":"system","content":"Tell a story."},{"role":"user","content":[{"type":"text","text":"Once"}]}],"max_tokens":8,"seed":3}`)
		if status != 200 || !strings.Contains(body, `"object":"chat.completion"`) || !strings.Contains(body, `"role":"assistant"`) {
			t.Fatalf("%d %s", status, body)
		}
	})
	for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
		t.Run("stream "+path, func(t *testing.T) {
			status, body := post(t, url+path, `{"prompt":"Once","messages":[{"role":"user","content":"Once"}],"max_tokens":6,"stream":true,"stream_options":{"include_usage":true}}`)
			if status != 200 || !strings.HasSuffix(body, "data: [DONE]\n\n") || !strings.Contains(body, `"completion_tokens":6`) {
				t.Fatalf("%d %s", status, body)
			}
		})
	}
	t.Run("best_of picks the likeliest", func(t *testing.T) {
		type choices struct {
			Choices []struct {
				Text     string
				Logprobs struct {
					TokenLogprobs []float64 `json:"token_logprobs"`
				}
			}
			Usage struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			}
		}
		var all, best choices
		_, body := post(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":6,"seed":5,"n":4,"logprobs":0}`)
		if err := json.Unmarshal([]byte(body), &all); err != nil || len(all.Choices) != 4 {
			t.Fatalf("%v %s", err, body)
		}
		bestText, bestSum := "", math.Inf(-1)
		for _, c := range all.Choices {
			sum := 0.0
			for _, lp := range c.Logprobs.TokenLogprobs {
				sum += lp
			}
			if sum > bestSum {
				bestText, bestSum = c.Text, sum
			}
		}
		_, body = post(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":6,"seed":5,"best_of":4}`)
		if err := json.Unmarshal([]byte(body), &best); err != nil || len(best.Choices) != 1 {
			t.Fatalf("%v %s", err, body)
		}
		if best.Choices[0].Text != bestText || best.Usage.CompletionTokens != 24 || best.Usage.PromptTokens != all.Usage.PromptTokens {
			t.Errorf("best_of chose %q (usage %+v), want %q of %s", best.Choices[0].Text, best.Usage, bestText, body)
		}
		if strings.Contains(body, "token_logprobs") {
			t.Errorf("logprobs leaked without being asked: %s", body)
		}
	})
	t.Run("embeddings", func(t *testing.T) {
		status, body := post(t, url+"/v1/embeddings", `{"input":["Once upon a time","Once upon a time","A big red ball"]}`)
		var r struct {
			Data []struct {
				Index     int
				Embedding []float32
			}
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			}
		}
		if status != 200 || json.Unmarshal([]byte(body), &r) != nil || len(r.Data) != 3 || r.Usage.PromptTokens == 0 {
			t.Fatalf("%d %s", status, body)
		}
		dot := func(a, b []float32) (d float64) {
			for i := range a {
				d += float64(a[i]) * float64(b[i])
			}
			return d
		}
		a, b, c := r.Data[0].Embedding, r.Data[1].Embedding, r.Data[2].Embedding
		if len(a) == 0 || math.Abs(dot(a, a)-1) > 1e-4 || math.Abs(dot(a, b)-1) > 1e-5 || dot(a, c) > 0.9999 {
			t.Errorf("dims %d, |a|² %g, a·b %g, a·c %g", len(a), dot(a, a), dot(a, b), dot(a, c))
		}
		status, body = post(t, url+"/v1/embeddings", `{"input":"Once upon a time","encoding_format":"base64","dimensions":8}`)
		var r64 struct{ Data []struct{ Embedding string } }
		if status != 200 || json.Unmarshal([]byte(body), &r64) != nil {
			t.Fatalf("%d %s", status, body)
		}
		raw, err := base64.StdEncoding.DecodeString(r64.Data[0].Embedding)
		if err != nil || len(raw) != 32 {
			t.Fatalf("base64: %v, %d bytes", err, len(raw))
		}
	})
	t.Run("disconnect frees the K/V", func(t *testing.T) {
		before := metric(t, url, `kiln_request_finished_total{finished_reason="abort"}`)
		resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"Once","max_tokens":480,"ignore_eos":true,"stream":true}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, url, `kiln_kv_blocks{state="used"}`) != 0 || metric(t, url, "kiln_num_requests_running") != 0 {
			if time.Now().After(deadline) {
				t.Fatal("K/V blocks still used after the client left")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The stream may have finished before the disconnect was seen on
		// a fast machine; it must not have finished any other way.
		if after := metric(t, url, `kiln_request_finished_total{finished_reason="abort"}`); after != before+1 {
			t.Logf("aborted %v -> %v (the stream may have completed first)", before, after)
		}
	})
}

// TestServeCommand runs `kiln serve` through cobra as a user types it:
// -m, -tp, flags and environment together.
func TestServeCommand(t *testing.T) {
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skip(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	t.Setenv("KILN_SERVED_MODEL_NAME", "tiny-stories")
	t.Setenv("KILN_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCommand()
	root.SetArgs([]string{"serve", "-m", storiesGGUF, "--host", "127.0.0.1", "--port", fmt.Sprint(port), "-tp", "1",
		"--kv-cache-size", "16MiB", "--session-len", "256", "--api-keys", "k1", "--shutdown-grace-period", "100ms"})
	root.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy(t, url)
	req, _ := http.NewRequest("GET", url+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"id":"tiny-stories"`) || !strings.Contains(string(b), `"max_model_len":256`) {
		t.Errorf("models: %s", b)
	}
	if status, _ := post(t, url+"/v1/models", "{}"); status != 401 {
		t.Errorf("no key: %d", status)
	}

	// SIGTERM with streams in flight: each ends with its finish_reason or
	// an error event, then [DONE]; the command returns nil.
	const streams = 4
	bodies := make(chan string, streams)
	for range streams {
		req, _ := http.NewRequest("POST", url+"/v1/completions",
			strings.NewReader(`{"prompt":"Once","max_tokens":240,"ignore_eos":true,"stream":true}`))
		req.Header.Set("Authorization", "Bearer k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies <- string(b)
		}()
	}
	start := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	t.Logf("exited %v after SIGTERM", time.Since(start))
	for range streams {
		b := <-bodies
		if !strings.HasSuffix(b, "data: [DONE]\n\n") || !(strings.Contains(b, `"finish_reason":"length"`) || strings.Contains(b, `"code":"shutting_down"`)) {
			t.Errorf("stream did not end properly: %q", b[max(0, len(b)-300):])
		}
	}
	cancel()
}

func TestServeConfigErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--model-path", "/nonexistent/model.gguf"}, "option model"},
		{[]string{"serve", "--tokenizer", "/some/hf/dir"}, "option tokenizer"},
		{[]string{"serve", "--tokenizer-mode", "mistral"}, "option tokenizer_mode"},
		{[]string{"serve", "-m", storiesGGUF, "-pp", "2"}, "option pipeline_parallel_size"},
		{[]string{"serve", "-m", storiesGGUF, "--kv-cache-dtype", "q4"}, "option kv_cache_dtype"},
		{[]string{"serve", "-m", storiesGGUF, "--devices", "gpu:0"}, "option devices"},
		{[]string{"serve", "--no-such-flag"}, "unknown flag"},
		{[]string{"serve", "-m", storiesGGUF, "--speculative", "eagle"}, "option speculative"},
		{[]string{"serve", "-m", storiesGGUF, "--speculative", "ngram", "--ngram-min", "3", "--ngram-max", "2"}, "option ngram_max"},
		{[]string{"serve", "-m", storiesGGUF, "--max-itl-ms", "-5"}, "option max_itl_ms"},
		{[]string{"serve", "-m", storiesGGUF, "--host", "127.0.0.1", "--port", "0", "--kv-cache-size", "1KiB"}, "option kv_cache_size"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			root := newRootCommand()
			root.SetArgs(tc.args)
			root.SetErr(io.Discard)
			err := root.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestExpandShorthands(t *testing.T) {
	got := expandShorthands([]string{"-tp", "2", "-dp=3", "-m", "x", "--port", "1", "-pp"})
	want := "--tensor-parallel-size 2 --data-parallel-size=3 --model x --port 1 --pipeline-parallel-size"
	if strings.Join(got, " ") != want {
		t.Errorf("got %q", got)
	}
}

// TestServeDataParallel serves two replicas: requests spread over both,
// and an interactive session stays on one (its history keeps growing).
func TestServeDataParallel(t *testing.T) {
	url := startServe(t, func(c *configs.Config) { c.DataParallelSize = 2 })
	for range 4 {
		if status, body := post(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":4}`); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	hist := 0
	for i := range 3 {
		status, body := post(t, url+"/v1/chat/interactive", `{"prompt":"Hi","session_id":11,"interactive_mode":true,"request_output_len":3}`)
		var r struct {
			HistoryTokens int `json:"history_tokens"`
			InputTokens   int `json:"input_tokens"`
			Tokens        int
		}
		if status != 200 || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("%d %s", status, body)
		}
		if i > 0 && r.HistoryTokens != hist {
			t.Errorf("turn %d: history %d, want %d", i, r.HistoryTokens, hist)
		}
		hist = r.HistoryTokens + r.InputTokens + r.Tokens
	}
	if got := metric(t, url, "kiln_sessions"); got != 1 {
		t.Errorf("sessions %v", got)
	}
	if got := metric(t, url, `kiln_kv_blocks{state="free"}`) + metric(t, url, `kiln_kv_blocks{state="cached"}`) + metric(t, url, `kiln_kv_blocks{state="used"}`); got != 2*128 {
		t.Errorf("blocks over both replicas %v, want %d", got, 2*128)
	}
}

// TestServerREADME runs every curl example of server/README.md, as
// written but for the port, against a real server.
func TestServerREADME(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	b, err := os.ReadFile("server/README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	url := startServe(t, nil)
	n := 0
	for _, blk := range blocks {
		cmdline := strings.TrimSpace(blk[1])
		if !strings.HasPrefix(cmdline, "curl ") {
			continue
		}
		n++
		cmdline = strings.ReplaceAll(cmdline, "http://localhost:8000", url)
		cmdline = strings.Replace(cmdline, "curl", curl+" --fail-with-body", 1)
		out, err := exec.Command("sh", "-c", cmdline).CombinedOutput()
		// An error body holds an error object; a response object's "error" is null.
		if err != nil || len(out) == 0 || strings.Contains(string(out), `"error":{`) {
			t.Errorf("%s: %v\n%s", blk[1], err, out)
		}
	}
	if n < 8 {
		t.Errorf("only %d curl examples found", n)
	}
}
