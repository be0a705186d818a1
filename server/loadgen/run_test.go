package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/server/loadgen/loadgentest"
)

// options returns small run options against srv.
func options(srv *loadgentest.Server, n int) Options {
	o := DefaultOptions()
	o.URL, o.NumRequests, o.InputLen, o.OutputLen, o.Seed = srv.URL, n, 8, 4, 1
	o.Timeout = 10 * time.Second
	return o
}

func TestRunEndpoints(t *testing.T) {
	const n, chunks, perChunk = 6, 5, 2
	for _, ep := range []Endpoint{Completions, Chat} {
		t.Run(string(ep), func(t *testing.T) {
			srv := loadgentest.New(loadgentest.Config{Chunks: chunks, TokensPerChunk: perChunk,
				FirstDelay: 20 * time.Millisecond, Gap: 2 * time.Millisecond})
			defer srv.Close()
			o := options(srv, n)
			o.Endpoint, o.Concurrency = ep, 3
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			wantIn := 0
			for _, p := range Prompts(o) {
				wantIn += loadgentest.PromptTokens(p.Text)
			}
			for _, c := range []struct {
				name      string
				got, want int
			}{
				{"completed", rep.Completed, n}, {"failed", rep.Failed, 0}, {"usage missing", rep.UsageMissing, 0},
				{"requests seen", srv.Requests(), n},
				{"input tokens (usage)", rep.TotalInputTokens, wantIn},
				{"output tokens (usage)", rep.TotalOutputTokens, n * chunks * perChunk},
				{"TTFT samples", rep.TTFT.Count, n}, {"TPOT samples", rep.TPOT.Count, n}, {"E2E samples", rep.E2EL.Count, n},
				{"ITL samples: one gap per chunk, not per token", rep.ITL.Count, n * (chunks - 1)},
			} {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
			if rep.Model != "fake-model" || rep.Endpoint != string(ep) || rep.Load != LoadClosed || rep.MaxConcurrency != 3 {
				t.Errorf("header: model %q endpoint %q load %q cap %d", rep.Model, rep.Endpoint, rep.Load, rep.MaxConcurrency)
			}
			// Lower bounds only: the server sleeps that long before writing.
			if rep.TTFT.P50 < 20 || rep.TTFT.Mean < 20 || rep.E2EL.P50 < 28 || rep.ITL.P50 <= 0 || rep.TPOT.P50 <= 0 {
				t.Errorf("implausible latencies: ttft %+v e2e %+v itl %+v tpot %+v", rep.TTFT, rep.E2EL, rep.ITL, rep.TPOT)
			}
			if !(rep.TTFT.P50 <= rep.TTFT.P90 && rep.TTFT.P90 <= rep.TTFT.P99) {
				t.Errorf("percentiles out of order: %+v", rep.TTFT)
			}
			if rep.RequestThroughput <= 0 || rep.OutputThroughput <= 0 ||
				math.Abs(rep.TotalTokThroughput-rep.InputThroughput-rep.OutputThroughput) > 1e-6 {
				t.Errorf("throughputs: %+v", rep)
			}
			for i, b := range srv.Bodies() {
				so, _ := b["stream_options"].(map[string]any)
				if b["stream"] != true || so["include_usage"] != true || b["model"] != "fake-model" ||
					b["max_tokens"] != 4.0 || b["temperature"] != 0.0 || b["ignore_eos"] != nil {
					t.Errorf("body %d: %v", i, b)
				}
				_, hasPrompt := b["prompt"]
				_, hasMessages := b["messages"]
				if hasPrompt != (ep == Completions) || hasMessages != (ep == Chat) {
					t.Errorf("body %d has the wrong input field: %v", i, b)
				}
			}
		})
	}
}

func TestRunLoadShapes(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, conc, maxc int
		rate          float64
		wantCap       int
		load          string
	}{
		{"closed loop of 2", 8, 2, 0, 0, 2, LoadClosed},
		{"closed loop of 1", 4, 1, 0, 0, 1, LoadClosed},
		{"burst capped at 3", 9, 0, 3, math.Inf(1), 3, LoadBurst},
		{"poisson capped at 2", 6, 0, 2, 500, 2, LoadPoisson},
		{"burst uncapped", 5, 0, 0, math.Inf(1), 5, LoadBurst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := loadgentest.New(loadgentest.Config{Chunks: 2, FirstDelay: 15 * time.Millisecond})
			defer srv.Close()
			o := options(srv, tc.n)
			o.Concurrency, o.MaxConcurrency, o.RequestRate = tc.conc, tc.maxc, tc.rate
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Completed != tc.n || srv.Requests() != tc.n {
				t.Errorf("completed %d, server saw %d, want %d", rep.Completed, srv.Requests(), tc.n)
			}
			if m := srv.MaxInFlight(); m > tc.wantCap || m < 1 {
				t.Errorf("max in flight %d, cap %d", m, tc.wantCap)
			}
			// Keep-alive: connections are reused, never more than in flight.
			if c := srv.Conns(); c > tc.wantCap {
				t.Errorf("%d connections for at most %d in flight", c, tc.wantCap)
			}
			if rep.Load != tc.load {
				t.Errorf("load %q, want %q", rep.Load, tc.load)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	const n = 6
	for _, tc := range []struct {
		name      string
		cfg       loadgentest.Config
		timeout   time.Duration // 0: the default
		completed int
		errs      []string // in the first error
	}{
		{"429 everywhere", loadgentest.Config{Fail: func(int) (int, string) { return 429, "rate limited" }},
			0, 0, []string{"HTTP 429", "rate limited"}},
		{"every other 500", loadgentest.Config{Fail: func(i int) (int, string) {
			if i%2 == 1 {
				return 500, "boom"
			}
			return 0, ""
		}}, 0, n / 2, []string{"HTTP 500", "boom"}},
		{"stream cut", loadgentest.Config{Chunks: 4, CutAfter: 2}, 0, 0, []string{"stream"}},
		{"stream error event", loadgentest.Config{Chunks: 4, CutAfter: 1, StreamError: "overloaded"}, 0, 0, []string{"stream error: overloaded"}},
		{"timeout", loadgentest.Config{FirstDelay: 5 * time.Second}, 40 * time.Millisecond, 0, []string{"timed out after 40ms (--timeout)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := loadgentest.New(tc.cfg)
			defer srv.Close()
			o := options(srv, n)
			if tc.timeout > 0 {
				o.Timeout = tc.timeout
			}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Completed != tc.completed || rep.Failed != n-tc.completed {
				t.Errorf("completed %d failed %d, want %d, %d", rep.Completed, rep.Failed, tc.completed, n-tc.completed)
			}
			if len(rep.Errors) == 0 {
				t.Fatal("no errors reported")
			}
			total := 0
			for _, e := range rep.Errors {
				total += e.Count
			}
			if total != rep.Failed {
				t.Errorf("error counts sum to %d, want %d", total, rep.Failed)
			}
			for _, s := range tc.errs {
				if !strings.Contains(rep.Errors[0].Error, s) {
					t.Errorf("first error %q lacks %q", rep.Errors[0].Error, s)
				}
			}
			var table bytes.Buffer
			if err := rep.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(table.String(), tc.errs[0]) {
				t.Errorf("table does not show the error:\n%s", table.String())
			}
		})
	}
}

func TestRunWithoutUsageCountsChunks(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{Chunks: 4, TokensPerChunk: 3, NoUsage: true})
	defer srv.Close()
	o := options(srv, 3)
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	words := 0
	for _, p := range Prompts(o) {
		words += p.Words
	}
	if rep.UsageMissing != 3 || rep.TotalOutputTokens != 3*4 || rep.TotalInputTokens != words {
		t.Errorf("usage missing %d, output %d (want 12), input %d (want %d)",
			rep.UsageMissing, rep.TotalOutputTokens, rep.TotalInputTokens, words)
	}
}

func TestRunRequestOptions(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{APIKey: "sekret", Models: []string{}})
	defer srv.Close()
	o := options(srv, 2)
	o.URL, o.Endpoint, o.Model, o.APIKey = srv.URL+"/v1/", Chat, "m2", "sekret"
	o.FixedOutput, o.Temperature, o.OutputLen = true, 0.7, 9
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != 2 || rep.Model != "m2" {
		t.Fatalf("completed %d, model %q", rep.Completed, rep.Model)
	}
	for i, b := range srv.Bodies() {
		if b["ignore_eos"] != true || b["min_tokens"] != 9.0 || b["max_tokens"] != 9.0 || b["temperature"] != 0.7 || b["model"] != "m2" {
			t.Errorf("body %d: %v", i, b)
		}
	}

	// Without --model, an empty model list and a wrong key are clear errors.
	o.Model = ""
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Errorf("empty model list: %v", err)
	}
	o.APIKey = "wrong"
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestRunTokenIDPrompts(t *testing.T) {
	const n, chunks = 4, 3
	srv := loadgentest.New(loadgentest.Config{Chunks: chunks})
	defer srv.Close()
	o := options(srv, n)
	o.InputLen, o.PromptIDs = 12, TokenRange{Lo: 500, Hi: 600}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Completed != n || rep.TotalInputTokens != n*12 || rep.TotalTextChunks != n*chunks || rep.Prompts != "token ids 500:600" {
		t.Errorf("completed %d, input %d (want %d), text events %d (want %d), prompts %q",
			rep.Completed, rep.TotalInputTokens, n*12, rep.TotalTextChunks, n*chunks, rep.Prompts)
	}
	want := Prompts(o)
	for i, b := range srv.Bodies() {
		ids, ok := b["prompt"].([]any)
		if !ok || len(ids) != 12 {
			t.Fatalf("body %d: prompt %v, want 12 token ids", i, b["prompt"])
		}
		// Requests are sent in order but may arrive in any: match by content.
		found := false
		for _, p := range want {
			same := true
			for j, v := range ids {
				if v != float64(p.IDs[j]) {
					same = false
					break
				}
			}
			found = found || same
		}
		if !found {
			t.Errorf("body %d: prompt %v is none of the run's prompts", i, ids)
		}
	}
}

func TestRunRetriesWhenAKeptAliveConnectionIsDropped(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{Chunks: 2, DropReused: true})
	defer srv.Close()
	o := options(srv, 3) // one at a time: requests 2 and 3 reuse a connection
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Each reuse is dropped unanswered, sent again on a fresh connection.
	if rep.Completed != 3 || rep.Failed != 0 || rep.Retries != 2 || srv.Requests() != 3 {
		t.Errorf("completed %d failed %d retries %d (want 3, 0, 2); server answered %d requests (want 3); errors %v",
			rep.Completed, rep.Failed, rep.Retries, srv.Requests(), rep.Errors)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "2 requests sent again") {
		t.Errorf("table does not show the retries:\n%s", table.String())
	}
}

// TestRunCountsTokensPerChunk: a server that says how many tokens each
// chunk carries (llama-server's timings.predicted_n, asked for through
// --extra-body) has them counted, and each chunk's gap split among its
// tokens; one that does not has one gap per chunk.
func TestRunCountsTokensPerChunk(t *testing.T) {
	const n, chunks, perChunk = 3, 4, 3
	for _, tc := range []struct {
		name       string
		predicted  bool
		itl, toks  int
		extraField bool
	}{
		{"per-chunk counts", true, n * (chunks - 1) * perChunk, n * chunks * perChunk, true},
		{"no counts", false, n * (chunks - 1), n * chunks, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := loadgentest.New(loadgentest.Config{Chunks: chunks, TokensPerChunk: perChunk, PredictedN: tc.predicted,
				Gap: 6 * time.Millisecond})
			defer srv.Close()
			o := options(srv, n)
			if tc.extraField {
				o.ExtraBody = map[string]any{"timings_per_token": true, "max_tokens": 99}
			}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.ITL.Count != tc.itl || rep.TotalStreamTokens != tc.toks || rep.TotalTextChunks != n*chunks {
				t.Errorf("ITL samples %d (want %d), stream tokens %d (want %d), text events %d (want %d)",
					rep.ITL.Count, tc.itl, rep.TotalStreamTokens, tc.toks, rep.TotalTextChunks, n*chunks)
			}
			// A 6 ms gap split among 3 tokens: about 2 ms each.
			if tc.predicted && (rep.ITL.P50 < 1.5 || rep.ITL.P50 > 6) {
				t.Errorf("ITL p50 %.2f ms, want about 2 (a 6 ms gap over 3 tokens)", rep.ITL.P50)
			}
			for i, b := range srv.Bodies() {
				if tc.extraField && (b["timings_per_token"] != true || b["max_tokens"] != 99.0 || b["stream"] != true) {
					t.Errorf("body %d: %v, want the extra fields merged over the run's", i, b)
				}
				if _, ok := b["timings_per_token"]; !tc.extraField && ok {
					t.Errorf("body %d has an extra field: %v", i, b)
				}
			}
		})
	}
	if _, err := ParseExtraBody(`[1]`); err == nil || !strings.Contains(err.Error(), "--extra-body") {
		t.Errorf("--extra-body [1]: %v", err)
	}
}

func TestRunCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := loadgentest.New(loadgentest.Config{Chunks: 3, Gap: 300 * time.Millisecond})
	o := options(srv, 20)
	o.Concurrency = 2
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	rep, err := Run(ctx, o)
	if !errors.Is(err, context.DeadlineExceeded) || rep == nil || !rep.Interrupted {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if rep.Failed != 0 || rep.Completed != 0 {
		t.Errorf("cancelled requests counted: completed %d failed %d", rep.Completed, rep.Failed)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Run took %v to stop", d)
	}
	srv.Close()
	// Every goroutine of the run (and of the fake) winds down.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReportJSONFields(t *testing.T) {
	srv := loadgentest.New(loadgentest.Config{Chunks: 2})
	defer srv.Close()
	o := options(srv, 2)
	o.RequestRate, o.MaxConcurrency = 100, 1
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"url", "endpoint", "model", "load", "request_rate", "max_concurrency", "seed",
		"prompts", "num_requests", "completed", "failed", "interrupted", "usage_missing", "retries", "duration_s",
		"total_input_tokens", "total_output_tokens", "total_text_chunks", "total_stream_tokens", "request_throughput", "input_throughput",
		"output_throughput", "total_token_throughput", "ttft_ms", "itl_ms", "tpot_ms", "e2el_ms", "errors"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	ttft, _ := m["ttft_ms"].(map[string]any)
	for _, k := range []string{"count", "mean", "p50", "p90", "p99"} {
		if _, ok := ttft[k]; !ok {
			t.Errorf("ttft_ms lacks %q", k)
		}
	}
	if m["load"] != LoadPoisson || m["request_rate"] != 100.0 || m["completed"] != 2.0 {
		t.Errorf("load %v rate %v completed %v", m["load"], m["request_rate"], m["completed"])
	}
}

// TestRunDraftAcceptance: the speculative draft tokens a server reports in
// its usage are totalled, with their acceptance rate, in JSON and table.
func TestRunDraftAcceptance(t *testing.T) {
	const n = 4
	for _, tc := range []struct {
		name               string
		accepted, rejected int
	}{{"speculating", 6, 2}, {"not speculating", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := loadgentest.New(loadgentest.Config{Chunks: 3, TokensPerChunk: 1, AcceptedDrafts: tc.accepted, RejectedDrafts: tc.rejected})
			defer srv.Close()
			o := options(srv, n)
			o.Concurrency = 2
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.AcceptedDrafts != n*tc.accepted || rep.RejectedDrafts != n*tc.rejected {
				t.Errorf("drafts %d accepted, %d rejected; want %d, %d", rep.AcceptedDrafts, rep.RejectedDrafts, n*tc.accepted, n*tc.rejected)
			}
			var buf bytes.Buffer
			if err := rep.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			line := strings.Contains(buf.String(), "speculative drafts: 24 accepted of 32 (75.0%)")
			if tc.accepted > 0 && (!line || rep.DraftAcceptance != 0.75) {
				t.Errorf("acceptance %v, table:\n%s", rep.DraftAcceptance, buf.String())
			}
			if tc.accepted == 0 && strings.Contains(buf.String(), "speculative") {
				t.Errorf("a speculation line without drafts:\n%s", buf.String())
			}
		})
	}
}
