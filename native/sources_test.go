package native

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCgoSourcesInSync: cgo compiles only native/*.c, so every csrc source
// needs its generated wrapper (scripts/gen-cgo-sources.sh) and no stale
// wrapper may remain.
func TestCgoSourcesInSync(t *testing.T) {
	want := map[string]bool{}
	for _, pattern := range []string{"../csrc/*.c", "../csrc/arch/x86/*.c"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			rel := strings.TrimSuffix(strings.TrimPrefix(f, "../csrc/"), ".c")
			want["csrc_"+strings.ReplaceAll(rel, "/", "_")+".c"] = true
		}
	}
	have, _ := filepath.Glob("csrc_*.c")
	for _, h := range have {
		if !want[h] {
			t.Errorf("stale wrapper %s: run make cgo-sources", h)
		}
		delete(want, h)
	}
	for w := range want {
		t.Errorf("missing wrapper %s: run make cgo-sources", w)
	}
	if _, err := os.Stat("../csrc/include/kiln.h"); err != nil {
		t.Fatal(err)
	}
}
