package server

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestRouterHTTP drives the router through the API: routing by model,
// /v1/models states, load and unload, the vLLM metric names.
func TestRouterHTTP(t *testing.T) {
	f := &fakeLoads{bytes: 100}
	r := newTestRouter(t, f, RouterOptions{MemoryBudget: 150}, "a", "b")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.SetRouter(r)
	env := &testEnv{srv: s}

	listStates := func() map[string]ModelState {
		_, b := env.do(t, "GET", "/v1/models", "")
		var list struct {
			Data []routedModelEntry `json:"data"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		out := map[string]ModelState{}
		for _, m := range list.Data {
			out[m.ID] = m.Status.Value
		}
		return out
	}
	if resp, _ := env.do(t, "GET", "/health", ""); resp.StatusCode != 200 {
		t.Fatalf("/health %d with nothing loaded", resp.StatusCode)
	}
	if got := listStates(); got["a"] != StateUnloaded || got["b"] != StateUnloaded {
		t.Fatalf("states before any request: %v", got)
	}
	for _, tc := range []struct{ model, want string }{{"b", "b"}, {"a", "a"}, {"", "a"}} {
		t.Run("model "+tc.model, func(t *testing.T) {
			body := `{"prompt":"Once","max_tokens":3}`
			if tc.model != "" {
				body = `{"model":"` + tc.model + `","prompt":"Once","max_tokens":3}`
			}
			resp, b := env.do(t, "POST", "/v1/completions", body)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			var out struct{ Model string }
			_ = json.Unmarshal(b, &out)
			if out.Model != tc.want {
				t.Errorf("answered by %q, want %q", out.Model, tc.want)
			}
			if got := listStates()[tc.want]; got != StateLoaded {
				t.Errorf("%s is %s after its request", tc.want, got)
			}
		})
	}
	if got := listStates(); got["b"] != StateUnloaded {
		t.Errorf("b is %s, want unloaded by the budget for a", got["b"])
	}
	t.Run("unknown model", func(t *testing.T) {
		resp, b := env.do(t, "POST", "/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`)
		if _, _, _, code := apiError(t, b); resp.StatusCode != 404 || code == nil || *code != "model_not_found" {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
		resp, b = env.do(t, "GET", "/v1/models/nope", "")
		if resp.StatusCode != 404 {
			t.Errorf("GET /v1/models/nope: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("bad body is refused before any load", func(t *testing.T) {
		before := f.loads.Load()
		resp, b := env.do(t, "POST", "/v1/completions", `{"model":7,"prompt":"x"}`)
		if _, _, param, _ := apiError(t, b); resp.StatusCode != 400 || param == nil || *param != "model" {
			t.Errorf("%d %s", resp.StatusCode, b)
		}
		if f.loads.Load() != before {
			t.Error("a bad request loaded a model")
		}
	})
	t.Run("load and unload", func(t *testing.T) {
		for _, tc := range []struct {
			path, body string
			status     int
			want       ModelState
		}{
			{"/models/load", `{"model":"b"}`, 200, StateLoaded},
			{"/models/unload", `{"model":"b"}`, 200, StateUnloaded},
			{"/models/unload", `{"model":"b"}`, 200, StateUnloaded}, // already unloaded
			{"/models/load", `{"model":"zz"}`, 404, ""},
			{"/models/load", `{}`, 400, ""},
			{"/models/unload", `not json`, 400, ""},
		} {
			resp, b := env.do(t, "POST", tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: %d %s, want %d", tc.path, tc.body, resp.StatusCode, b, tc.status)
				continue
			}
			if tc.status != 200 {
				apiError(t, b)
			} else if got := listStates()["b"]; got != tc.want {
				t.Errorf("%s: b is %s, want %s", tc.path, got, tc.want)
			}
		}
	})
	t.Run("metrics under vLLM's names", func(t *testing.T) {
		if resp, b := env.do(t, "POST", "/models/load", `{"model":"a"}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		_, b := env.do(t, "GET", "/metrics", "")
		for _, want := range []string{`vllm:num_requests_waiting{model_name="a"} 0`, `vllm:num_requests_running{model_name="a"} 0`,
			`vllm:kv_cache_usage_perc{model_name="a"}`, `vllm:gpu_cache_usage_perc{model_name="a"}`, `vllm:lora_requests_info{max_lora="0"`,
			"kiln_num_requests_waiting 0"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

func TestSingleModelHasNoRouter(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	resp, b := env.do(t, "POST", "/models/load", `{"model":"stories"}`)
	if _, _, _, code := apiError(t, b); resp.StatusCode != 400 || code == nil || *code != "single_model" {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
	_, b = env.do(t, "GET", "/metrics", "")
	if !strings.Contains(string(b), `vllm:num_requests_running{model_name="stories"} 0`) {
		t.Error("/metrics lacks vllm:num_requests_running for the one model")
	}
}

// TestRouterInteractiveUsesDefault: LMDeploy's interactive chat has no
// model field; its sessions stay with the default model.
func TestRouterInteractiveUsesDefault(t *testing.T) {
	r := newTestRouter(t, &fakeLoads{bytes: 1}, RouterOptions{}, "a", "b")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.SetRouter(r)
	env := &testEnv{srv: s}
	resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"model":"b","session_id":1,"prompt":"Once","request_output_len":2}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if got := states(r); got["a"] != StateLoaded || got["b"] != StateUnloaded {
		t.Errorf("states %v, want the default a serving the session", got)
	}
}

// TestRouterMetricsSurviveUnload: kiln's counters keep what unloaded
// models counted, and the gauges are exported (as zero) with nothing
// loaded, so that an autoscaler reading them sees an idle server.
func TestRouterMetricsSurviveUnload(t *testing.T) {
	r := newTestRouter(t, &fakeLoads{bytes: 1}, RouterOptions{}, "a", "b")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.SetRouter(r)
	env := &testEnv{srv: s}
	sample := func(name string) string {
		_, b := env.do(t, "GET", "/metrics", "")
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("/metrics lacks %s", name)
		return ""
	}
	if got := sample("kiln_num_requests_waiting"); got != "0" {
		t.Errorf("kiln_num_requests_waiting %s with nothing loaded", got)
	}
	for _, id := range []string{"a", "b"} {
		if resp, b := env.do(t, "POST", "/v1/completions", `{"model":"`+id+`","prompt":"Once","max_tokens":3}`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	if got := sample("kiln_generation_tokens_total"); got != "6" {
		t.Fatalf("kiln_generation_tokens_total %s, want 6", got)
	}
	for _, id := range []string{"a", "b"} {
		unloadWhenIdle(t, r, id)
		if got := sample("kiln_generation_tokens_total"); got != "6" {
			t.Errorf("kiln_generation_tokens_total %s after unloading %s, want 6", got, id)
		}
	}
	if got := sample(`kiln_request_finished_total{finished_reason="length"}`); got != "2" {
		t.Errorf("finished by length %s, want 2", got)
	}
	if got := sample("kiln_e2e_request_latency_seconds_count"); got != "2" {
		t.Errorf("e2e latency count %s, want 2", got)
	}
	if got := sample(`kiln_kv_blocks{state="used"}`); got != "0" {
		t.Errorf("used K/V blocks %s with nothing loaded", got)
	}
}

// TestRouterInteractiveAcrossUnload: a session's history lives in the
// server, its K/V in the model; once the model was unloaded the next turn
// prefills the whole history on the reloaded model.
func TestRouterInteractiveAcrossUnload(t *testing.T) {
	r := newTestRouter(t, &fakeLoads{bytes: 1}, RouterOptions{}, "a", "b")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.SetRouter(r)
	env := &testEnv{srv: s}
	turn := func() (history int) {
		t.Helper()
		resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"session_id":7,"interactive_mode":true,"prompt":"Once","request_output_len":2}`)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var out struct {
			History int `json:"history_tokens"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out.History
	}
	turn()
	unloadWhenIdle(t, r, "a")
	if h := turn(); h == 0 {
		t.Errorf("the second turn saw no history")
	}
	if got := states(r)["a"]; got != StateLoaded {
		t.Errorf("a is %s", got)
	}
}

// TestRouterOtherAPIs: the Responses and Anthropic Messages APIs route by
// their model field too.
func TestRouterOtherAPIs(t *testing.T) {
	r := newTestRouter(t, &fakeLoads{bytes: 1}, RouterOptions{}, "a", "b")
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	s.SetRouter(r)
	env := &testEnv{srv: s}
	for _, tc := range []struct{ path, body string }{
		{"/v1/responses", `{"model":"b","input":"Once","max_output_tokens":3}`},
		{"/v1/messages", `{"model":"b","max_tokens":3,"messages":[{"role":"user","content":"Once"}]}`},
		{"/v1/messages/count_tokens", `{"model":"b","messages":[{"role":"user","content":"Once"}]}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			unloadWhenIdle(t, r, "b")
			resp, b := env.do(t, "POST", tc.path, tc.body)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if got := states(r)["b"]; got != StateLoaded {
				t.Errorf("b is %s after a request naming it", got)
			}
			resp, b = env.do(t, "POST", tc.path, strings.Replace(tc.body, `"b"`, `"zz"`, 1))
			if resp.StatusCode != 404 {
				t.Errorf("unknown model: %d %s", resp.StatusCode, b)
			}
		})
	}
}
