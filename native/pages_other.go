//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package native

// MapWeights holds weights on the Go heap where there is no mmap.
func MapWeights(n int) ([]byte, func() error, error) {
	return make([]byte, n), func() error { return nil }, nil
}
