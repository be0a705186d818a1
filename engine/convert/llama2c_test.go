package convert

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

const models = "../../../shared/models/"

func convertStories(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(models + "stories260K.bin"); err != nil {
		t.Skipf("no llama2.c model: %v", err)
	}
	out := filepath.Join(t.TempDir(), "stories.gguf")
	if err := Llama2C(models+"stories260K.bin", models+"tok512.bin", out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLlama2CMatchesReferenceGGUF(t *testing.T) {
	out := convertStories(t)
	got, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	ref, err := gguf.Open(models + "stories260K.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, kv := range ref.KVs() {
		if !strings.HasPrefix(kv.Key, "tokenizer.") && !strings.HasPrefix(kv.Key, "llama.") {
			continue
		}
		if kv.Key == "llama.context_length" {
			// llama.cpp writes its --ctx default (2048); we write the
			// checkpoint's own seq_len (512), which is what it was trained at.
			continue
		}
		v, ok := got.Value(kv.Key)
		if !ok {
			t.Errorf("missing key %s", kv.Key)
			continue
		}
		if !reflect.DeepEqual(v, kv.Value) {
			t.Errorf("key %s differs: %v vs ref %v", kv.Key, short(v), short(kv.Value))
		}
	}
	for _, ti := range ref.Tensors() {
		gi, ok := got.Tensor(ti.Name)
		if !ok {
			t.Errorf("missing tensor %s", ti.Name)
			continue
		}
		if !slices.Equal(gi.Shape, ti.Shape) || gi.Type != ti.Type {
			t.Errorf("tensor %s: %v %v vs ref %v %v", ti.Name, gi.Type, gi.Shape, ti.Type, ti.Shape)
			continue
		}
		a, _ := got.TensorData(ti.Name)
		b, _ := ref.TensorData(ti.Name)
		if !bytes.Equal(a, b) {
			t.Errorf("tensor %s: data differs", ti.Name)
		}
	}
	if got.NumTensors() != ref.NumTensors() {
		t.Errorf("%d tensors, ref %d", got.NumTensors(), ref.NumTensors())
	}
}

// short renders a metadata value for an error message, truncated.
func short(v gguf.Value) string {
	s := fmt.Sprint(v.Data)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func TestLlama2CGreedyMatchesReference(t *testing.T) {
	out := convertStories(t)
	raw, err := os.ReadFile(models + "reference/stories260K_greedy_from_BOS_60_token_ids.txt")
	if err != nil {
		t.Skipf("no reference: %v", err)
	}
	var want []int32
	for _, f := range strings.Fields(string(raw)) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, int32(v))
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(len(want)+1, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	got := []int32{want[0]}
	next := want[0]
	for len(got) < len(want) {
		logits, err := s.Eval([]int32{next})
		if err != nil {
			t.Fatal(err)
		}
		next = int32(0)
		for i, v := range logits {
			if v > logits[next] {
				next = int32(i)
			}
		}
		got = append(got, next)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("greedy ids\n got %v\nwant %v", got, want)
	}
}

func TestLlama2CBadInput(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.bin")
	if err := os.WriteFile(short, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc.bin")
	full, err := os.ReadFile(models + "stories260K.bin")
	if err != nil {
		t.Skipf("no model: %v", err)
	}
	if err := os.WriteFile(trunc, full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string][2]string{
		"missing":       {filepath.Join(dir, "none.bin"), models + "tok512.bin"},
		"short":         {short, models + "tok512.bin"},
		"truncated":     {trunc, models + "tok512.bin"},
		"tokenizer":     {models + "stories260K.bin", filepath.Join(dir, "none.bin")},
		"bad-tokenizer": {models + "stories260K.bin", short},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Llama2C(tc[0], tc[1], filepath.Join(dir, "o.gguf")); err == nil {
				t.Fatal("want error")
			}
		})
	}
}
