package hf

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/synth"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// TestConvertRealTokenizer converts a directory holding SmolLM2's own
// tokenizer.json and config.json and checks the converted file tokenizes
// the 255 cases of ../shared/testdata/tokenizer-smollm2.jsonl exactly as
// llama.cpp does.
func TestConvertRealTokenizer(t *testing.T) {
	shared, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared"))
	tokJSON := filepath.Join(shared, "tokenizers", "smollm2-135m-instruct", "tokenizer.json")
	cases := filepath.Join(shared, "testdata", "tokenizer-smollm2.jsonl")
	if _, err := os.Stat(cases); err != nil {
		t.Skipf("shared test data: %v", err)
	}
	p, err := synth.LookupPreset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "smol.gguf")
	if err := synth.Write(src, synth.Options{Preset: p, Type: native.F16, Seed: 3, Tokenizer: tokJSON}); err != nil {
		t.Fatal(err)
	}
	dir := hfDirFromGGUF(t, src)
	for _, f := range []string{"tokenizer.json", "config.json"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(tokJSON), f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "config.json" { // SmolLM2's ids over the tiny model's shape
			var real, ours map[string]any
			_ = json.Unmarshal(b, &real)
			raw, _ := os.ReadFile(filepath.Join(dir, f))
			_ = json.Unmarshal(raw, &ours)
			ours["bos_token_id"], ours["eos_token_id"] = real["bos_token_id"], real["eos_token_id"]
			b, _ = json.Marshal(ours)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{})
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"add_bos_token": false})
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := Convert(dir, out); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tok, err := tokenizer.FromGGUF(g)
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(cases)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var c struct {
			Text         string  `json:"text"`
			AddSpecial   bool    `json:"add_special"`
			ParseSpecial bool    `json:"parse_special"`
			IDs          []int32 `json:"ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode(c.Text, c.AddSpecial, c.ParseSpecial); !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
			t.Errorf("%q (add_special=%v parse_special=%v): got %v, want %v", c.Text, c.AddSpecial, c.ParseSpecial, got, c.IDs)
		}
		n++
	}
	if n != 255 {
		t.Fatalf("%d cases, want 255", n)
	}
}
