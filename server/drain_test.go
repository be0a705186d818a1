package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestShutdownDrains: while a stream is in flight, Shutdown keeps
// accepting connections; /health and new API requests answer 503
// (shutting_down, Connection: close) over them; the stream completes; only
// then is the listener closed.
func TestShutdownDrains(t *testing.T) {
	env := newTestEnv(t, Options{}, 5*time.Millisecond)
	env.listen(t)
	resp, err := http.Post(env.url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt":"Once","max_tokens":60,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitBlocksUsed(t, env)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- env.srv.Shutdown(ctx, 10*time.Second)
	}()
	for !env.srv.draining.Load() {
		time.Sleep(time.Millisecond)
	}

	// A fresh client each time: a new connection must still be accepted.
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/health", ""},
		{"POST", "/v1/completions", `{"prompt":"Once","max_tokens":4}`},
		{"POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
			req, _ := http.NewRequest(tc.method, env.url+tc.path, strings.NewReader(tc.body))
			r, err := client.Do(req)
			if err != nil {
				t.Fatalf("refused while draining: %v", err)
			}
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if _, _, _, code := apiError(t, b); r.StatusCode != 503 || code == nil || *code != "shutting_down" || !r.Close {
				t.Errorf("%d (close %v) %s, want 503 shutting_down with Connection: close", r.StatusCode, r.Close, b)
			}
		})
	}

	b, _ := io.ReadAll(resp.Body)
	ev := sseEvents(t, strings.NewReader(string(b)))
	if len(ev) < 2 || ev[len(ev)-1] != "[DONE]" || !strings.Contains(ev[len(ev)-2], `"finish_reason":"length"`) {
		t.Errorf("the in-flight stream did not complete: %q", ev[max(0, len(ev)-2):])
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return once the stream was done")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(env.url, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after Shutdown returned")
	}
}
