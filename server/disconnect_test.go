package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink that handler goroutines may write concurrently.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// metricValue reads one sample of the server's /metrics (0 when absent).
func (e *testEnv) metricValue(t *testing.T, sample string) float64 {
	t.Helper()
	_, b := e.do(t, "GET", "/metrics", "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitMetric polls sample until it reaches want (the access log counts a
// request after its handler returns).
func (e *testEnv) waitMetric(t *testing.T, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.metricValue(t, sample) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", sample, e.metricValue(t, sample), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClientDisconnectIsNotAServerError: a client that goes away is
// logged at info as such and counted as 499 (non-streamed) or as a stream
// disconnect, never as a 5xx, and its K/V is freed.
func TestClientDisconnectIsNotAServerError(t *testing.T) {
	cases := []struct {
		name, path, body string
		leave            func(t *testing.T, env *testEnv, path, body string)
		sample, logLine  string
	}{
		{
			name: "non-streamed, after sending the request", path: "/v1/completions",
			body: `{"prompt":"Once","max_tokens":400}`,
			leave: func(t *testing.T, env *testEnv, path, body string) {
				conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
				waitBlocksUsed(t, env)
				conn.Close()
			},
			sample:  `kiln_http_requests_total{method="POST",route="/v1/completions",status="499"}`,
			logLine: `level=INFO msg=http .*status=499 .*client=disconnected`,
		},
		{
			name: "streamed, mid-stream", path: "/v1/chat/completions",
			body: `{"messages":[{"role":"user","content":"hi"}],"max_tokens":400,"stream":true}`,
			leave: func(t *testing.T, env *testEnv, path, body string) {
				resp, err := http.Post(env.url+path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			},
			sample:  `kiln_http_stream_disconnects_total{route="/v1/chat/completions"}`,
			logLine: `level=INFO msg="http: client disconnected mid-stream" .*path=/v1/chat/completions`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			env := newTestEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, 5*time.Millisecond)
			env.listen(t)
			tc.leave(t, env, tc.path, tc.body)
			m := waitIdle(t, env.engine)
			if m.GeneratedTokens >= 400 {
				t.Errorf("ran to the end (%d tokens) after the client left", m.GeneratedTokens)
			}
			env.waitMetric(t, tc.sample, 1)
			if _, b := env.do(t, "GET", "/metrics", ""); regexp.MustCompile(`status="5\d\d"`).Match(b) {
				t.Errorf("a disconnect counted as a server error:\n%s", grepLines(string(b), "kiln_http_requests_total"))
			}
			if !regexp.MustCompile(tc.logLine).MatchString(logs.String()) || strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("log does not say the client disconnected (at info, no error):\n%s", logs.String())
			}
		})
	}
}

// waitBlocksUsed waits until a request holds K/V (it is running).
func waitBlocksUsed(t *testing.T, env *testEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for env.engine.Metrics().KV.UsedBlocks == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestFinishErrorCauses: how a request that did not finish normally is
// answered, by what ended it; a client that went away is never a 5xx.
func TestFinishErrorCauses(t *testing.T) {
	cases := []struct {
		name      string
		timeout   time.Duration
		end       func(s *Server, ctx context.Context)
		engineErr error
		want      int
		code      string
	}{
		{"client gone", 0, func(_ *Server, ctx context.Context) { hangUp(ctx) }, context.Canceled, StatusClientClosedRequest, "client_disconnected"},
		{"client gone under a request timeout", time.Hour, func(_ *Server, ctx context.Context) { hangUp(ctx) }, context.Canceled, StatusClientClosedRequest, "client_disconnected"},
		{"client gone, then shutdown", 0, func(s *Server, ctx context.Context) { hangUp(ctx); s.cancelAll() }, context.Canceled, StatusClientClosedRequest, "client_disconnected"},
		{"shutdown", 0, func(s *Server, _ context.Context) { s.cancelAll() }, context.Canceled, 503, "shutting_down"},
		{"shutdown, then the client goes", 0, func(s *Server, ctx context.Context) { s.cancelAll(); hangUp(ctx) }, context.Canceled, 503, "shutting_down"},
		{"request timeout", time.Millisecond, func(_ *Server, ctx context.Context) { <-ctx.Done() }, context.DeadlineExceeded, 408, "request_timeout"},
		{"engine failure", 0, func(*Server, context.Context) {}, errors.New("boom"), 500, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{RequestTimeout: tc.timeout, Logger: slog.New(slog.DiscardHandler)})
			ctx, cancel := s.requestContext()
			defer cancel()
			tc.end(s, ctx)
			e := finishError(ctx, s.base, tc.engineErr)
			if e.Status != tc.want || e.Code != tc.code {
				t.Errorf("%d %q, want %d %q", e.Status, e.Code, tc.want, tc.code)
			}
		})
	}
}
