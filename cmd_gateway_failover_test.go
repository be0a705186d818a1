package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/server/gateway"
)

// failoverTokens is each request's generation length (ignore_eos): long
// enough that requests are in flight on both replicas at the kill.
const failoverTokens = 400

// backendArgs are the replicas' flags beside serveProcessArgs: two
// sequences at a time, so requests queue and stay in flight.
var backendArgs = []string{"--max-num-seqs", "2"}

// flight is one request of the failover load as its client saw it.
type flight struct {
	stream     bool
	prompt     string
	start, end time.Time
	backend    string // the gateway's X-Kiln-Backend
	status     int
	events     int    // data events read (streams)
	done       bool   // [DONE] read (streams), or a whole JSON body
	finish     string // the last finish_reason
	tokens     int    // usage.completion_tokens (plain requests)
	text       string
	errCode    string // an error event's code (streams)
	err        error  // transport or protocol error
}

func (f *flight) String() string {
	return fmt.Sprintf("stream=%v backend=%s status=%d events=%d done=%v finish=%q tokens=%d errCode=%q err=%v start=%s end=%s",
		f.stream, f.backend, f.status, f.events, f.done, f.finish, f.tokens, f.errCode, f.err, f.start.Format("15:04:05.000"), f.end.Format("15:04:05.000"))
}

// send runs f's request through the gateway at url, recording under mu.
func (f *flight) send(client *http.Client, url string, mu *sync.Mutex) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := fmt.Sprintf(`{"prompt":%q,"max_tokens":%d,"ignore_eos":true,"temperature":0,"stream":%v}`, f.prompt, failoverTokens, f.stream)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	set := func(fn func()) {
		mu.Lock()
		defer mu.Unlock()
		fn()
	}
	defer set(func() { f.end = time.Now() })
	if err != nil {
		set(func() { f.err = err })
		return
	}
	defer resp.Body.Close()
	set(func() { f.status, f.backend = resp.StatusCode, resp.Header.Get(gateway.BackendHeader) })
	if !f.stream {
		var out struct {
			Choices []struct {
				Text         string `json:"text"`
				FinishReason string `json:"finish_reason"`
			} `json:"choices"`
			Usage struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			err = json.Unmarshal(b, &out)
		}
		set(func() {
			if f.err = err; err == nil && len(out.Choices) == 1 {
				f.done, f.text, f.finish, f.tokens = true, out.Choices[0].Text, out.Choices[0].FinishReason, out.Usage.CompletionTokens
			}
		})
		return
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			set(func() { f.done = true })
			continue
		}
		var ev struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Error *struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			set(func() { f.err = fmt.Errorf("event %q: %w", data, err) })
			return
		}
		set(func() {
			f.events++
			if ev.Error != nil {
				f.errCode = ev.Error.Code
			}
			for _, c := range ev.Choices {
				f.text += c.Text
				if c.FinishReason != nil {
					f.finish = *c.FinishReason
				}
			}
		})
	}
	if err := sc.Err(); err != nil {
		set(func() { f.err = err })
	}
}

// runFailover drives load through the gateway at gw (reached by client)
// over the replicas victim and survivor, SIGKILLs victim while streams are
// in flight on both, and checks the promises: streams in flight on
// the survivor finish correctly; those on the victim end fast with an
// error event, or, if no byte had reached their client, are retried on the
// survivor like plain requests; everything sent after the kill goes to
// the survivor and succeeds; the gateway ejects the victim.
func runFailover(t *testing.T, client *http.Client, gw string, victim, survivor *serveProcess) {
	t.Helper()
	var mu sync.Mutex
	var flights []*flight
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f := &flight{stream: w%2 == 0, prompt: fmt.Sprintf("Once upon a time, tale %d of teller %d,", i, w), start: time.Now()}
				mu.Lock()
				flights = append(flights, f)
				mu.Unlock()
				f.send(client, gw, &mu)
			}
		}()
	}
	defer func() { // on any failure below, still stop the load
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	// Wait for a stream mid-way on each replica while the victim also
	// holds a request none of whose bytes reached its client (the
	// gateway's in-flight count there exceeds the requests whose client
	// has bytes from it): the kill then tests both failure paths.
	exposed := func(backend string) (midway bool, n int) {
		for _, f := range flights {
			if f.backend == backend && f.end.IsZero() {
				n++
				midway = midway || (f.stream && f.events > 0)
			}
		}
		return midway, n
	}
	// The gateway drops a request from its count a moment after its client
	// has read the end, so one scrape can show a surplus that is only that
	// lag; the surplus must hold over scrapes 20 ms apart (a request that
	// has not reached its client runs for hundreds of milliseconds).
	inFlight := regexp.MustCompile(fmt.Sprintf(`(?m)^kiln_gateway_backend_in_flight\{backend=%q\} (\d+)$`, victim.url))
	deadline := time.Now().Add(20 * time.Second)
	held := 0 // consecutive scrapes with the surplus
	for {
		mu.Lock()
		victimMidway, victimExposed := exposed(victim.url)
		survivorMidway, _ := exposed(survivor.url)
		mu.Unlock()
		surplus := false
		if victimMidway && survivorMidway {
			m := inFlight.FindStringSubmatch(fetch(t, client, gw+"/metrics"))
			if m == nil {
				t.Fatal("the gateway's /metrics has no in-flight count for the victim")
			}
			n, _ := strconv.Atoi(m[1])
			surplus = n > victimExposed
		}
		if !surplus {
			held = 0
		} else if held++; held == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no moment with streams in flight on both replicas and a request yet unanswered on the victim within 20 s")
		}
		pause := time.Millisecond
		if held > 0 {
			pause = 20 * time.Millisecond
		}
		time.Sleep(pause)
	}
	killed := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	dead := time.Now()
	// The load keeps coming, now to one replica, until 8 requests sent
	// after the kill have ended (at most 20 s).
	for end := dead.Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		after := 0
		for _, f := range flights {
			if f.start.After(dead) && !f.end.IsZero() {
				after++
			}
		}
		mu.Unlock()
		if after >= 8 {
			break
		}
	}
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	var failedFast, survivedKill, afterKill int
	for _, f := range flights {
		inFlightAtKill := f.start.Before(killed) && f.end.After(killed)
		switch {
		case f.err != nil || f.status != 200:
			t.Errorf("request failed: %v", f)
		case f.stream && f.errCode != "":
			if f.errCode != "backend_failed" || f.backend != victim.url || f.done || !inFlightAtKill || f.end.Sub(killed) > 5*time.Second {
				t.Errorf("stream ended with an error event it should not have: %v", f)
			}
			failedFast++
		case !f.done || f.finish != "length" || f.text == "" || (!f.stream && f.tokens != failoverTokens):
			t.Errorf("request did not finish whole: %v", f)
		case f.start.After(dead) && f.backend != survivor.url:
			t.Errorf("request sent after the kill went to %s: %v", f.backend, f)
		}
		if f.start.After(dead) {
			afterKill++
		}
		if inFlightAtKill && f.backend == survivor.url && f.done {
			survivedKill++
		}
	}
	if failedFast == 0 || survivedKill == 0 || afterKill < 8 {
		t.Errorf("streams cut on the victim %d, requests in flight at the kill that finished on the survivor %d, sent after the kill %d: each must be > 0 (>= 8 after)",
			failedFast, survivedKill, afterKill)
	}
	// Requests in flight on the survivor at the kill produced what the
	// survivor alone produces for them now (greedy: batch-invariant).
	checked := 0
	for _, f := range flights {
		if checked == 3 || !(f.start.Before(killed) && f.end.After(killed) && f.backend == survivor.url && f.done) {
			continue
		}
		again := &flight{prompt: f.prompt}
		again.send(client, gw, &sync.Mutex{})
		if again.err != nil || again.text != f.text {
			t.Errorf("%q: in flight at the kill it gave %q; alone now %q (%v)", f.prompt, f.text, again.text, again.err)
		}
		checked++
	}
	metrics := fetch(t, client, gw+"/metrics")
	retries := 0.0
	for _, m := range regexp.MustCompile(`(?m)^kiln_gateway_retries_total\{reason="\w+"\} (\S+)$`).FindAllStringSubmatch(metrics, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		retries += v
	}
	if retries == 0 {
		t.Error("nothing was retried: no request in flight on the victim had yet to reach its client")
	}
	if !strings.Contains(metrics, fmt.Sprintf("kiln_gateway_backend_up{backend=%q} 0", victim.url)) ||
		!strings.Contains(metrics, fmt.Sprintf("kiln_gateway_backend_up{backend=%q} 1", survivor.url)) {
		t.Errorf("the gateway's view of the backends:\n%s", regexp.MustCompile(`(?m)^kiln_gateway_backend_up.*$`).FindAllString(metrics, -1))
	}
	t.Logf("%d requests; %d streams cut on the victim, %d in flight at the kill finished on the survivor (retried ones included), %d sent after the kill, %.0f retried; error events %v after the kill at most",
		len(flights), failedFast, survivedKill, afterKill, retries, slowestCut(flights, killed))
}

// slowestCut is the longest time from the kill to a cut stream's end.
func slowestCut(flights []*flight, killed time.Time) time.Duration {
	var d time.Duration
	for _, f := range flights {
		if f.errCode != "" {
			d = max(d, f.end.Sub(killed))
		}
	}
	return d
}

// fetch GETs url through client and returns the body of a 200.
func fetch(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
