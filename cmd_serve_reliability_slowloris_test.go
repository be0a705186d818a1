package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Slowloris: slowClients connections dribble header bytes, one every
// dribbleEvery, and never finish; the server's read timeout (readTimeout,
// set by --read-timeout; one minute by default) must close each with a 408
// while valid requests keep answering.
const (
	slowClients  = 40
	dribbleEvery = time.Second
	readTimeout  = 15 * time.Second
	slowLimit    = readTimeout + 30*time.Second // a generous margin
	validLimit   = 5 * time.Second              // a valid request's answer, however loaded the machine
)

// slowResult is what one slow connection got back.
type slowResult struct {
	status string        // the response's status line, "" if none
	after  time.Duration // from its first byte to the answer or the close
	err    error
}

// dribble opens a connection, sends a request line and then one header
// byte per dribbleEvery until the server answers or closes.
func dribble(addr string) slowResult {
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return slowResult{err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(start.Add(slowLimit))
	answered := make(chan slowResult, 1)
	go func() {
		line, err := bufio.NewReader(conn).ReadString('\n')
		answered <- slowResult{status: strings.TrimSpace(line), after: time.Since(start), err: err}
	}()
	if _, err := fmt.Fprint(conn, "GET /health HTTP/1.1\r\nHost: kiln\r\n"); err != nil {
		return slowResult{err: err}
	}
	header := "X-Slow: " + strings.Repeat("z", 200)
	for i := 0; ; i++ {
		select {
		case r := <-answered:
			return r
		case <-time.After(dribbleEvery):
		}
		if _, err := conn.Write([]byte{header[i%len(header)]}); err != nil {
			return <-answered // the server closed: its answer, if any, was read
		}
	}
}

// testSlowloris: a few dozen connections dribble headers; each is closed
// with a 408 after the server's read timeout, and meanwhile valid requests
// (health checks and short completions) keep answering within seconds.
func testSlowloris(t *testing.T) {
	p := startServeProcess(t, "--read-timeout", readTimeout.String())
	addr := strings.TrimPrefix(p.url, "http://")
	results := make(chan slowResult, slowClients)
	for range slowClients {
		go func() { results <- dribble(addr) }()
	}

	var mu sync.Mutex
	var latencies []time.Duration
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: validLimit}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
			begin := time.Now()
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = client.Get(p.url + "/health")
			} else {
				resp, err = client.Post(p.url+"/v1/completions", "application/json",
					strings.NewReader(`{"prompt":"Once upon a time","max_tokens":8}`))
			}
			took := time.Since(begin)
			mu.Lock()
			switch {
			case err != nil:
				failures = append(failures, err.Error())
			case resp.StatusCode != 200:
				failures = append(failures, resp.Status)
			default:
				latencies = append(latencies, took)
			}
			mu.Unlock()
			if err == nil {
				resp.Body.Close()
			}
		}
	})

	statuses := map[string]int{}
	var slowest, fastest time.Duration
	for i := range slowClients {
		r := <-results
		key := r.status
		if r.err != nil && r.status == "" {
			key = "error: " + r.err.Error()
		}
		statuses[key]++
		if i == 0 || r.after < fastest {
			fastest = r.after
		}
		slowest = max(slowest, r.after)
	}
	close(stop)
	wg.Wait()

	if fastest < readTimeout-time.Second {
		t.Errorf("a slow connection was closed after %v, before the read timeout %v", fastest, readTimeout)
	}
	if statuses["HTTP/1.1 408 Request Timeout"] != slowClients {
		t.Errorf("slow connections got %v, want %d x 408", statuses, slowClients)
	}
	if len(failures) > 0 {
		t.Errorf("%d valid requests failed meanwhile: %q", len(failures), failures[:min(5, len(failures))])
	}
	if want := int(readTimeout / (1500 * time.Millisecond)); len(latencies) < want { // one every 1.5 s at least, however loaded the machine
		t.Errorf("only %d valid requests answered meanwhile", len(latencies))
	}
	slices.Sort(latencies)
	t.Logf("%d slow connections: %v, after %v to %v; meanwhile %d valid requests answered (p50 %v, p99 %v, max %v)",
		slowClients, statuses, fastest.Round(time.Millisecond), slowest.Round(time.Millisecond), len(latencies),
		percentile(latencies, 0.5).Round(time.Microsecond), percentile(latencies, 0.99).Round(time.Microsecond),
		percentile(latencies, 1).Round(time.Microsecond))
}
