package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vocabCase is one input of llama.cpp's test-tokenizer-0 suite.
type vocabCase struct {
	text string
	ids  []int32
}

// readVocabCases parses a .inp/.out pair: inputs separated by
// "\n__ggml_vocab_test__\n", one line of space-separated ids per input.
func readVocabCases(inp, out string) ([]vocabCase, error) {
	rawIn, err := os.ReadFile(inp)
	if err != nil {
		return nil, err
	}
	rawOut, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	const sep = "\n__ggml_vocab_test__\n"
	var texts []string
	s := string(rawIn)
	for pos := 0; pos < len(s); {
		next := strings.Index(s[pos:], sep)
		if next < 0 {
			texts = append(texts, s[pos:])
			break
		}
		texts = append(texts, s[pos:pos+next])
		pos += next + len(sep)
	}
	lines := strings.Split(strings.TrimSuffix(string(rawOut), "\n"), "\n")
	if len(lines) != len(texts) {
		return nil, fmt.Errorf("%d inputs but %d outputs", len(texts), len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, text := range texts {
		cases[i].text = text
		for _, f := range strings.Fields(lines[i]) {
			v, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			cases[i].ids = append(cases[i].ids, int32(v))
		}
	}
	return cases, nil
}

// TestVocabSuite reproduces every .inp -> .out pair of the vocab directory
// (add_special=false, parse_special=false, as test-tokenizer-0 runs them).
func TestVocabSuite(t *testing.T) {
	dir := sharedDir(t, "vocab")
	inputs, err := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	if err != nil || len(inputs) == 0 {
		t.Skipf("no vocab tests in %s", dir)
	}
	for _, inp := range inputs {
		gguf := strings.TrimSuffix(inp, ".inp")
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(gguf), "ggml-vocab-"), ".gguf")
		t.Run(name, func(t *testing.T) {
			cases, err := readVocabCases(inp, gguf+".out")
			if err != nil {
				t.Fatal(err)
			}
			tok := loadGGUFTokenizer(t, gguf)
			for i, c := range cases {
				t.Run(strconv.Itoa(i), func(t *testing.T) {
					got := tok.Encode(c.text, false, false)
					if !slices.Equal(got, c.ids) {
						t.Errorf("Encode(%q)\n got %v\nwant %v", c.text, got, c.ids)
					}
				})
			}
		})
	}
}
