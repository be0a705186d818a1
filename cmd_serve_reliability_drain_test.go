package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// drainStreams is how many streams are in flight when SIGTERM comes; with
// one sequence at a time they take seconds to run through.
const drainStreams = 48

// streamResult is one stream's body as its client read it.
type streamResult struct {
	body string
	err  error
}

// startStreams posts count copies of body as streams and collects each
// whole body on the returned channel.
func startStreams(url, body string, count int) <-chan streamResult {
	out := make(chan streamResult, count)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range count {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			resp, err := postStream(ctx, client, url+"/v1/completions", body)
			if err != nil {
				out <- streamResult{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			out <- streamResult{string(b), err}
		}()
	}
	return out
}

// waitStreamsSubmitted waits until n streams to /v1/completions have
// passed the server's readiness check and been submitted: a stream's
// request is counted (200) as soon as its handler hands the stream over.
// The count only grows, unlike the engine's gauges.
func waitStreamsSubmitted(t *testing.T, url string, n int) {
	t.Helper()
	sample := regexp.MustCompile(`(?m)^kiln_http_requests_total\{method="POST",route="/v1/completions",status="200"\} (\d+)$`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := 0
		if m := sample.FindStringSubmatch(metricsText(t, url)); m != nil {
			got, _ = strconv.Atoi(m[1])
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d streams submitted after 30 s", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEngineBusy waits until the engine runs or queues a sequence.
func waitEngineBusy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for metric(t, url, "kiln_num_requests_running")+metric(t, url, "kiln_num_requests_waiting") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing reached the engine in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// probeTally is what /health answered during a drain, in order.
type probeTally struct {
	mu           sync.Mutex
	answers      []int     // statuses, in order
	firstRefusal time.Time // of a connection refused or reset (the server has closed)
	refusal      error
	stopped      chan struct{}
	finished     chan struct{}
}

// probeHealth polls /health on a fresh connection every 20 ms until stop.
func probeHealth(url string) *probeTally {
	p := &probeTally{stopped: make(chan struct{}), finished: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	go func() {
		defer close(p.finished)
		for {
			select {
			case <-p.stopped:
				return
			case <-time.After(20 * time.Millisecond):
			}
			resp, err := client.Get(url + "/health")
			p.mu.Lock()
			if err != nil {
				if p.firstRefusal.IsZero() {
					p.firstRefusal, p.refusal = time.Now(), err
				}
			} else {
				p.answers = append(p.answers, resp.StatusCode)
				resp.Body.Close()
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// count503 is how many 503s were seen, and whether a 200 followed one.
func (p *probeTally) count503() (n int, okAfter bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.answers {
		switch {
		case s == 503:
			n++
		case n > 0:
			okAfter = true
		}
	}
	return n, okAfter
}

// testDrainUnderLoad: SIGTERM with 48 streams in flight. The server
// drains: /health answers 503 on new connections, a new request gets 503
// in OpenAI's shape, every stream completes (finish_reason length, then
// [DONE]), and the process exits 0 soon after the last one.
func testDrainUnderLoad(t *testing.T) {
	const grace = 60 * time.Second
	p := startServeProcess(t, "--max-num-seqs", "1", "--max-queue", "256", "--shutdown-grace-period", grace.String())
	streams := startStreams(p.url, `{"prompt":"Once","max_tokens":480,"ignore_eos":true,"stream":true}`, drainStreams)
	waitStreamsSubmitted(t, p.url, drainStreams)
	probe := probeHealth(p.url)
	sigterm := time.Now()
	p.signal(t, syscall.SIGTERM)

	// Once /health says 503, a new request must be refused in OpenAI's shape.
	for n, _ := probe.count503(); n == 0; n, _ = probe.count503() {
		if time.Since(sigterm) > 10*time.Second {
			t.Fatal("/health never answered 503 after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}).Post(
		p.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`))
	if err != nil {
		t.Fatalf("a new request while draining: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error *struct {
			Message, Type string
			Code          *string
		}
	}
	if json.Unmarshal(b, &e) != nil || resp.StatusCode != 503 || e.Error == nil || e.Error.Message == "" ||
		e.Error.Type != "service_unavailable" || e.Error.Code == nil || *e.Error.Code != "shutting_down" {
		t.Errorf("a new request while draining: %d %s, want 503 shutting_down in OpenAI's shape", resp.StatusCode, b)
	}

	completed := 0
	var almostDone time.Time // the server cannot have closed before: one stream still runs
	for i := range drainStreams {
		if i == drainStreams-1 {
			almostDone = time.Now()
		}
		r := <-streams
		end, perr := parseStream(r.body)
		switch {
		case r.err != nil:
			t.Errorf("stream: %v after %q", r.err, tail(r.body, 200))
		case perr != nil:
			t.Errorf("stream: %v", perr)
		case end.errCode != "" || end.finished != 1 || !strings.Contains(r.body, `"finish_reason":"length"`):
			t.Errorf("stream did not complete: %q", tail(r.body, 300))
		default:
			completed++
		}
	}
	lastStream := time.Since(sigterm)
	code := p.wait(t, 15*time.Second)
	exited := time.Since(sigterm)
	close(probe.stopped)
	<-probe.finished
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	n503, okAfter := probe.count503()
	if okAfter || (!probe.firstRefusal.IsZero() && probe.firstRefusal.Before(almostDone)) {
		t.Errorf("/health while draining: %d x 503, a 200 after a 503: %v; refused %v after SIGTERM, before the drain was over (%v)",
			n503, okAfter, probe.firstRefusal.Sub(sigterm), probe.refusal)
	}
	if !strings.Contains(p.logs.String(), `msg="serve: stopped"`) {
		t.Error(`no "serve: stopped" in the log`)
	}
	t.Logf("SIGTERM with %d streams in flight: all %d completed, the last %v after SIGTERM; /health answered 503 %d times meanwhile; "+
		"exit 0 %v after SIGTERM (grace %v)", drainStreams, completed, lastStream.Round(time.Millisecond), n503,
		exited.Round(time.Millisecond), grace)
}

// testDrainPastGrace: SIGTERM while requests that would run far longer
// than the grace period are in flight: each is cut with a clear end (a
// stream's shutting_down error event and [DONE], a 503 answer) and the
// process exits 0 within grace plus a margin.
func testDrainPastGrace(t *testing.T) {
	const grace, margin = time.Second, 5 * time.Second
	p := startServeProcess(t, "--max-num-seqs", "1", "--max-queue", "512", "--shutdown-grace-period", grace.String())
	// 64 prompts of 480 tokens each, one sequence at a time: seconds of work
	// per request, 4 requests far more than the grace period on any machine.
	const cutStreams = 3
	prompts := `["Once"` + strings.Repeat(`,"Once"`, 63) + `]`
	plain := make(chan streamResult, 1)
	go func() {
		resp, err := (&http.Client{Timeout: time.Minute}).Post(p.url+"/v1/completions", "application/json",
			strings.NewReader(`{"prompt":`+prompts+`,"max_tokens":480,"ignore_eos":true}`))
		if err != nil {
			plain <- streamResult{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		plain <- streamResult{body: fmt.Sprintf("%d %s", resp.StatusCode, b)}
	}()
	waitEngineBusy(t, p.url) // the non-streamed request is in: nothing else is
	streams := startStreams(p.url, `{"prompt":`+prompts+`,"max_tokens":480,"ignore_eos":true,"stream":true}`, cutStreams)
	waitStreamsSubmitted(t, p.url, cutStreams)
	sigterm := time.Now()
	p.signal(t, syscall.SIGTERM)

	for range cutStreams {
		r := <-streams
		end, err := parseStream(r.body)
		if r.err != nil || err != nil || end.errCode != "shutting_down" {
			t.Errorf("stream cut at the grace period: %v %v %q, want a shutting_down error event then [DONE]", r.err, err, tail(r.body, 300))
		}
	}
	r := <-plain
	if r.err != nil || !strings.HasPrefix(r.body, "503 ") || !strings.Contains(r.body, `"code":"shutting_down"`) {
		t.Errorf("non-streamed request cut at the grace period: %v %q, want 503 shutting_down", r.err, tail(r.body, 300))
	}
	code := p.wait(t, grace+margin)
	exited := time.Since(sigterm)
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if exited < grace {
		t.Errorf("exited %v after SIGTERM, before the grace period of %v was over", exited, grace)
	}
	t.Logf("SIGTERM with %d requests of 64 x 480 tokens in flight: %d streams ended with a shutting_down event, the other answered 503; "+
		"exit 0 %v after SIGTERM (grace %v)", cutStreams+1, cutStreams, exited.Round(time.Millisecond), grace)
}

// testSecondSignal: a second SIGTERM during the drain stops the process
// at once (the default action: killed by the signal), however long the
// grace period and the requests in flight.
func testSecondSignal(t *testing.T) {
	p := startServeProcess(t, "--max-num-seqs", "1", "--shutdown-grace-period", "60s")
	prompts := `["Once"` + strings.Repeat(`,"Once"`, 63) + `]`
	streams := startStreams(p.url, `{"prompt":`+prompts+`,"max_tokens":480,"ignore_eos":true,"stream":true}`, 2)
	waitStreamsSubmitted(t, p.url, 2)
	p.signal(t, syscall.SIGTERM)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), `msg="shutdown: draining"`) {
		if time.Now().After(deadline) {
			t.Fatal("no drain 10 s after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	second := time.Now()
	p.signal(t, syscall.SIGTERM)
	code := p.wait(t, 5*time.Second)
	if code != -1 {
		t.Errorf("exit code %d, want death by the signal", code)
	}
	for range 2 {
		if r := <-streams; r.err == nil && strings.HasSuffix(r.body, "data: [DONE]\n\n") {
			t.Errorf("a stream ran to its end: %q", tail(r.body, 200))
		}
	}
	t.Logf("second SIGTERM during the drain: the process was gone %v later", time.Since(second).Round(time.Millisecond))
}
