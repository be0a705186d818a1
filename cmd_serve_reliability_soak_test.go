package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// Soak: soakClients clients stream for soakDuration, each request to
// completions or chat with a random length and n; about one in four
// clients hangs up mid-stream.
const (
	soakClients  = 64
	soakDuration = 15 * time.Second
)

// soakTally counts what the soak's clients saw.
type soakTally struct {
	mu           sync.Mutex
	completed    int      // streams read to a well-formed end
	disconnected int      // streams the client left on purpose
	leftChoices  int      // their choices (each a sequence in the engine)
	bad          []string // anything else: 5xx, cut or malformed streams, errors
}

func (s *soakTally) add(completed, disconnected, choices int, bad string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completed += completed
	s.disconnected += disconnected
	s.leftChoices += disconnected * choices
	if bad != "" && len(s.bad) < 20 {
		s.bad = append(s.bad, bad)
	}
}

// testSoak: 64 concurrent streams for 15 s with random disconnects mid-
// stream. Every stream a client read to the end is well-formed SSE ending
// in [DONE] with a finish_reason per choice; nothing answers 5xx; then no
// K/V block is in use and go_goroutines is back to its level before the
// soak.
func testSoak(t *testing.T) {
	p := startServeProcess(t, "--max-num-seqs", "64", "--kv-cache-size", "64MiB", "--session-len", "256")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: soakClients}}
	defer client.CloseIdleConnections()

	// Warm-up: as many connections as the soak uses, so the server's
	// worker goroutines are at the soak's level before the baseline.
	var tally soakTally
	var wg sync.WaitGroup
	for i := range soakClients {
		wg.Go(func() { soakRequest(client, p.url, rand.New(rand.NewPCG(uint64(i), 0)), false, &tally) })
	}
	wg.Wait()
	if len(tally.bad) > 0 {
		t.Fatalf("warm-up: %q", tally.bad)
	}
	client.CloseIdleConnections()
	waitEngineIdle(t, p.url, 10*time.Second)
	baseline := metric(t, p.url, "go_goroutines")
	errsBefore := serverErrors(metricsText(t, p.url)) // /health's 503 while loading
	abortsBefore := metric(t, p.url, `kiln_request_finished_total{finished_reason="abort"}`)

	tally = soakTally{}
	deadline := time.Now().Add(soakDuration)
	start := time.Now()
	for i := range soakClients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			for time.Now().Before(deadline) {
				soakRequest(client, p.url, rng, rng.IntN(4) == 0, &tally)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	client.CloseIdleConnections()
	if len(tally.bad) > 0 {
		t.Errorf("%d completed, %d disconnected; bad: %q", tally.completed, tally.disconnected, tally.bad)
	}
	if tally.completed < soakClients {
		t.Errorf("only %d streams completed in %v", tally.completed, elapsed)
	}

	waitEngineIdle(t, p.url, 10*time.Second)
	m := metricsText(t, p.url)
	if errs := serverErrors(m); !slices.Equal(errs, errsBefore) {
		t.Errorf("5xx answers: %q (before the soak: %q)", errs, errsBefore)
	}
	// fasthttp keeps idle worker goroutines for up to 20 s; per-request
	// leaks would grow with the thousands of requests instead.
	goroutines := metric(t, p.url, "go_goroutines")
	for wait := time.Now().Add(30 * time.Second); goroutines > baseline+10 && time.Now().Before(wait); {
		time.Sleep(500 * time.Millisecond)
		goroutines = metric(t, p.url, "go_goroutines")
	}
	if goroutines > baseline+10 {
		t.Errorf("goroutines %v after the soak, %v before", goroutines, baseline)
	}
	aborts := metric(t, p.url, `kiln_request_finished_total{finished_reason="abort"}`) - abortsBefore
	if aborts > float64(tally.leftChoices) {
		t.Errorf("%v sequences aborted, but clients left only %d (%d choices)", aborts, tally.disconnected, tally.leftChoices)
	}
	t.Logf("%v: %d streams completed, %d left mid-stream by their client (%v of their sequences aborted in the engine, the rest had finished); "+
		"%v tokens generated; goroutines %v before, %v after; K/V blocks in use after: %v",
		elapsed.Round(time.Millisecond), tally.completed, tally.disconnected, aborts, metric(t, p.url, "kiln_generation_tokens_total"),
		baseline, goroutines, metric(t, p.url, `kiln_kv_blocks{state="used"}`))
}

// soakRequest sends one streamed request and reads it to its end, or, if
// leave, hangs up after a few events.
func soakRequest(client *http.Client, url string, rng *rand.Rand, leave bool, tally *soakTally) {
	n := 1 + rng.IntN(2)
	path, body := "/v1/completions", fmt.Sprintf(`{"prompt":"Once upon a time","max_tokens":%d,"n":%d,"stream":true,"seed":%d}`,
		8+rng.IntN(192), n, rng.IntN(1000))
	if rng.IntN(2) == 0 {
		path, body = "/v1/chat/completions", fmt.Sprintf(`{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":%d,"n":%d,"stream":true,"stream_options":{"include_usage":true}}`,
			8+rng.IntN(192), n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := postStream(ctx, client, url+path, body)
	if err != nil {
		tally.add(0, 0, 0, fmt.Sprintf("%s: %v", path, err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tally.add(0, 0, 0, fmt.Sprintf("%s: %d %s", path, resp.StatusCode, b))
		return
	}
	if leave {
		r := bufio.NewReader(resp.Body)
		for range 1 + rng.IntN(8) {
			if _, err := r.ReadString('\n'); err != nil {
				break
			}
		}
		tally.add(0, 1, n, "")
		return // closing the body unread closes the connection
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tally.add(0, 0, 0, fmt.Sprintf("%s: cut after %d bytes: %v", path, len(b), err))
		return
	}
	end, err := parseStream(string(b))
	switch {
	case err != nil:
		tally.add(0, 0, 0, fmt.Sprintf("%s: %v", path, err))
	case end.errCode != "" || end.finished != n:
		tally.add(0, 0, 0, fmt.Sprintf("%s: error %q, %d of %d choices finished: %q", path, end.errCode, end.finished, n, tail(string(b), 300)))
	default:
		tally.add(1, 0, 0, "")
	}
}
