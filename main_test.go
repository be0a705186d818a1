package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/native"
)

func TestVersionCommand(t *testing.T) {
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kiln ", "commit", "cpu features:", "kernel variant:", "binding", "kernels:", "gemv q8_0", "attention"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchKernelsRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "kernels", "--shapes", "12"},
		{"bench", "kernels", "--types", "q7_k"}, // (q4_k and the other quantized types are kernel types)
		{"bench", "kernels", "--m", "0"},
		{"bench", "kernels", "--isa", "neon"},
	} {
		root := newRootCommand()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(args)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}

// TestVersionNamesAMXRefusal: where the CPU has AMX, `kiln version` in a
// process whose tile request is refused (simulated by KILN_AMX_DENY) runs
// the avx512 variant and says why amx is off.
func TestVersionNamesAMXRefusal(t *testing.T) {
	if err := native.Init(0); err != nil {
		t.Fatal(err)
	}
	features := strings.Join(native.CPUFeatures(), " ")
	if !strings.Contains(features, "amx-int8") || !native.Supported(native.AVX512) {
		t.Skip("the CPU has no AMX-INT8")
	}
	cmd := exec.Command(os.Args[0], "version")
	cmd.Env = append(os.Environ(), runAsKilnEnv+"=1", "KILN_AMX_DENY=1", "KILN_ISA=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"kernel variant: avx512", "off: amx: not permitted by the OS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}
