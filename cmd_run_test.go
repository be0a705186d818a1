package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storiesPath is ../shared's tiny real model; tests skip without it.
func storiesPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../shared/models/stories260K.gguf")
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Skipf("shared test model: %v", err)
	}
	return p
}

func runKilnOutput(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errw)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errw.String(), err
}

func TestRunGreedyStreamsTheReferenceText(t *testing.T) {
	ref, err := os.ReadFile("../shared/models/reference/stories260K_greedy_200steps.txt")
	if err != nil {
		t.Skipf("reference text: %v", err)
	}
	out, errw, err := runKilnOutput(t, "run", "-m", storiesPath(t), "-p", "", "-n", "200", "--temp", "0", "--kv-type", "f32")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(out), strings.TrimSpace(string(ref)); got != want {
		t.Errorf("text:\n%q\nwant:\n%q", got, want)
	}
	for _, s := range []string{"prompt: 1 tokens", "decode: ", "tokens/s"} {
		if !strings.Contains(errw, s) {
			t.Errorf("timings lack %q:\n%s", s, errw)
		}
	}
}

// TestRunQ8KVCache: `kiln run --kv-cache-dtype q8_0` generates with a Q8_0
// K/V cache; greedy, its first tokens are the reference text's (stories260K's
// early top-2 margins are far above Q8_0's logit error).
func TestRunQ8KVCache(t *testing.T) {
	ref, err := os.ReadFile("../shared/models/reference/stories260K_greedy_200steps.txt")
	if err != nil {
		t.Skipf("reference text: %v", err)
	}
	out, _, err := runKilnOutput(t, "run", "-m", storiesPath(t), "-p", "", "-n", "8", "--temp", "0", "--kv-cache-dtype", "q8_0", "-q")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got == "" || !strings.HasPrefix(string(ref), got) {
		t.Errorf("q8_0 K/V text %q is not a prefix of the reference %.80q", got, ref)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	m := storiesPath(t)
	for _, args := range [][]string{
		{"run", "-p", "x"},
		{"run", "-m", filepath.Join(t.TempDir(), "missing.gguf"), "-p", "x"},
		{"run", "-m", m, "-p", "x", "-n", "0"},
		{"run", "-m", m, "-p", "x", "--temp", "-1"},
		{"run", "-m", m, "-p", "x", "--top-p", "1.5"},
		{"run", "-m", m, "-p", "x", "--kv-cache-dtype", "q4_0"},
		{"run", "-m", m, "-p", "x", "--kv-cache-dtype", "f8"},
		{"run", "-m", m, "-p", "x", "-f", "prompt.txt"},
		{"run", "-m", m, "-p", "x", "-c", "1"},
	} {
		if _, _, err := runKilnOutput(t, args...); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}

func TestBenchModelCommand(t *testing.T) {
	out, _, err := runKilnOutput(t, "bench", "model", "-m", storiesPath(t), "-p", "16", "-n", "4", "-t", "1", "-r", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"prefill_tokens_per_s"`, `"decode_pct_of_roofline"`} {
		if !strings.Contains(out, s) {
			t.Errorf("json lacks %s:\n%s", s, out)
		}
	}
	if _, _, err := runKilnOutput(t, "bench", "model", "-p", "16"); err == nil {
		t.Error("no --model: want an error")
	}
}
