package tokenizer

import (
	"os"

	"github.com/kiln-llm/kiln/engine/gguf"
	"path/filepath"
	"sync"
	"testing"
)

// sharedDir returns the project's shared test data directory
// (../../../shared from this package) or skips the test when it is absent.
func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not available: %v", err)
	}
	return dir
}

// *gguf.File is the production Metadata.
var _ Metadata = (*gguf.File)(nil)

var (
	ggufCacheMu sync.Mutex
	ggufCache   = map[string]*Tokenizer{}
)

// loadGGUFTokenizer builds (once per test binary) the tokenizer of a GGUF file.
func loadGGUFTokenizer(t testing.TB, path string) *Tokenizer {
	t.Helper()
	ggufCacheMu.Lock()
	defer ggufCacheMu.Unlock()
	if tok, ok := ggufCache[path]; ok {
		return tok
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatalf("FromGGUF(%s): %v", path, err)
	}
	ggufCache[path] = tok
	return tok
}
