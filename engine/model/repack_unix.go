//go:build linux || darwin || freebsd || netbsd || openbsd

package model

import (
	"runtime"
	"syscall"
)

// madvHugepage is Linux's MADV_HUGEPAGE (syscall defines it on Linux only).
const madvHugepage = 14

// allocPacked maps n bytes of anonymous memory for repacked weights (outside
// the Go heap, so the collector neither scans nor counts it) and returns
// the function that unmaps it.
func allocPacked(n int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	if runtime.GOOS == "linux" {
		// transparent huge pages where the system allows them on request:
		// 512x fewer page faults while repacking (a hint; errors ignored)
		_ = syscall.Madvise(b, madvHugepage)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
