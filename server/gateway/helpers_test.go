package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBackend is an OpenAI-ish server: /health and /metrics answer as
// kiln's do (health can be turned off, the queue set), every other path
// is api's.
type fakeBackend struct {
	srv     *httptest.Server
	healthy atomic.Bool
	queue   atomic.Int64
	hits    atomic.Int64 // API requests received
	api     http.HandlerFunc
}

func newFakeBackend(t *testing.T, api http.HandlerFunc) *fakeBackend {
	t.Helper()
	f := &fakeBackend{api: api}
	f.healthy.Store(true)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			if !f.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/metrics":
			fmt.Fprintf(w, "kiln_num_requests_running 0\nkiln_num_requests_waiting %d\n", f.queue.Load())
		default:
			f.hits.Add(1)
			f.api(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// answer is an API handler replying body with status 200.
func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}
}

// cutBeforeAnswer reads the request and drops the connection without a
// response: a backend killed mid-generation.
func cutBeforeAnswer(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// startGateway runs a gateway over urls with fast checks, served by an
// httptest server; both stop at the test's end.
func startGateway(t *testing.T, cfg Config, urls ...string) (*Gateway, string) {
	t.Helper()
	cfg.Backends = urls
	if cfg.HealthInterval == 0 {
		cfg.HealthInterval = 50 * time.Millisecond
	}
	if cfg.MetricsInterval == 0 {
		cfg.MetricsInterval = 50 * time.Millisecond
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g.Start(context.Background())
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return g, srv.URL
}

// postJSON posts body and returns the response with its body read.
func postJSON(t *testing.T, url, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 5 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
