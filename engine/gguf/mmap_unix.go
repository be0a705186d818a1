//go:build linux || darwin || freebsd || netbsd || openbsd

package gguf

import (
	"os"
	"syscall"
	"unsafe"
)

// openFlags open a model for reading without waiting for a FIFO's writer.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK

// mapFile maps size bytes of fh read-only and shared, so weights are paged
// in from the page cache on demand and shared between processes.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	data, err := syscall.Mmap(int(fh.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}

// releasePages drops this process's mapping of the whole pages inside b
// (MADV_DONTNEED): they leave the process's resident set, stay in the page
// cache as long as the system keeps them, and fault back in if read again.
func releasePages(b []byte) error {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	page := uintptr(syscall.Getpagesize())
	start, end := (p+page-1)&^(page-1), (p+uintptr(len(b)))&^(page-1)
	if end <= start {
		return nil
	}
	return syscall.Madvise(b[start-p:end-p], syscall.MADV_DONTNEED)
}
