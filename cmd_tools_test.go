package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
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

// TestSynthLayers: --layers keeps the first blocks of the preset.
func TestSynthLayers(t *testing.T) {
	out := filepath.Join(t.TempDir(), "one.gguf")
	if err := runKiln("synth", "--preset", "tiny-qwen3moe", "--type", "f16", "--layers", "1", "-o", out); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, _ := f.ArchUint32("block_count"); n != 1 {
		t.Fatalf("block_count %d, want 1", n)
	}
	if _, ok := f.Tensor("blk.1.attn_q.weight"); ok {
		t.Fatal("blk.1 written")
	}
	if _, ok := f.Tensor("blk.0.ffn_gate_exps.weight"); !ok {
		t.Fatal("blk.0's experts missing")
	}
}

// TestSynthQuantizedTypes: synth --type q4_k_m (quantized as it is
// generated) is the F16 model quantized by kiln quantize (the same bytes),
// leaves no temporary file, and kiln run generates from it.
func TestSynthQuantizedTypes(t *testing.T) {
	dir := t.TempDir()
	f16 := filepath.Join(dir, "f16.gguf")
	direct := filepath.Join(dir, "synth-q4_k_m.gguf")
	viaQuantize := filepath.Join(dir, "quantize-q4_k_m.gguf")
	for _, args := range [][]string{
		{"synth", "--preset", "tiny-256", "--type", "f16", "-o", f16, "--seed", "5"},
		{"synth", "--preset", "tiny-256", "--type", "q4_k_m", "-o", direct, "--seed", "5"},
		{"quantize", f16, viaQuantize, "--type", "Q4_K_M"},
		{"run", "-m", direct, "-p", "hello", "-n", "4", "--temp", "0", "-q"},
	} {
		if err := runKiln(args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	a, err := os.ReadFile(direct)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(viaQuantize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("synth --type q4_k_m (%d bytes) differs from synth f16 + quantize (%d bytes)", len(a), len(b))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the three outputs (no temporary left behind)", names)
	}
}

func TestToolCommandsRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"synth", "--preset", "nope", "-o", filepath.Join(dir, "x")},
		{"synth", "--preset", "tiny", "--type", "q4_k", "-o", filepath.Join(dir, "x")},
		{"synth", "--preset", "tiny"},
		{"synth", "--preset", "tiny", "--layers", "3", "-o", filepath.Join(dir, "x")},
		{"synth", "--preset", "tiny", "--layers", "-1", "-o", filepath.Join(dir, "x")},
		{"quantize", filepath.Join(dir, "missing.gguf"), filepath.Join(dir, "o.gguf")},
		{"quantize", "only-one-arg"},
		{"quantize", filepath.Join(dir, "missing.gguf"), filepath.Join(dir, "o.gguf"), "--type", "q3_k_xl"},
		{"convert", "--format", "safetensors", "m.bin", "--tokenizer", "t.bin", "-o", "o.gguf"},
		{"convert", filepath.Join(dir, "missing.bin"), "--tokenizer", "t.bin", "-o", filepath.Join(dir, "o.gguf")},
	} {
		if err := runKiln(args...); err == nil {
			t.Errorf("%v: want an error", args)
		}
	}
}
