//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package model

// allocPacked holds repacked weights on the Go heap where there is no mmap.
func allocPacked(n int) ([]byte, func() error, error) {
	return make([]byte, n), func() error { return nil }, nil
}
