package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/control"
)

// listen serves env on a loopback port (for tests that need a real
// connection: streaming disconnects, shutdown).
func (e *testEnv) listen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.srv.Serve(ln) }()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		_ = e.srv.App().ShutdownWithTimeout(2 * time.Second)
	})
	e.url = "http://" + ln.Addr().String()
}

func TestChatStreamFormat(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	resp, b := env.do(t, "POST", "/v1/chat/completions",
		`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true},"logprobs":true,"top_logprobs":2}`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	ev := sseEvents(t, strings.NewReader(string(b)))
	if ev[len(ev)-1] != "[DONE]" {
		t.Fatalf("last event %q", ev[len(ev)-1])
	}
	type chunk struct {
		Object  string `json:"object"`
		Choices []struct {
			Delta struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"delta"`
			Logprobs *struct {
				Content []struct {
					Token       string `json:"token"`
					TopLogprobs []any  `json:"top_logprobs"`
				} `json:"content"`
			} `json:"logprobs"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
			TotalTokens      int `json:"total_tokens"`
		} `json:"usage"`
	}
	var chunks []chunk
	for _, e := range ev[:len(ev)-1] {
		var c chunk
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("%v: %s", err, e)
		}
		if c.Object != "chat.completion.chunk" {
			t.Errorf("object %q", c.Object)
		}
		chunks = append(chunks, c)
	}
	if r := chunks[0].Choices[0].Delta.Role; r != "assistant" {
		t.Errorf("first chunk role %q", r)
	}
	last := chunks[len(chunks)-2]
	if f := last.Choices[0].FinishReason; f == nil || *f != "length" {
		t.Errorf("last choice chunk finish_reason %v", f)
	}
	lps, text := 0, ""
	for _, c := range chunks[1 : len(chunks)-2] {
		if c.Choices[0].FinishReason != nil || c.Choices[0].Delta.Role != "" {
			t.Errorf("middle chunk with role or finish_reason: %+v", c)
		}
		if c.Choices[0].Delta.Content != nil {
			text += *c.Choices[0].Delta.Content
		}
		if c.Choices[0].Logprobs != nil {
			for _, lp := range c.Choices[0].Logprobs.Content {
				lps++
				if len(lp.TopLogprobs) != 2 {
					t.Errorf("top_logprobs %d", len(lp.TopLogprobs))
				}
			}
		}
	}
	if text == "" || lps != 5 {
		t.Errorf("text %q, %d logprobs", text, lps)
	}
	u := chunks[len(chunks)-1]
	if len(u.Choices) != 0 || u.Usage == nil || u.Usage.CompletionTokens != 5 || u.Usage.TotalTokens != u.Usage.PromptTokens+5 {
		t.Errorf("usage chunk %+v", u)
	}
	waitIdle(t, env.engine)
}

func TestCompletions(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	t.Run("batch with echo", func(t *testing.T) {
		resp, b := env.do(t, "POST", "/v1/completions", `{"prompt":["Once upon","a time"],"max_tokens":3,"echo":true,"seed":7}`)
		var c struct {
			Object  string
			Choices []struct {
				Index        int
				Text         string
				FinishReason string `json:"finish_reason"`
			}
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			}
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &c) != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if c.Object != "text_completion" || len(c.Choices) != 2 || c.Usage.CompletionTokens != 6 {
			t.Fatalf("%s", b)
		}
		if !strings.HasPrefix(c.Choices[0].Text, "Once upon") || !strings.HasPrefix(c.Choices[1].Text, "a time") || c.Choices[1].Index != 1 {
			t.Errorf("echo: %s", b)
		}
	})
	t.Run("logprobs", func(t *testing.T) {
		_, b := env.do(t, "POST", "/v1/completions", `{"prompt":[1, 400, 401],"max_tokens":4,"logprobs":3}`)
		var c struct {
			Choices []struct {
				Logprobs struct {
					Tokens        []string
					TokenLogprobs []float32            `json:"token_logprobs"`
					TopLogprobs   []map[string]float32 `json:"top_logprobs"`
					TextOffset    []int                `json:"text_offset"`
				}
			}
		}
		if err := json.Unmarshal(b, &c); err != nil || len(c.Choices) != 1 {
			t.Fatalf("%v %s", err, b)
		}
		lp := c.Choices[0].Logprobs
		if len(lp.Tokens) != 4 || len(lp.TokenLogprobs) != 4 || len(lp.TopLogprobs) != 4 || len(lp.TextOffset) != 4 {
			t.Errorf("%s", b)
		}
	})
	t.Run("stream with usage", func(t *testing.T) {
		_, b := env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}`)
		ev := sseEvents(t, strings.NewReader(string(b)))
		if ev[len(ev)-1] != "[DONE]" || !strings.Contains(ev[len(ev)-2], `"completion_tokens":4`) || !strings.Contains(ev[len(ev)-3], `"finish_reason":"length"`) {
			t.Errorf("%q", ev)
		}
	})
	t.Run("stop string", func(t *testing.T) {
		// The fake model's text after "Once" is deterministic; stop on a
		// piece of it and the text must end before it.
		_, b := env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":8,"temperature":0}`)
		var c struct{ Choices []struct{ Text string } }
		_ = json.Unmarshal(b, &c)
		full := c.Choices[0].Text
		stop := full[len(full)/2 : len(full)/2+2]
		_, b = env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":8,"temperature":0,"stop":`+mustJSON(stop)+`}`)
		_ = json.Unmarshal(b, &c)
		if !strings.Contains(string(b), `"finish_reason":"stop"`) || strings.Contains(c.Choices[0].Text, stop) {
			t.Errorf("stop %q: full %q, got %s", stop, full, b)
		}
	})
	waitIdle(t, env.engine)
}

func TestNChoices(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	_, b := env.do(t, "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"n":3,"stream":true,"stream_options":{"include_usage":true}}`)
	ev := sseEvents(t, strings.NewReader(string(b)))
	roleFirst, finished := map[int]bool{}, map[int]bool{}
	for _, e := range ev[:len(ev)-2] {
		var c struct {
			Choices []struct {
				Index        int
				Delta        struct{ Role string }
				FinishReason *string `json:"finish_reason"`
			}
		}
		if err := json.Unmarshal([]byte(e), &c); err != nil || len(c.Choices) != 1 {
			t.Fatalf("%v %s", err, e)
		}
		ch := c.Choices[0]
		if _, seen := roleFirst[ch.Index]; !seen {
			roleFirst[ch.Index] = ch.Delta.Role == "assistant"
		}
		if finished[ch.Index] {
			t.Errorf("chunk after finish_reason for choice %d", ch.Index)
		}
		finished[ch.Index] = ch.FinishReason != nil
	}
	for i := range 3 {
		if !roleFirst[i] || !finished[i] {
			t.Errorf("choice %d: role first %v, finished %v", i, roleFirst[i], finished[i])
		}
	}
	if !strings.Contains(ev[len(ev)-2], `"completion_tokens":9`) {
		t.Errorf("usage %s", ev[len(ev)-2])
	}
	_, b = env.do(t, "POST", "/v1/completions", `{"prompt":["a","b"],"max_tokens":2,"n":2,"echo":true}`)
	var c struct {
		Choices []struct {
			Index int
			Text  string
		}
	}
	if err := json.Unmarshal(b, &c); err != nil || len(c.Choices) != 4 || !strings.HasPrefix(c.Choices[3].Text, "b") || c.Choices[3].Index != 3 {
		t.Errorf("%s", b)
	}
	waitIdle(t, env.engine)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDisconnectCancels(t *testing.T) {
	env := newTestEnv(t, Options{}, 5*time.Millisecond)
	env.listen(t)
	resp, err := http.Post(env.url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt":"Once","max_tokens":400,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	if m := env.engine.Metrics(); m.KV.UsedBlocks == 0 || m.GeneratedTokens >= 400 {
		t.Fatalf("not in flight: %+v", m) // (Running is a per-step gauge that may lag)
	}
	resp.Body.Close() // the client goes away mid-stream
	m := waitIdle(t, env.engine)
	if m.Requests[control.FinishAbort] != 1 || m.GeneratedTokens >= 400 {
		t.Errorf("not aborted: %v, %d tokens", m.Requests, m.GeneratedTokens)
	}
}

func TestShutdownEndsStreamsWithAnError(t *testing.T) {
	env := newTestEnv(t, Options{}, 5*time.Millisecond)
	env.listen(t)
	resp, err := http.Post(env.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":400,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	time.Sleep(20 * time.Millisecond)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- env.srv.Shutdown(ctx, 30*time.Millisecond)
	}()
	b, _ := io.ReadAll(resp.Body)
	ev := sseEvents(t, strings.NewReader(string(b)))
	if len(ev) < 3 || ev[len(ev)-1] != "[DONE]" || !strings.Contains(ev[len(ev)-2], `"code":"shutting_down"`) {
		t.Fatalf("stream end: %q", ev[max(0, len(ev)-3):])
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitIdle(t, env.engine)
	r, body := env.do(t, "GET", "/health", "")
	if r.StatusCode != 503 {
		t.Errorf("health after shutdown: %d %s", r.StatusCode, body)
	}
}

func TestRequestTimeout(t *testing.T) {
	env := newTestEnv(t, Options{RequestTimeout: 30 * time.Millisecond}, 5*time.Millisecond)
	resp, b := env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":400}`)
	if resp.StatusCode != 408 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	apiError(t, b)
	waitIdle(t, env.engine)
}

func TestDisconnectCancelsNonStreamed(t *testing.T) {
	env := newTestEnv(t, Options{}, 5*time.Millisecond)
	env.listen(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"prompt":"Once","max_tokens":400}`
	fmt.Fprintf(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	deadline := time.Now().Add(5 * time.Second)
	for env.engine.Metrics().KV.UsedBlocks == 0 {
		if time.Now().After(deadline) {
			t.Fatal("never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	conn.Close()
	m := waitIdle(t, env.engine)
	if m.Requests[control.FinishAbort] != 1 || m.GeneratedTokens >= 400 {
		t.Errorf("not aborted: %v, %d tokens", m.Requests, m.GeneratedTokens)
	}
}

// TestBeamSearchAndBestOf: beam search answers n choices of one search,
// best_of counts the candidates it did not return, and both count the
// prompt once.
func TestBeamSearchAndBestOf(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	type answer struct {
		Choices []struct {
			Index        int
			Text         string
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	get := func(body string) answer {
		resp, b := env.do(t, "POST", "/v1/completions", body)
		var a answer
		if err := json.Unmarshal(b, &a); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
		return a
	}
	one := get(`{"prompt":"a b c","max_tokens":4,"temperature":0}`)
	a := get(`{"prompt":"a b c","max_tokens":4,"n":2,"best_of":3,"use_beam_search":true,"length_penalty":0.5,"early_stopping":"never"}`)
	if len(a.Choices) != 2 || a.Choices[0].Index != 0 || a.Choices[1].Index != 1 {
		t.Fatalf("beam search: %+v", a)
	}
	if a.Choices[0].Text != one.Choices[0].Text {
		t.Errorf("the best beam %q differs from greedy %q on a model with one likely token per step", a.Choices[0].Text, one.Choices[0].Text)
	}
	if a.Usage.PromptTokens != one.Usage.PromptTokens || a.Usage.CompletionTokens != 8 {
		t.Errorf("beam usage %+v, want the prompt once and 2x4 completion tokens", a.Usage)
	}
	b := get(`{"prompt":"a b c","max_tokens":4,"n":1,"best_of":3,"seed":5}`)
	if len(b.Choices) != 1 || b.Usage.PromptTokens != one.Usage.PromptTokens || b.Usage.CompletionTokens != 12 {
		t.Errorf("best_of 3: %+v, want one choice and all 12 generated tokens counted", b)
	}
	waitIdle(t, env.engine)
}
