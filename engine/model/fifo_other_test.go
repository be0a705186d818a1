//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package model

import (
	"path/filepath"
	"testing"
)

// makeFIFO names a path that does not exist where named pipes cannot be
// made; the case using it skips.
func makeFIFO(_ *testing.T, dir string) string { return filepath.Join(dir, "no-fifo-here") }
