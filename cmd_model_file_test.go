//go:build linux || darwin || freebsd || netbsd || openbsd

package main

import (
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCommandsRefuseNonRegularModels: `kiln serve` and `kiln run` given a
// device, a FIFO with no writer or a directory as the model fail within
// seconds, naming the path, instead of reading /dev/zero forever or
// blocking on the FIFO (where serve then ignored SIGTERM).
func TestCommandsRefuseNonRegularModels(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // release a reader a regression left blocked in open(2)
		if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			_ = syscall.Close(fd)
		}
	})
	refusal := map[string]string{ // a directory is already refused by serve's config check
		"/dev/zero": "not a regular file (a character device)", fifo: "not a regular file (a named pipe)", dir: "directory",
	}
	for _, model := range []string{"/dev/zero", fifo, dir} {
		for _, args := range [][]string{
			{"serve", "-m", model, "--host", "127.0.0.1", "--port", "0"},
			{"run", "-m", model, "-p", "x", "-n", "1"},
		} {
			t.Run(args[0]+" "+filepath.Base(model), func(t *testing.T) {
				done := make(chan error, 1)
				go func() {
					root := newRootCommand()
					root.SetArgs(args)
					root.SetOut(io.Discard)
					root.SetErr(io.Discard)
					done <- root.Execute()
				}()
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), model) || !strings.Contains(err.Error(), refusal[model]) {
						t.Fatalf("err = %v; want one naming %s and %q", err, model, refusal[model])
					}
				case <-time.After(5 * time.Second):
					t.Fatal("no answer within 5 s")
				}
			})
		}
	}
}
