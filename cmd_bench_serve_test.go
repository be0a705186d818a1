package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/server/loadgen/loadgentest"
)

func TestBenchServeJSONAndTable(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{Chunks: 3, TokensPerChunk: 2, FirstDelay: 5 * time.Millisecond})
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "")
	out, errw, err := runKilnOutput(t, "bench", "serve", "--url", srv.URL+"/v1", "-n", "4", "-c", "2",
		"--input-len", "6", "--output-len", "3", "--endpoint", "chat", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	var rep struct {
		Completed    int    `json:"completed"`
		Model        string `json:"model"`
		OutputTokens int    `json:"total_output_tokens"`
		TTFT         struct {
			Count int     `json:"count"`
			P50   float64 `json:"p50"`
		} `json:"ttft_ms"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Completed != 4 || rep.Model != "fake-model" || rep.OutputTokens != 4*6 || rep.TTFT.Count != 4 || rep.TTFT.P50 < 5 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(errw, "4/4 done") {
		t.Errorf("no progress on stderr:\n%s", errw)
	}

	out, _, err = runKilnOutput(t, "bench", "serve", "--url", srv.URL, "-n", "2", "--request-rate", "inf",
		"--max-concurrency", "2", "--model", "x", "--fixed-output")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2 completed, 0 failed", "TTFT", "ITL", "TPOT", "E2E", "req/s"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
}

func TestBenchServeFailsWhenEveryRequestFails(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{Fail: func(int) (int, string) { return 503, "no capacity" }})
	defer srv.Close()
	out, _, err := runKilnOutput(t, "bench", "serve", "--url", srv.URL, "-n", "3", "--input-len", "4", "--output-len", "2")
	if err == nil || !strings.Contains(err.Error(), "all 3 requests failed") {
		t.Errorf("error %v", err)
	}
	if !strings.Contains(out, "3× HTTP 503 Service Unavailable: no capacity") {
		t.Errorf("errors not shown:\n%s", out)
	}
}

func TestBenchServeRejectsBadFlags(t *testing.T) {
	u := "http://127.0.0.1:1" // never dialled: validation comes first
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{}, "--url"},
		{[]string{"--url", "localhost:8000"}, "--url"},
		{[]string{"--url", u, "--endpoint", "embeddings"}, "--endpoint"},
		{[]string{"--url", u, "-n", "0"}, "--num-requests"},
		{[]string{"--url", u, "-c", "2", "--request-rate", "3"}, "--request-rate"},
		{[]string{"--url", u, "--request-rate", "fast"}, "--request-rate"},
		{[]string{"--url", u, "--request-rate", "0"}, "--request-rate"},
		{[]string{"--url", u, "--max-concurrency", "2"}, "--max-concurrency"},
		{[]string{"--url", u, "--input-len", "0"}, "--input-len"},
		{[]string{"--url", u, "--output-len-range", "1.5"}, "--output-len-range"},
		{[]string{"--url", u, "--shared-prefix-len", "-3"}, "--shared-prefix-len"},
		{[]string{"--url", u, "--temperature", "-1"}, "--temperature"},
		{[]string{"--url", u, "--timeout", "0s"}, "--timeout"},
		{[]string{"--url", u, "--seed", "-1"}, "seed"},
	} {
		_, _, err := runKilnOutput(t, append([]string{"bench", "serve"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.flag)
		}
	}
}
