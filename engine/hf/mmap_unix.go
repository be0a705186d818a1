//go:build linux || darwin || freebsd || netbsd || openbsd

package hf

import (
	"os"
	"syscall"
)

// mapFile maps a shard read-only and shared: weights page in on demand and
// are shared with the page cache.
func mapFile(f *os.File, size int64) ([]byte, func() error, error) {
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
