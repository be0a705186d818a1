package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func runKiln(args ...string) error {
	root := newRootCommand()
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	return root.Execute()
}

func TestSynthQuantizeCommands(t *testing.T) {
	dir := t.TempDir()
	f16 := filepath.Join(dir, "tiny-f16.gguf")
	q8 := filepath.Join(dir, "tiny-q8.gguf")
	if err := runKiln("synth", "--preset", "tiny", "--type", "f16", "-o", f16, "--seed", "3"); err != nil {
		t.Fatal(err)
	}
	if err := runKiln("quantize", f16, q8, "--type", "q8_0"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(q8); err != nil || st.Size() == 0 {
		t.Fatalf("no output: %v", err)
	}
}

func TestToolCommandsRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"synth", "--preset", "nope", "-o", filepath.Join(dir, "x")},
		{"synth", "--preset", "tiny", "--type", "q4_k", "-o", filepath.Join(dir, "x")},
		{"synth", "--preset", "tiny"},
		{"quantize", filepath.Join(dir, "missing.gguf"), filepath.Join(dir, "o.gguf")},
		{"quantize", "only-one-arg"},
		{"convert", "--format", "safetensors", "m.bin", "--tokenizer", "t.bin", "-o", "o.gguf"},
		{"convert", filepath.Join(dir, "missing.bin"), "--tokenizer", "t.bin", "-o", filepath.Join(dir, "o.gguf")},
	} {
		if err := runKiln(args...); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}
