//go:build linux || darwin || freebsd || netbsd || openbsd

package gguf

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenRefusesNonRegular: Open refuses a device, a FIFO, a directory and
// a socket by path, at once: a FIFO with no writer must not block it.
func TestOpenRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unblockFIFO(fifo) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	link := filepath.Join(dir, "link.gguf")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"dev zero", "/dev/zero", "a character device"},
		{"dev urandom", "/dev/urandom", "a character device"},
		{"fifo", fifo, "a named pipe"},
		{"symlink to a fifo", link, "a named pipe"},
		{"directory", dir, "a directory"},
		{"socket", sock, "a socket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil {
				t.Skip(err)
			}
			done := make(chan error, 1)
			go func() {
				f, err := Open(tc.path)
				if err == nil {
					_ = f.Close()
				}
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.path) ||
					!strings.Contains(err.Error(), "not a regular file ("+tc.want+")") {
					t.Fatalf("Open(%s) = %v; want an ErrFormat naming the path and %q", tc.path, err, tc.want)
				}
			case <-time.After(time.Second):
				t.Fatalf("Open(%s) did not return within a second", tc.path)
			}
		})
	}
}

// unblockFIFO opens path for writing without blocking, which releases a
// reader stuck in open(2) if the code under test regressed.
func unblockFIFO(path string) {
	if fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		_ = syscall.Close(fd)
	}
}
