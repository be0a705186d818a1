package model

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// archCase is one tiny test model of testdata/arch (see its README) with
// the absolute logit tolerance against its llama.cpp reference.
type archCase struct {
	name string
	tol  float64
}

// archCases are the newer architectures' test models: F16 weights, kiln
// rounding matmul inputs to F16 as ggml does, F32 K/V. Observed differences
// (testdata/arch/README.md) are ≤ 1.4e-4, except gemma's ≤ 3.4e-4, where
// ggml's GELU reads an F16 lookup table and kiln computes tanh-GELU in F32.
func archCases() []archCase {
	return []archCase{
		{"tiny-qwen3-f16", 1e-3},
		{"tiny-gemma2-f16", 1e-3},
		{"tiny-gemma3-f16", 1e-3},
		{"tiny-phi3-f16", 1e-3},
		{"tiny-qwen3moe-f16", 1e-3},
		{"tiny-qwen2moe-f16", 1e-3},
		{"tiny-mixtral-f16", 1e-3},
	}
}

func archPath(name, suffix string) string { return filepath.Join("testdata", "arch", name+suffix) }

// readAllLogits reads n rows of nVocab float32 logits.
func readAllLogits(t *testing.T, path string, nVocab, n int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*nVocab*n {
		t.Fatalf("%s: %d bytes, want %d", path, len(b), 4*nVocab*n)
	}
	out := make([][]float32, n)
	for p := range out {
		out[p] = make([]float32, nVocab)
		for i := range out[p] {
			out[p][i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(p*nVocab+i):]))
		}
	}
	return out
}

// TestArchReferences checks each architecture's test model against
// llama.cpp: prompt tokens equal, every prompt's full last-position logits
// within tolerance, 32 greedy tokens equal (a divergence is tolerated only
// where llama.cpp's own top-2 margin is under twice the tolerance).
func TestArchReferences(t *testing.T) {
	for _, ac := range archCases() {
		t.Run(ac.name, func(t *testing.T) {
			m := loadModel(t, archPath(ac.name, ".gguf"))
			tok, err := tokenizer.FromGGUF(m.File())
			if err != nil {
				t.Fatal(err)
			}
			ref := readRef(t, archPath(ac.name, ".ref-kvf32.json"))
			if ref.NVocab != m.Config.NVocab {
				t.Fatalf("n_vocab %d, reference %d", m.Config.NVocab, ref.NVocab)
			}
			all := readAllLogits(t, archPath(ac.name, ".logits-kvf32.bin"), ref.NVocab, len(ref.Prompts))
			rc := refCase{name: ac.name, tol: ac.tol}
			for pi, p := range ref.Prompts {
				t.Run("prompt"+strconv.Itoa(pi), func(t *testing.T) {
					checkPrompt(t, m, tok, rc, 0, p.Prompt, p.TokenIDs, nil, p.Greedy.IDs, p.Greedy.Logits, p.Greedy.Margins, all[pi])
				})
			}
		})
	}
}

// TestArchBatchConsistency: for every architecture, a sequence's logits are
// bit-identical alone or batched with another, prefilled or decoded (the
// window and soft-cap kernels included), with F32, F16 and Q8_0 K/V.
func TestArchBatchConsistency(t *testing.T) {
	for _, ac := range archCases() {
		t.Run(ac.name, func(t *testing.T) {
			m := loadModel(t, archPath(ac.name, ".gguf"))
			for _, kvType := range []native.Type{native.F32, native.F16, native.Q8_0} {
				t.Run(kvType.String(), func(t *testing.T) {
					checkBatchConsistency(t, m, kvType)
				})
			}
		})
	}
}

// TestArchDecodeEqualsPrefill: the logits of a prompt's last position are
// bit-identical whether the prompt is evaluated in one forward or one token
// at a time, and for 1 or 2 threads, with F32 and Q8_0 K/V; the prompt is
// longer than the test models' 8-token sliding windows.
func TestArchDecodeEqualsPrefill(t *testing.T) {
	for _, ac := range archCases() {
		t.Run(ac.name, func(t *testing.T) {
			m := loadModel(t, archPath(ac.name, ".gguf"))
			for _, kvType := range []native.Type{native.F32, native.Q8_0} {
				t.Run(kvType.String(), func(t *testing.T) { checkDecodeEqualsPrefill(t, m, kvType) })
			}
		})
	}
}

// checkDecodeEqualsPrefill evaluates a 27-token prompt in one forward on 1
// thread, then on 2 threads, one token at a time and in chunks of 5, and
// wants the last position's logits bit-identical every time.
func checkDecodeEqualsPrefill(t *testing.T, m *Model, kvType native.Type) {
	ids := make([]int32, 27)
	for i := range ids {
		ids[i] = int32((i*37 + 11) % m.Config.NVocab)
	}
	eval := func(threads, step int) []float32 {
		if err := native.Init(threads); err != nil {
			t.Fatal(err)
		}
		s, err := m.NewSession(len(ids), kvType)
		if err != nil {
			t.Fatal(err)
		}
		var logits []float32
		for i := 0; i < len(ids); i += step {
			if logits, err = s.Eval(ids[i:min(i+step, len(ids))]); err != nil {
				t.Fatal(err)
			}
		}
		return logits
	}
	defer native.Init(0)
	want := eval(1, len(ids))
	for _, v := range []struct{ threads, step int }{{2, len(ids)}, {1, 1}, {2, 1}, {2, 5}} {
		if got := eval(v.threads, v.step); !slices.Equal(got, want) {
			t.Errorf("threads=%d chunk=%d: logits differ from one prefill on 1 thread (max |Δ| %.3g)", v.threads, v.step, maxDiff(got, want))
		}
	}
}

// TestExternalReference checks any GGUF against references made for it by
// ref_arch.c (testdata/arch) in the same way as TestArchReferences:
// scripts/check-convert-llamacpp.sh runs it on `kiln convert` output with
// KILN_REF_MODEL (the GGUF), KILN_REF_JSON and KILN_REF_LOGITS (ref_arch's
// outputs) and optionally KILN_REF_TOL (default 1e-3). Skipped without
// them.
func TestExternalReference(t *testing.T) {
	path, refPath, logitsPath := os.Getenv("KILN_REF_MODEL"), os.Getenv("KILN_REF_JSON"), os.Getenv("KILN_REF_LOGITS")
	if path == "" || refPath == "" || logitsPath == "" {
		t.Skip("set KILN_REF_MODEL, KILN_REF_JSON and KILN_REF_LOGITS to check a model against ref_arch.c's output")
	}
	tol := 1e-3
	if s := os.Getenv("KILN_REF_TOL"); s != "" {
		var err error
		if tol, err = strconv.ParseFloat(s, 64); err != nil {
			t.Fatalf("KILN_REF_TOL: %v", err)
		}
	}
	m := loadModel(t, path)
	tok, err := tokenizer.FromGGUF(m.File())
	if err != nil {
		t.Fatal(err)
	}
	ref := readRef(t, refPath)
	if ref.NVocab != m.Config.NVocab {
		t.Fatalf("n_vocab %d, reference %d", m.Config.NVocab, ref.NVocab)
	}
	all := readAllLogits(t, logitsPath, ref.NVocab, len(ref.Prompts))
	rc := refCase{name: filepath.Base(path), tol: tol}
	for pi, p := range ref.Prompts {
		t.Run("prompt"+strconv.Itoa(pi), func(t *testing.T) {
			checkPrompt(t, m, tok, rc, 0, p.Prompt, p.TokenIDs, nil, p.Greedy.IDs, p.Greedy.Logits, p.Greedy.Margins, all[pi])
		})
	}
}
