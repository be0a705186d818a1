//go:build linux || darwin || freebsd || netbsd || openbsd

package gguf

import (
	"os"
	"syscall"
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
