// External test package: it makes its input with engine/synth, which
// imports this package.
package quantize_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/native"
)

// sourceFile makes or finds a test input: "tiny-256" is `kiln synth
// --preset tiny-256 --type f16 --seed 256 --tokenizer stories260K-f32.gguf`
// (deterministic), any other name a file of ../shared/testdata.
func sourceFile(t *testing.T, name, dir string, cache map[string]string) string {
	t.Helper()
	if p, ok := cache[name]; ok {
		return p
	}
	var p string
	if name == "tiny-256" {
		tok := sharedTestFile(t, "stories260K-f32.gguf")
		pre, err := synth.LookupPreset("tiny-256")
		if err != nil {
			t.Fatal(err)
		}
		p = filepath.Join(dir, "tiny256-f16.gguf")
		if err := synth.Write(p, synth.Options{Preset: pre, Type: native.F16, Seed: 256, Tokenizer: tok}); err != nil {
			t.Fatal(err)
		}
	} else {
		p = sharedTestFile(t, name)
	}
	cache[name] = p
	return p
}

// sharedTestFile is a file of ../shared/testdata, or a skip when it is absent.
func sharedTestFile(t *testing.T, name string) string {
	t.Helper()
	p := "../../../shared/testdata/" + name
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data: %v", err)
	}
	return p
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestMatchesLlamaQuantize: File writes, byte for byte, the file
// llama-quantize wrote for the same input and type, and refuses what it
// refuses (testdata/llama-quantize.sha256: the sha256 of llama-quantize's
// output per input and type, or "refused"; how it was made is in
// ../model/testdata/quant/README.md). The inputs cover K-quant
// rows (tiny-256), 64-element rows where every K-quant falls back to a
// 32-element type (tiny-smollm2) and 172-element rows that fall back to F16
// (stories260K's ffn_down).
func TestMatchesLlamaQuantize(t *testing.T) {
	f, err := os.Open("testdata/llama-quantize.sha256")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cache, dir := map[string]string{}, t.TempDir()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad line %q", line)
		}
		want, src, preset := fields[0], fields[1], fields[2]
		n++
		t.Run(src+"/"+preset, func(t *testing.T) {
			p, err := quantize.LookupPreset(preset)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			_, err = quantize.File(sourceFile(t, src, dir, cache), out, p)
			if want == "refused" {
				if err == nil || !strings.Contains(err.Error(), "no fallback type") {
					t.Fatalf("err %v; llama-quantize refuses this input (a row length with no fallback type)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fileSHA256(t, out); got != want {
				t.Errorf("sha256 %s, llama-quantize's %s", got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}
