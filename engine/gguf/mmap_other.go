//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package gguf

import (
	"io"
	"os"
)

// openFlags open a model for reading (OpenRegular checks its mode first).
const openFlags = os.O_RDONLY

// mapFile reads the whole file into memory on platforms without
// syscall.Mmap; the API behaves the same, only without zero-copy paging.
func mapFile(fh *os.File, size int) ([]byte, func() error, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(fh, data); err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}

// releasePages does nothing where the file is a copy in memory.
func releasePages([]byte) error { return nil }
