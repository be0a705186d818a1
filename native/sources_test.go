package native

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// csrcTreeHash hashes the kernel sources exactly as scripts/gen-cgo-sources.sh does.
func csrcTreeHash(t *testing.T) string {
	h := sha256.New()
	for _, pattern := range []string{"../csrc/include/*.h", "../csrc/*.h", "../csrc/*.c", "../csrc/arch/x86/*.h", "../csrc/arch/x86/*.c"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// TestCgoSourcesInSync: cgo compiles only native/*.c, so every csrc source
// needs its generated wrapper, no stale wrapper may remain, and each wrapper
// must carry the current csrc tree hash (Go's build cache does not notice
// edits to files included from outside the package).
func TestCgoSourcesInSync(t *testing.T) {
	want := map[string]bool{}
	for _, pattern := range []string{"../csrc/*.c", "../csrc/arch/x86/*.c"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			rel := strings.TrimSuffix(strings.TrimPrefix(f, "../csrc/"), ".c")
			want["csrc_"+strings.ReplaceAll(rel, "/", "_")+".c"] = true
		}
	}
	tree := "// csrc tree " + csrcTreeHash(t)
	have, _ := filepath.Glob("csrc_*.c")
	for _, h := range have {
		if !want[h] {
			t.Errorf("stale wrapper %s: run make cgo-sources", h)
		}
		delete(want, h)
		b, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tree) {
			t.Errorf("%s was generated for another csrc tree (want %q): run make cgo-sources", h, tree)
		}
	}
	for w := range want {
		t.Errorf("missing wrapper %s: run make cgo-sources", w)
	}
}
