package synth

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/quantize"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

func TestWriteDeterministicAndLoadable(t *testing.T) {
	for _, tc := range []struct {
		preset string
		typ    native.Type
	}{
		{"tiny", native.F16}, {"tiny", native.Q8_0}, {"tiny-qwen2", native.Q8_0},
	} {
		t.Run(tc.preset+"-"+tc.typ.String(), func(t *testing.T) {
			p, err := LookupPreset(tc.preset)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			a, b, c := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf"), filepath.Join(dir, "c.gguf")
			for _, f := range []struct {
				path string
				seed uint64
			}{{a, 7}, {b, 7}, {c, 8}} {
				if err := Write(f.path, Options{Preset: p, Type: tc.typ, Seed: f.seed}); err != nil {
					t.Fatal(err)
				}
			}
			ba, _ := os.ReadFile(a)
			bb, _ := os.ReadFile(b)
			bc, _ := os.ReadFile(c)
			if !bytes.Equal(ba, bb) {
				t.Fatal("same seed gave different files")
			}
			if bytes.Equal(ba, bc) {
				t.Fatal("different seeds gave the same file")
			}
			m, err := model.Load(a)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tok, err := tokenizer.FromGGUF(m.File())
			if err != nil {
				t.Fatal(err)
			}
			ids := tok.Encode("hello world", true, false)
			s, err := m.NewSession(64, native.F32)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := s.Eval(ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(logits) != p.NVocab {
				t.Fatalf("logits %d, want %d", len(logits), p.NVocab)
			}
			for i, v := range logits {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("logit %d = %v", i, v)
				}
			}
		})
	}
}

func TestWriteWithVocabGGUF(t *testing.T) {
	vocab := "../../../shared/vocab/ggml-vocab-llama-spm.gguf"
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("no vocab file: %v", err)
	}
	p, _ := LookupPreset("tiny")
	out := filepath.Join(t.TempDir(), "v.gguf")
	if err := Write(out, Options{Preset: p, Type: native.Q8_0, Tokenizer: vocab}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	toks, _ := f.Strings("tokenizer.ggml.tokens")
	emb, _ := f.Tensor("token_embd.weight")
	if int64(len(toks)) != emb.Shape[1] {
		t.Fatalf("vocab %d, embedding rows %d", len(toks), emb.Shape[1])
	}
}

func TestBadInput(t *testing.T) {
	p, _ := LookupPreset("tiny")
	out := filepath.Join(t.TempDir(), "x.gguf")
	for name, o := range map[string]Options{
		"type":      {Preset: p, Type: native.BF16},
		"tokenizer": {Preset: p, Type: native.F16, Tokenizer: "/nonexistent.gguf"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := Write(out, o); err == nil {
				t.Fatal("want error")
			}
		})
	}
	if _, err := LookupPreset("nope"); err == nil {
		t.Fatal("want error for unknown preset")
	}
}

func TestWriteWithTokenizerJSON(t *testing.T) {
	tj := "../../../shared/tokenizers/smollm2-135m-instruct/tokenizer.json"
	if _, err := os.Stat(tj); err != nil {
		t.Skipf("no tokenizer.json: %v", err)
	}
	p, _ := LookupPreset("tiny")
	out := filepath.Join(t.TempDir(), "hf.gguf")
	if err := Write(out, Options{Preset: p, Type: native.Q8_0, Tokenizer: tj}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fromGGUF, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	fromHF, err := tokenizer.LoadHF(filepath.Dir(tj))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"Hello world! 12345", "<|im_start|>user\nHi there<|im_end|>", "  spaces\tand\nnewlines ünïcödé"} {
		a, b := fromGGUF.Encode(text, false, true), fromHF.Encode(text, false, true)
		if !slices.Equal(a, b) {
			t.Errorf("%q: gguf %v, hf %v", text, a, b)
		}
	}
}

// TestNewPresetsLoad synthesizes one layer of each newer real-shape preset
// (vocabulary cut to 320; qwen3-30b-a3b also to 8 of its 128 experts, to
// stay small) and loads it: the metadata and tensor shapes the presets
// write are the ones engine/model binds, and a forward pass runs.
func TestNewPresetsLoad(t *testing.T) {
	for _, name := range []string{"qwen3-0.6b", "gemma3-1b", "phi4-mini", "qwen3-30b-a3b"} {
		t.Run(name, func(t *testing.T) {
			p, err := LookupPreset(name)
			if err != nil {
				t.Fatal(err)
			}
			p.NLayer, p.NVocab = 1, 320
			if p.NExpert > 0 {
				p.NExpert = 8
			}
			path := filepath.Join(t.TempDir(), name+".gguf")
			if err := Write(path, Options{Preset: p, Type: native.Q8_0, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			m, err := model.Load(path, model.WithMaxBatchTokens(8))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if c := m.Config; c.HeadDim != p.HeadDim() || c.RoPE.Dims != p.RotaryDims() || c.NExpert != p.NExpert {
				t.Fatalf("config %+v does not match the preset", c)
			}
			s, err := m.NewSession(8, native.F16)
			if err != nil {
				t.Fatal(err)
			}
			logits, err := s.Eval([]int32{1, 5, 9})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range logits {
				if v != v {
					t.Fatal("NaN logit")
				}
			}
		})
	}
}

// TestQuantizeDirectEqualsF16ThenFile: writing a quantize preset directly
// (Options.Quantize) gives the bytes of the old two-step path, an F16 file
// quantized by quantize.File: same metadata order, tensor order, per-tensor
// types and quantized blocks. tiny-256 has K-quant rows (256 columns);
// qwen3moe-256 (tiny-qwen3moe widened to 256 columns) has 3-D expert
// stacks and an unquantized router; tiny-qwen3moe has rows of 32-128
// columns where the K-quants fall back to 32-element types.
func TestQuantizeDirectEqualsF16ThenFile(t *testing.T) {
	widen := func(p *Preset) { p.NEmbd, p.HeadDimOverride, p.NFFExp = 256, 64, 256 }
	for _, c := range []struct {
		name, preset string
		tweak        func(*Preset)
		fallbacks    bool // the preset's default type may not occur at all
	}{
		{"tiny-256", "tiny-256", nil, false},
		{"qwen3moe-256", "tiny-qwen3moe", widen, false},
		{"tiny-qwen3moe", "tiny-qwen3moe", nil, true},
	} {
		for _, typ := range []string{"q4_k_m", "q4_0", "q6_k", "iq4_xs"} {
			t.Run(c.name+"/"+typ, func(t *testing.T) {
				p, err := LookupPreset(c.preset)
				if err != nil {
					t.Fatal(err)
				}
				if c.tweak != nil {
					c.tweak(&p)
				}
				qp, err := quantize.LookupPreset(typ)
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				f16, viaFile, direct := filepath.Join(dir, "f16.gguf"), filepath.Join(dir, "file.gguf"), filepath.Join(dir, "direct.gguf")
				if err := Write(f16, Options{Preset: p, Type: native.F16, Seed: 5}); err != nil {
					t.Fatal(err)
				}
				rep, err := quantize.File(f16, viaFile, qp)
				if err != nil {
					t.Fatal(err)
				}
				if !c.fallbacks && rep.Counts[qp.Default] == 0 {
					t.Fatalf("no tensor of type %v in %v: the case does not exercise the preset", qp.Default, rep.Counts)
				}
				var last int64
				prog := func(done, total int64) {
					if done < last || done > total {
						t.Errorf("progress %d/%d after %d", done, total, last)
					}
					last = done
				}
				if err := Write(direct, Options{Preset: p, Type: native.F16, Quantize: &qp, Seed: 5, Progress: prog}); err != nil {
					t.Fatal(err)
				}
				a, _ := os.ReadFile(viaFile)
				b, _ := os.ReadFile(direct)
				if !bytes.Equal(a, b) {
					t.Fatalf("direct file (%d bytes) differs from F16 + quantize.File (%d bytes)", len(b), len(a))
				}
				f, err := gguf.Open(direct)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				var data int64
				for _, ti := range f.Tensors() {
					data += int64(native.RowSize(native.Type(ti.Type), int(ti.Shape[0]))) * ti.Elements() / ti.Shape[0]
				}
				if last != data {
					t.Errorf("progress ended at %d bytes, tensor data is %d", last, data)
				}
			})
		}
	}
}

// TestQuantizeRefusals: a quantize preset with a non-F16 type, or one whose
// rules give a row length no type can hold, is a clear error that leaves no
// file (not even a temporary) behind.
func TestQuantizeRefusals(t *testing.T) {
	tiny, _ := LookupPreset("tiny")
	odd := tiny
	odd.NEmbd, odd.NFF = 48, 48 // 48 columns: Q4_0's block of 32 does not divide them
	for _, c := range []struct {
		name, typ string
		preset    Preset
		wtype     native.Type
		want      string
	}{
		{"q8_0 weights", "q4_0", tiny, native.Q8_0, "needs type f16"},
		{"no fallback", "q4_0", odd, native.F16, "no fallback type"},
	} {
		t.Run(c.name, func(t *testing.T) {
			qp, err := quantize.LookupPreset(c.typ)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			err = Write(filepath.Join(dir, "x.gguf"), Options{Preset: c.preset, Type: c.wtype, Quantize: &qp})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a refused write left %d files", len(ents))
			}
		})
	}
}
