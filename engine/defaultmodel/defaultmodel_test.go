package defaultmodel

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestPath: the file is written once, verified, and rewritten when it is
// truncated or altered; the result always holds the embedded bytes.
func TestPath(t *testing.T) {
	dir := t.TempDir()
	if !bytes.HasPrefix(Bytes(), []byte("GGUF")) {
		t.Fatal("the embedded model is not a GGUF file")
	}
	tests := []struct {
		name  string
		spoil func(path string) error
	}{
		{"fresh", func(string) error { return nil }},
		{"again", func(string) error { return nil }},
		{"truncated", func(p string) error { return os.Truncate(p, 100) }},
		{"altered", func(p string) error {
			b := bytes.Clone(Bytes())
			b[len(b)-1] ^= 0xff
			return os.WriteFile(p, b, 0o644)
		}},
		{"removed", os.Remove},
	}
	var path string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if path != "" {
				if err := tc.spoil(path); err != nil {
					t.Fatal(err)
				}
			}
			p, err := Path(dir)
			if err != nil {
				t.Fatal(err)
			}
			if path != "" && p != path {
				t.Fatalf("path moved: %s then %s", path, p)
			}
			path = p
			if filepath.Base(p) != Name+".gguf" {
				t.Errorf("base name %s", filepath.Base(p))
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, Bytes()) {
				t.Fatal("cache file differs from the embedded model")
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), "*.tmp"))
			if len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// TestPathNotRegular: a directory where the file should be is an error,
// not something to delete.
func TestPathNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, Sum()[:16], Name+".gguf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Path(dir); err == nil {
		t.Fatal("want an error for a directory in the file's place")
	}
}
