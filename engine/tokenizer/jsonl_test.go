package tokenizer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// refCase is one line of testdata/tokenizer-*.jsonl: llama.cpp's
// llama_tokenize of text with the two flags, the vocabulary strings of the
// ids, and llama_detokenize(ids, remove_special=false, unparse_special=true).
type refCase struct {
	Text         string   `json:"text"`
	AddSpecial   bool     `json:"add_special"`
	ParseSpecial bool     `json:"parse_special"`
	IDs          []int32  `json:"ids"`
	Tokens       []string `json:"tokens"`
	Detokenized  string   `json:"detokenized"`
}

func readRefCases(t testing.TB, path string) []refCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []refCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c refCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// refFiles pairs each reference file with the GGUF whose tokenizer made it.
var refFiles = []struct{ jsonl, gguf string }{
	{"tokenizer-llama3.jsonl", "tiny-llama3-q8_0.gguf"},
	{"tokenizer-smollm2.jsonl", "tiny-smollm2-q8_0.gguf"},
	{"tokenizer-smollm2-qwen2pre.jsonl", "tiny-qwen2-q8_0.gguf"},
	{"tokenizer-stories260K.jsonl", "stories260K-f32.gguf"},
}

func caseName(i int, c refCase) string {
	return fmt.Sprintf("%03d_add%t_parse%t", i, c.AddSpecial, c.ParseSpecial)
}

// TestReferenceTokenizations checks ids, token strings and detokenization
// against llama.cpp for every line of the tokenizer-*.jsonl files.
func TestReferenceTokenizations(t *testing.T) {
	dir := sharedDir(t, "testdata")
	for _, rf := range refFiles {
		t.Run(rf.jsonl, func(t *testing.T) {
			tok := loadGGUFTokenizer(t, filepath.Join(dir, rf.gguf))
			for i, c := range readRefCases(t, filepath.Join(dir, rf.jsonl)) {
				t.Run(caseName(i, c), func(t *testing.T) {
					checkRefCase(t, tok, c)
				})
			}
		})
	}
}

func checkRefCase(t *testing.T, tok *Tokenizer, c refCase) {
	t.Helper()
	got := tok.Encode(c.Text, c.AddSpecial, c.ParseSpecial)
	if !slices.Equal(got, c.IDs) {
		t.Fatalf("Encode(%q, %t, %t)\n got %v\nwant %v", c.Text, c.AddSpecial, c.ParseSpecial, got, c.IDs)
	}
	for i, id := range c.IDs {
		if s := tok.TokenText(id); s != c.Tokens[i] {
			t.Errorf("TokenText(%d) = %q, want %q", id, s, c.Tokens[i])
		}
	}
	if s := tok.Decode(c.IDs); s != c.Detokenized {
		t.Errorf("Decode(%v) = %q, want %q", c.IDs, s, c.Detokenized)
	}
}
