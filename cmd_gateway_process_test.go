package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

// startKiln runs the test binary as kiln (runAsKilnEnv) with args, behind
// wrap (e.g. `ip netns exec NS`, which execs it: the process is kiln
// itself), waits for its `<what>: listening addr=` log line and then until
// its /health answers 200 through client, and returns it. It is killed at
// the test's end if still running; its log is printed if the test failed.
func startKiln(t *testing.T, client *http.Client, wrap []string, what string, args ...string) *serveProcess {
	t.Helper()
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	argv := slices.Concat(wrap, []string{self}, args)
	p := &serveProcess{logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), runAsKilnEnv+"=1")
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		listening := regexp.MustCompile(regexp.QuoteMeta(what) + `: listening" addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.logs.WriteLine(sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("kiln %s log (last 60 lines):\n%s", what, p.logs.Tail(60))
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("kiln %s exited before listening: %v\n%s", what, p.err, p.logs.Tail(30))
	case <-time.After(30 * time.Second):
		t.Fatalf("kiln %s did not listen within 30 s\n%s", what, p.logs.Tail(30))
	}
	deadline := time.Now().Add(90 * time.Second) // a loaded machine under -race
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/health", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == 200 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiln %s at %s never became healthy (%v)\n%s", what, p.url, err, p.logs.Tail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
