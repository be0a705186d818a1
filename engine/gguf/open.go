package gguf

import (
	"fmt"
	"os"
)

// OpenRegular opens path for reading only if it is a regular file, and
// never blocks doing so: the mode is checked before opening (so /dev/zero,
// a directory or a FIFO is refused by name), the open itself does not wait
// for a FIFO's writer (O_NONBLOCK where the platform has it), and the mode
// is checked again on the open descriptor in case the path changed in
// between. A non-regular file is an ErrFormat naming the path and its type.
func OpenRegular(path string) (*os.File, os.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, notRegular(path, st)
	}
	fh, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("gguf: %w", err)
	}
	if st, err = fh.Stat(); err != nil || !st.Mode().IsRegular() {
		_ = fh.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("gguf: %w", err)
		}
		return nil, nil, notRegular(path, st)
	}
	return fh, st, nil
}

func notRegular(path string, st os.FileInfo) error {
	what := st.Mode().Type().String()
	switch {
	case st.IsDir():
		what = "a directory"
	case st.Mode()&os.ModeNamedPipe != 0:
		what = "a named pipe"
	case st.Mode()&os.ModeCharDevice != 0:
		what = "a character device"
	case st.Mode()&os.ModeDevice != 0:
		what = "a device"
	case st.Mode()&os.ModeSocket != 0:
		what = "a socket"
	}
	return withPath(formatErrorf("not a regular file (%s); a model must be a GGUF file", what), path)
}
