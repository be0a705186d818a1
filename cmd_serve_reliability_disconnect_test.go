package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stormClients hang up on the server in each way of hangUpWays.
const stormClients = 80

// hangUpWays are the ways a storm client leaves: each writes (part of) a
// request on conn and closes it at some point. The routes differ, so that
// /metrics tells the ways apart.
var hangUpWays = []struct {
	name  string
	reset bool // half the clients reset the connection rather than close it
	leave func(conn net.Conn, r *bufio.Reader) error
}{
	{"mid-headers", true, func(conn net.Conn, _ *bufio.Reader) error {
		_, err := fmt.Fprint(conn, "POST /tokenize HTTP/1.1\r\nHost: kiln\r\nContent-Ty")
		return err
	}},
	{"mid-body", true, func(conn net.Conn, _ *bufio.Reader) error {
		body := `{"prompt":"Once upon a time","max_tokens":400}`
		_, err := fmt.Fprintf(conn, "POST /v1/completions HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(body), body[:len(body)/2])
		return err
	}},
	// A reset could discard the request before the server read it.
	{"after the request, before the answer", false, func(conn net.Conn, _ *bufio.Reader) error {
		body := `{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":400,"n":2}`
		_, err := fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(body), body)
		time.Sleep(20 * time.Millisecond)
		return err
	}},
	{"mid-stream", true, func(conn net.Conn, r *bufio.Reader) error {
		body := `{"prompt":"Once upon a time","max_tokens":400,"ignore_eos":true,"stream":true}`
		if _, err := fmt.Fprintf(conn, "POST /v1/completions HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(body), body); err != nil {
			return err
		}
		for { // through the headers to the first event
			line, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(line, "data: ") {
				return nil
			}
		}
	}},
}

// testDisconnectStorm: a few hundred clients hang up abruptly (mid-headers,
// mid-body, after the request, mid-stream; half with a reset). Nothing is
// counted or logged as a server error, the requests that ran are counted
// as 499 or as stream disconnects, no K/V block leaks, and a normal request
// still answers promptly.
func testDisconnectStorm(t *testing.T) {
	p := startServeProcess(t, "--max-queue", "1024")
	errsBefore := serverErrors(metricsText(t, p.url)) // /health's 503 while loading
	logBefore := len(p.logs.String())

	var mu sync.Mutex
	var failures []string
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range stormClients * len(hangUpWays) {
		way := hangUpWays[i%len(hangUpWays)]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", strings.TrimPrefix(p.url, "http://"), 5*time.Second)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
				err = way.leave(conn, bufio.NewReader(conn))
				if way.reset && i%2 == 1 {
					_ = conn.(*net.TCPConn).SetLinger(0) // a reset, not a FIN
				}
				conn.Close()
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s: %v", way.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	storm := time.Since(start)
	if len(failures) > 0 {
		t.Errorf("%d clients could not even play their part: %q", len(failures), failures[:min(5, len(failures))])
	}

	waitEngineIdle(t, p.url, 30*time.Second)
	// A request is counted when its handler returns, a cut stream when its
	// writer does, and the log arrives through a pipe: poll until all is in.
	var m, logs string
	var chat499, chat200, streams, streamsCut, gone int
	for settle := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m = metricsText(t, p.url)
		count := func(sample string) int {
			v := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(m)
			if v == nil {
				return 0
			}
			var n int
			fmt.Sscan(v[1], &n)
			return n
		}
		chat499 = count(`kiln_http_requests_total{method="POST",route="/v1/chat/completions",status="499"}`)
		chat200 = count(`kiln_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}`)
		streams = count(`kiln_http_requests_total{method="POST",route="/v1/completions",status="200"}`)
		streamsCut = count(`kiln_http_stream_disconnects_total{route="/v1/completions"}`)
		logs = p.logs.String()[logBefore:]
		gone = strings.Count(logs, "client=disconnected") + strings.Count(logs, `msg="http: client disconnected mid-stream"`)
		if (chat499+chat200 == stormClients && streamsCut == stormClients && gone == chat499+streamsCut) || time.Now().After(settle) {
			break
		}
	}
	if errs := serverErrors(m); !slices.Equal(errs, errsBefore) {
		t.Errorf("disconnects counted as server errors: %q", errs)
	}
	// The request was sent whole before the hang-up, so the server read and
	// ran each one; those it had not finished when it saw the hang-up are
	// 499s. A stream has 399 tokens to write after its client left.
	if chat499+chat200 != stormClients || chat499 < stormClients/2 {
		t.Errorf("requests left before their answer: %d counted 499 and %d 200, want %d in all, most 499",
			chat499, chat200, stormClients)
	}
	if streams != stormClients || streamsCut != stormClients {
		t.Errorf("streams left mid-way: %d counted, %d as disconnects, want %d", streams, streamsCut, stormClients)
	}
	if errLines := regexp.MustCompile(`(?m)^.*level=ERROR.*$`).FindAllString(logs, 5); len(errLines) > 0 {
		t.Errorf("errors logged: %q", errLines)
	}
	if gone != chat499+streamsCut {
		t.Errorf("%d disconnect log lines, want %d (one per 499 or cut stream)", gone, chat499+streamsCut)
	}

	begin := time.Now()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Post(p.url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt":"Once upon a time","max_tokens":16}`))
	if err != nil {
		t.Fatalf("a normal request after the storm: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a normal request after the storm: %d", resp.StatusCode)
	}
	t.Logf("%d clients in %v: non-streamed %d x 499, %d x 200; streams %d, %d cut by their client; %v K/V blocks in use after; "+
		"%d disconnect log lines (info); a normal request then answered in %v",
		stormClients*len(hangUpWays), storm.Round(time.Millisecond), chat499, chat200, streams, streamsCut,
		metric(t, p.url, `kiln_kv_blocks{state="used"}`), gone, time.Since(begin).Round(time.Millisecond))
}
