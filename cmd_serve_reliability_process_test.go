package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runAsKilnEnv, set to 1, makes the test binary run main() instead of the
// tests: the reliability suite starts it as the real `kiln serve` (cobra,
// signal handling, exit status) without a separate build, and with the
// same build flags (-race, purego) as the tests.
const runAsKilnEnv = "KILN_TEST_RUN_MAIN"

// TestMain runs the tests, or kiln itself in a subprocess of them.
func TestMain(m *testing.M) {
	if os.Getenv(runAsKilnEnv) == "1" {
		os.Args = append([]string{"kiln"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveProcess is `kiln serve` running as a subprocess on a loopback port.
type serveProcess struct {
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer // its stderr: the slog text log
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's result, once done is closed
}

// serveProcessArgs are startServe's settings as flags: stories260K, one
// kernel thread, a small K/V pool and context, port 0 (the log says which
// port it got).
var serveProcessArgs = []string{"serve", "-m", storiesGGUF, "--host", "127.0.0.1", "--port", "0", "-tp", "1",
	"--kv-cache-size", "32MiB", "--session-len", "512", "--max-num-seqs", "4", "--shutdown-grace-period", "2s"}

// startServeProcess starts `kiln serve` with serveProcessArgs and then
// args (later flags win), waits until /health answers 200 and returns it.
// The process is killed at the test's end if it is still running; its log
// is printed if the test failed.
func startServeProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	return startKilnProcess(t, slices.Concat(serveProcessArgs, args)...)
}

// startKilnProcess starts `kiln` with exactly args (a serve command that
// listens on a loopback port), as startServeProcess does.
func startKilnProcess(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	return startKiln(t, http.DefaultClient, nil, "serve", args...)
}

// signal sends sig to the process.
func (p *serveProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait waits up to limit for the process to exit and returns its exit
// code (-1 if a signal ended it).
func (p *serveProcess) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("kiln serve still running %v later", limit)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("kiln serve: %v", p.err)
	return -1
}

// lockedBuffer collects log lines written by one goroutine and read by
// others.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// WriteLine appends one line.
func (l *lockedBuffer) WriteLine(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
	l.b.WriteByte('\n')
}

// String is everything written so far.
func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n lines.
func (l *lockedBuffer) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// metricsText is the whole /metrics page.
func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serverErrors lists the kiln_http_requests_total samples with a 5xx status.
func serverErrors(metrics string) []string {
	return regexp.MustCompile(`(?m)^kiln_http_requests_total\{[^}]*status="5\d\d"\}.*$`).FindAllString(metrics, -1)
}

// waitEngineIdle waits until nothing runs or waits and no K/V block is
// held by a sequence.
func waitEngineIdle(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		used := metric(t, url, `kiln_kv_blocks{state="used"}`)
		running, waiting := metric(t, url, "kiln_num_requests_running"), metric(t, url, "kiln_num_requests_waiting")
		if used == 0 && running == 0 && waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle %v later: %v blocks used, %v running, %v waiting", limit, used, running, waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamEnd is how a stream ended, judged from its body.
type streamEnd struct {
	done     bool   // ended with data: [DONE] and nothing after
	finished int    // chunks with a finish_reason
	errCode  string // the code of an error event, if one was sent
	events   int
}

// parseStream checks that body is well-formed SSE as OpenAI streams it:
// `data: <JSON object>` events each followed by a blank line, ending with
// `data: [DONE]`. A body that breaks the format is an error.
func parseStream(body string) (streamEnd, error) {
	var end streamEnd
	rest := body
	for rest != "" {
		event, after, ok := strings.Cut(rest, "\n\n")
		if !ok {
			return end, fmt.Errorf("event %d not terminated by a blank line: %q", end.events, tail(rest, 200))
		}
		rest = after
		data, ok := strings.CutPrefix(event, "data: ")
		if !ok || strings.Contains(data, "\n") {
			return end, fmt.Errorf("event %d is not one data line: %q", end.events, tail(event, 200))
		}
		end.events++
		if end.done {
			return end, fmt.Errorf("event after [DONE]: %q", tail(data, 200))
		}
		if data == "[DONE]" {
			end.done = true
			continue
		}
		var chunk struct {
			Choices []struct {
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Error *struct {
				Code *string `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return end, fmt.Errorf("event %d: %w: %q", end.events, err, tail(data, 200))
		}
		if chunk.Error != nil {
			end.errCode = "(none)"
			if chunk.Error.Code != nil {
				end.errCode = *chunk.Error.Code
			}
		}
		for _, c := range chunk.Choices {
			if c.FinishReason != nil {
				end.finished++
			}
		}
	}
	if !end.done {
		return end, errors.New("no data: [DONE] at the end")
	}
	return end, nil
}

// tail is the last n bytes of s.
func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// postStream starts a streamed request (it returns once the headers, which
// come with the first event, have arrived).
func postStream(ctx context.Context, client *http.Client, url, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return client.Do(req)
}

// percentile is the p-th percentile (0..1) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
