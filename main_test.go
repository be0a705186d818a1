package main

import (
	"bytes"
	"strings"
	"testing"
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
