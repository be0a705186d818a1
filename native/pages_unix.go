//go:build linux || darwin || freebsd || netbsd || openbsd

package native

import (
	"runtime"
	"syscall"
)

// madvHugepage is Linux's MADV_HUGEPAGE (syscall defines it on Linux only).
const madvHugepage = 14

// MapWeights maps n bytes of anonymous memory for weights the kernels stream
// (outside the Go heap, so the collector neither scans nor counts it), asks
// Linux for transparent huge pages, and returns the function that unmaps it.
// Huge pages matter twice: 512x fewer page faults while the weights are
// written, and fewer TLB misses while a decode step streams them; the kernel
// bench and the read-bandwidth probe use the same memory so their figures
// hold for a loaded model.
func MapWeights(n int) ([]byte, func() error, error) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	if runtime.GOOS == "linux" {
		_ = syscall.Madvise(b, madvHugepage) // a hint: where refused, 4 KB pages
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
