package quantize

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

const testdata = "../../../shared/testdata/"

func TestMain(m *testing.M) {
	if err := native.Init(0); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func sharedFile(t *testing.T, name string) string {
	t.Helper()
	p := testdata + name
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test data: %v", err)
	}
	return p
}

// TestSelectorLlama32Layers: the types llama.cpp's rules give a 32-layer
// llama with an untied output, per preset (counted from llama-quantize's
// rules by hand; the untied token_embd keeps the preset's type:
// use_more_bits(i, 32) holds for layers 0-3, 6, 9, ..., 27
// and 28-31, i.e. 16 layers; Q4_K_S gives Q5_K to the first 4 attn_v and
// the first 4 ffn_down).
func TestSelectorLlama32Layers(t *testing.T) {
	var ts []gguf.TensorInfo
	add := func(name string, shape ...int64) {
		ts = append(ts, gguf.TensorInfo{Name: name, Type: gguf.TensorF16, Shape: shape})
	}
	add("token_embd.weight", 4096, 32000)
	add("output.weight", 4096, 32000)
	add("output_norm.weight", 4096)
	for i := range 32 {
		p := "blk." + itoa(i) + "."
		add(p+"attn_norm.weight", 4096)
		add(p+"attn_q.weight", 4096, 4096)
		add(p+"attn_k.weight", 4096, 1024)
		add(p+"attn_v.weight", 4096, 1024)
		add(p+"attn_output.weight", 4096, 4096)
		add(p+"ffn_gate.weight", 4096, 14336)
		add(p+"ffn_up.weight", 4096, 14336)
		add(p+"ffn_down.weight", 14336, 4096)
		add(p+"ffn_norm.weight", 4096)
	}
	tests := []struct {
		preset string
		want   map[native.Type]int
	}{
		{"q4_k_m", map[native.Type]int{native.F16: 65, native.Q4_K: 32*7 - 32 + 1, native.Q6_K: 1 + 16 + 16}},
		{"q5_k_m", map[native.Type]int{native.F16: 65, native.Q5_K: 32*7 - 32 + 1, native.Q6_K: 1 + 16 + 16}},
		{"q4_k_s", map[native.Type]int{native.F16: 65, native.Q4_K: 32*7 - 8 + 1, native.Q5_K: 8, native.Q6_K: 1}},
		{"q6_k", map[native.Type]int{native.F16: 65, native.Q6_K: 32*7 + 2}},
		{"q4_0", map[native.Type]int{native.F16: 65, native.Q4_0: 32*7 + 1, native.Q6_K: 1}},
		{"q8_0", map[native.Type]int{native.F16: 65, native.Q8_0: 32*7 + 2}},
		// Q2_K: attn_v Q4_K (GQA 4), ffn_down and attn_output Q3_K
		{"q2_k", map[native.Type]int{native.Q2_K: 32*4 + 1, native.Q4_K: 32, native.Q3_K: 64, native.Q6_K: 1}},
		// Q3_K_M: attn_v Q5_K for the first 2 else Q4_K, ffn_down Q5_K for the first 2 (32/16) else Q4_K, attn_output Q4_K
		{"q3_k_m", map[native.Type]int{native.Q3_K: 32*4 + 1, native.Q5_K: 4, native.Q4_K: 30 + 30 + 32, native.Q6_K: 1}},
		{"q3_k_l", map[native.Type]int{native.Q3_K: 32*4 + 1, native.Q5_K: 96, native.Q6_K: 1}},
		// IQ4_XS: attn_v Q5_K (GQA 4), the first 32/8 ffn_down Q5_K
		{"iq4_xs", map[native.Type]int{native.IQ4_XS: 32*7 - 36 + 1, native.Q5_K: 32 + 4, native.Q6_K: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			p, err := LookupPreset(tt.preset)
			if err != nil {
				t.Fatal(err)
			}
			order := tensorOrder(ts)
			sorted := make([]gguf.TensorInfo, len(order))
			for i, o := range order {
				sorted[i] = ts[o]
			}
			s := newSelector(p, sorted, 32, 4, false)
			got := map[native.Type]int{}
			for _, ti := range sorted {
				typ, err := s.typeFor(ti)
				if err != nil {
					t.Fatal(err)
				}
				if len(ti.Shape) == 1 {
					typ = native.F16 // 1-D tensors stay as they are (F16 in this table)
				}
				got[typ]++
			}
			for typ, n := range tt.want {
				if got[typ] != n {
					t.Errorf("%v: %d tensors, want %d (all: %v)", typ, got[typ], n, got)
				}
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTensorOrder: llama.cpp's loader order — non-layer tensors first, then
// by layer number (10 after 9), then by name.
func TestTensorOrder(t *testing.T) {
	names := []string{"blk.10.attn_q.weight", "output.weight", "blk.9.ffn_up.weight", "blk.9.attn_k.weight", "token_embd.weight", "blk.2.x"}
	var ts []gguf.TensorInfo
	for _, n := range names {
		ts = append(ts, gguf.TensorInfo{Name: n})
	}
	var got []string
	for _, i := range tensorOrder(ts) {
		got = append(got, ts[i].Name)
	}
	want := "output.weight token_embd.weight blk.2.x blk.9.attn_k.weight blk.9.ffn_up.weight blk.10.attn_q.weight"
	if strings.Join(got, " ") != want {
		t.Errorf("order %v\nwant %s", got, want)
	}
}

// TestFallbacks: rows a K-quant block does not divide (64 on the tiny
// models) get llama.cpp's 32-element types; rows 32 does not divide get F16.
func TestFallbacks(t *testing.T) {
	for _, tt := range []struct {
		typ  native.Type
		cols int64
		want native.Type // 0: an error
	}{
		{native.Q4_K, 64, native.Q5_0}, {native.Q5_K, 64, native.Q5_1}, {native.Q6_K, 64, native.Q8_0},
		{native.Q2_K, 64, native.Q4_0}, {native.IQ4_XS, 64, native.IQ4_NL},
		{native.Q4_K, 512, native.Q4_K}, {native.Q6_K, 172, native.F16}, {native.Q4_0, 172, 0}, {native.Q8_0, 100, 0},
	} {
		got, err := fallback(tt.typ, tt.cols)
		if tt.want == 0 {
			if err == nil {
				t.Errorf("fallback(%v, %d) = %v, want an error (llama-quantize has no fallback for it)", tt.typ, tt.cols, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("fallback(%v, %d) = %v, %v; want %v", tt.typ, tt.cols, got, err, tt.want)
		}
	}
}

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

// TestFileLogits quantizes tiny-smollm2 (row length 64: every K-quant falls
// back) and checks the file's types and that its logits stay near F32's.
func TestFileLogits(t *testing.T) {
	in := sharedFile(t, "tiny-smollm2-f32.gguf")
	for _, tt := range []struct {
		preset string
		types  []native.Type
		tol    float64 // max |Δlogit| against the F32 model
	}{
		{"q8_0", []native.Type{native.Q8_0}, 3e-2},
		{"q4_k_m", []native.Type{native.Q5_0, native.Q8_0}, 0.2},
		{"q4_0", []native.Type{native.Q4_0, native.Q8_0}, 0.3},
	} {
		t.Run(tt.preset, func(t *testing.T) {
			p, _ := LookupPreset(tt.preset)
			out := filepath.Join(t.TempDir(), tt.preset+".gguf")
			rep, err := File(in, out, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range tt.types {
				if rep.Counts[typ] == 0 {
					t.Errorf("no %v tensor (types %v)", typ, rep.Counts)
				}
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			if ft, _ := f.Uint32("general.file_type"); ft != p.FileType {
				t.Errorf("file_type %d, want %d", ft, p.FileType)
			}
			kvs := f.KVs()
			if kvs[len(kvs)-1].Key != "general.file_type" || kvs[len(kvs)-2].Key != "general.quantization_version" {
				t.Errorf("last keys %s, %s; want general.quantization_version, general.file_type", kvs[len(kvs)-2].Key, kvs[len(kvs)-1].Key)
			}
			f.Close()
			ids := []int32{1, 42, 100, 7, 256, 3}
			a, b := lastLogits(t, in, ids), lastLogits(t, out, ids)
			var worst float64
			for i := range a {
				worst = max(worst, math.Abs(float64(a[i]-b[i])))
			}
			t.Logf("max |Δlogit| f32 vs %s: %.3g", tt.preset, worst)
			if worst > tt.tol {
				t.Fatalf("max |Δlogit| %.3g > %g", worst, tt.tol)
			}
		})
	}
}

func TestFileBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "bad.gguf")
	if err := os.WriteFile(corrupt, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := LookupPreset("q4_k_m")
	for name, in := range map[string]string{
		"missing": filepath.Join(dir, "none.gguf"),
		"corrupt": corrupt,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := File(in, filepath.Join(dir, "o.gguf"), p); err == nil {
				t.Fatal("want error")
			}
		})
	}
	t.Run("requantize", func(t *testing.T) {
		in := sharedFile(t, "tiny-smollm2-q8_0.gguf")
		_, err := File(in, filepath.Join(dir, "o.gguf"), p)
		if err == nil || !strings.Contains(err.Error(), "requantizing from type Q8_0") {
			t.Fatalf("err %v, want a requantize refusal", err)
		}
	})
	t.Run("preset", func(t *testing.T) {
		if _, err := LookupPreset("q3_k_xl"); err == nil {
			t.Fatal("unknown preset accepted")
		}
	})
}
