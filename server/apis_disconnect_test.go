package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAPISurfacesDisconnect: a client that leaves a Responses or Messages
// request, streamed or not, cancels it and frees its K/V; nothing counts
// as a server error.
func TestAPISurfacesDisconnect(t *testing.T) {
	tests := []struct {
		name, path, body string
		stream           bool
	}{
		{"responses streamed", "/v1/responses", `{"input":"hi","max_output_tokens":400,"stream":true}`, true},
		{"responses", "/v1/responses", `{"input":"hi","max_output_tokens":400}`, false},
		{"messages streamed", "/v1/messages", `{"model":"stories","max_tokens":400,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, true},
		{"messages", "/v1/messages", `{"model":"stories","max_tokens":400,"messages":[{"role":"user","content":"hi"}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t, Options{}, 5*time.Millisecond)
			env.listen(t)
			if tt.stream {
				resp, err := http.Post(env.url+tt.path, "application/json", strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			} else {
				conn, err := net.Dial("tcp", strings.TrimPrefix(env.url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", tt.path, len(tt.body), tt.body)
				waitBlocksUsed(t, env)
				conn.Close()
			}
			m := waitIdle(t, env.engine)
			if m.GeneratedTokens >= 400 {
				t.Errorf("ran to the end (%d tokens) after the client left", m.GeneratedTokens)
			}
			if tt.stream {
				env.waitMetric(t, `kiln_http_stream_disconnects_total{route="`+tt.path+`"}`, 1)
			} else {
				env.waitMetric(t, `kiln_http_requests_total{method="POST",route="`+tt.path+`",status="499"}`, 1)
			}
			if _, b := env.do(t, "GET", "/metrics", ""); regexp.MustCompile(`status="5\d\d"`).Match(b) {
				t.Errorf("a disconnect counted as a server error:\n%s", grepLines(string(b), "kiln_http_requests_total"))
			}
		})
	}
}
