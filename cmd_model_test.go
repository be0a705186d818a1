package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
)

// shrinkEmbedding copies the GGUF at src with token_embd and output cut to
// their first rows rows, keeping the tokenizer whole.
func shrinkEmbedding(t *testing.T, src string, rows int64) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	for _, kv := range f.KVs() {
		if err := w.Set(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i, info := range f.Tensors() {
		data, err := f.TensorDataAt(i)
		if err != nil {
			t.Fatal(err)
		}
		if info.Name == "token_embd.weight" || info.Name == "output.weight" {
			data = data[:int64(len(data))/info.Shape[1]*rows]
			info.Shape = []int64{info.Shape[0], rows}
		}
		if err := w.AddTensor(info.Name, info.Type, info.Shape, data); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "short-embedding.gguf")
	if err := w.WriteFile(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestModelTokenizerVocabulary: a model whose tokenizer has more tokens
// than its embedding has rows is refused by serve's and run's loading, with
// both counts; the shared model itself passes.
func TestModelTokenizerVocabulary(t *testing.T) {
	src := storiesPath(t)
	tests := []struct {
		name, path, want string
	}{
		{"whole", src, ""},
		{"embedding cut to 256 rows", shrinkEmbedding(t, src, 256), "the tokenizer has 512 tokens but token_embd.weight only 256 rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := model.Load(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			_, err = modelTokenizer(m)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("modelTokenizer: %v, want %q", err, tc.want)
			}
			_, _, err = runKilnOutput(t, "run", "-m", tc.path, "-p", "x", "-n", "1", "-q")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("kiln run: %v, want %q", err, tc.want)
			}
		})
	}
}
