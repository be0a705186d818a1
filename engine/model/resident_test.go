package model

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// rssAnonKiB reads the process's anonymous resident memory (heap, stacks,
// private copies), which a model used in place from its mmap must not grow
// by the size of its weights.
func rssAnonKiB(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			v, err := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Skip("no RssAnon in /proc/self/status")
	return 0
}

// TestWeightsStayInTheMapping loads a 144 MB SmolLM2-135M-shaped Q8_0 model,
// runs a forward pass over every weight, and checks that the anonymous
// memory grew by the scratch and K/V only (< 64 MiB) plus, when repacking
// is on, exactly the bytes it reports repacking: nothing else is copied.
func TestWeightsStayInTheMapping(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 144 MB model")
	}
	p, err := synth.LookupPreset("smollm2-135m")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "smollm2-135m-q8_0.gguf")
	if err := synth.Write(path, synth.Options{Preset: p, Type: native.Q8_0, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, canRepack := native.RepackType(native.Q8_0)
	for _, repack := range []bool{false, true} {
		t.Run(fmt.Sprintf("repack=%v", repack), func(t *testing.T) {
			debug.FreeOSMemory() // return the writer's (and the last case's) buffers before measuring
			before := rssAnonKiB(t)
			m, err := Load(path, WithMaxBatchTokens(64), WithRepack(repack))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession(64, native.F16)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Eval([]int32{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
				t.Fatal(err)
			}
			packed := m.Repacked().Bytes
			if want := repack && canRepack; (packed > 0) != want {
				t.Fatalf("repacked %d bytes, want some: %v", packed, want)
			}
			grew := (rssAnonKiB(t) - before) << 10
			t.Logf("file %d MiB; anonymous memory grew %d MiB after load and a forward pass, %d MiB of it repacked weights",
				st.Size()>>20, grew>>20, packed>>20)
			if grew-packed > 64<<20 {
				t.Errorf("anonymous memory grew %d MiB (> 64 MiB + %d MiB repacked) for a %d MiB file: are weights being copied?",
					grew>>20, packed>>20, st.Size()>>20)
			}
		})
	}
}
