package convert

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

const testdata = "../../../shared/testdata/"

// q8Tolerance is the README's absolute logit tolerance for Q8_0 on the
// tiny-* models (dequantized weights, F32 activations).
const q8Tolerance = 3e-2

func lastLogits(t *testing.T, path string, ids []int32) []float32 {
	t.Helper()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(len(ids)+1, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Eval(ids)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestQuantizeLogits(t *testing.T) {
	in := testdata + "tiny-smollm2-f32.gguf"
	if _, err := os.Stat(in); err != nil {
		t.Skipf("no test model: %v", err)
	}
	out := filepath.Join(t.TempDir(), "q8.gguf")
	rep, err := Quantize(in, out, native.Q8_0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Quantized) == 0 {
		t.Fatal("nothing quantized")
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if ft, _ := f.Uint32("general.file_type"); ft != 7 {
		t.Errorf("file_type %d, want 7", ft)
	}
	for _, ti := range f.Tensors() {
		want := gguf.TensorQ8_0
		if len(ti.Shape) == 1 {
			want = gguf.TensorF32
		}
		if ti.Type != want {
			t.Errorf("%s: %v, want %v", ti.Name, ti.Type, want)
		}
	}
	f.Close()
	ids := []int32{1, 42, 100, 7, 256, 3}
	a, b := lastLogits(t, in, ids), lastLogits(t, out, ids)
	var worst float64
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	t.Logf("max |Δlogit| f32 vs q8_0: %.3g", worst)
	if worst > q8Tolerance {
		t.Fatalf("max |Δlogit| %.3g > %g", worst, q8Tolerance)
	}
}

func TestQuantizeBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.gguf")
	if err := os.WriteFile(corrupt, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in  string
		typ native.Type
	}{
		"missing": {filepath.Join(dir, "none.gguf"), native.Q8_0},
		"corrupt": {corrupt, native.Q8_0},
		"type":    {testdata + "tiny-smollm2-f32.gguf", native.F16},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Quantize(tc.in, filepath.Join(dir, "o.gguf"), tc.typ); err == nil {
				t.Fatal("want error")
			}
		})
	}
}
