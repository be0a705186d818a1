package model

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/native"
)

// TestKVBlockRoundTrip: blocks read from one cache and written into other
// block indices of a fresh cache continue a sequence exactly as the cache
// that computed them: the logits of every later token are bit-identical,
// for each K/V element type.
func TestKVBlockRoundTrip(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "models", "stories260K.gguf"))
	toks := []int32{1}
	for i := 1; i < 40; i++ {
		toks = append(toks, int32(259+(i*37)%250))
	}
	const bs, prefix = 8, 24 // three full blocks moved, then 16 tokens computed
	for _, kvType := range []native.Type{native.F32, native.F16, native.Q8_0} {
		t.Run(kvType.String(), func(t *testing.T) {
			forward := func(kv *KVCache, table []int32, from, to int) []float32 {
				b := &Batch{KV: kv, Seqs: []SeqState{{BlockTable: table, CtxLen: to}}, Outputs: []int32{}}
				for p := from; p < to; p++ {
					b.Tokens, b.Pos, b.Seq = append(b.Tokens, toks[p]), append(b.Pos, int32(p)), append(b.Seq, 0)
					if p >= prefix {
						b.Outputs = append(b.Outputs, int32(p-from))
					}
				}
				logits := make([]float32, len(b.Outputs)*m.Config.NVocab)
				if err := m.Forward(b, logits); err != nil {
					t.Fatal(err)
				}
				return logits
			}
			src, err := m.NewKVCache(8, bs, kvType)
			if err != nil {
				t.Fatal(err)
			}
			srcTable := []int32{0, 1, 2, 3, 4}
			want := forward(src, srcTable, 0, len(toks))

			dst, err := m.NewKVCache(8, bs, kvType)
			if err != nil {
				t.Fatal(err)
			}
			dstTable := []int32{6, 2, 7, 0, 5}
			buf := make([]byte, src.BlockBytes())
			for i := range prefix / bs {
				if err := src.ReadBlock(int(srcTable[i]), buf); err != nil {
					t.Fatal(err)
				}
				if err := dst.WriteBlock(int(dstTable[i]), buf); err != nil {
					t.Fatal(err)
				}
				back := make([]byte, len(buf))
				if err := dst.ReadBlock(int(dstTable[i]), back); err != nil || !bytes.Equal(back, buf) {
					t.Fatalf("block %d reads back differently (err %v)", i, err)
				}
			}
			if got := forward(dst, dstTable, prefix, len(toks)); !slices.Equal(got, want) {
				t.Error("logits over moved blocks differ from those over the computed ones")
			}
			if want, got := 2*m.Config.NLayer*src.Layers[0].BlockBytes(), src.BlockBytes(); got != want {
				t.Errorf("BlockBytes = %d, want %d", got, want)
			}
		})
	}
}

// TestKVBlockBadArgs: a block index out of range or a buffer of the wrong
// size is an error, and nothing is written.
func TestKVBlockBadArgs(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "models", "stories260K.gguf"))
	kv, err := m.NewKVCache(2, 4, native.F16)
	if err != nil {
		t.Fatal(err)
	}
	n := kv.BlockBytes()
	for _, c := range []struct {
		name  string
		block int
		size  int
	}{{"negative", -1, n}, {"past the end", 2, n}, {"short", 0, n - 1}, {"long", 1, n + 1}} {
		t.Run(c.name, func(t *testing.T) {
			buf := bytes.Repeat([]byte{0xAB}, c.size)
			if err := kv.WriteBlock(c.block, buf); err == nil {
				t.Error("WriteBlock: no error")
			}
			if err := kv.ReadBlock(c.block, buf); err == nil {
				t.Error("ReadBlock: no error")
			}
		})
	}
	for _, l := range kv.Layers {
		if slices.ContainsFunc(l.K, func(b byte) bool { return b != 0 }) {
			t.Fatal("a refused write changed the cache")
		}
	}
}

// TestKVGeometry: the geometry names the element type and block size, so
// caches that cannot exchange blocks describe themselves differently.
func TestKVGeometry(t *testing.T) {
	m := loadModel(t, filepath.Join(sharedDir(t), "models", "stories260K.gguf"))
	geo := func(blocks, bs int, ty native.Type) string {
		kv, err := m.NewKVCache(blocks, bs, ty)
		if err != nil {
			t.Fatal(err)
		}
		return kv.Geometry()
	}
	base := geo(4, 16, native.F16)
	if g := geo(9, 16, native.F16); g != base {
		t.Errorf("the pool's size changed the geometry: %q vs %q", g, base)
	}
	for _, g := range []string{geo(4, 8, native.F16), geo(4, 16, native.F32), geo(4, 16, native.Q8_0)} {
		if g == base {
			t.Errorf("geometry %q does not tell block size or dtype apart", g)
		}
	}
}

// TestFingerprint: the same file loaded twice has one fingerprint; another
// quantization of the same model, another model, and the same file with a
// byte of a tensor changed each have another.
func TestFingerprint(t *testing.T) {
	shared := sharedDir(t)
	fp := func(path string) [32]byte {
		m := loadModel(t, path)
		h, err := m.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	f16 := filepath.Join(shared, "testdata", "stories260K-f16.gguf")
	base := fp(f16)
	if again := fp(f16); again != base {
		t.Fatal("one file, two fingerprints")
	}
	raw, err := os.ReadFile(f16)
	if err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, f16)
	info, _ := m.src.Tensor("output_norm.weight")
	flipped := filepath.Join(t.TempDir(), "flipped.gguf")
	raw[m.File().DataOffset()+info.Offset] ^= 0x40
	if err := os.WriteFile(flipped, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"q8_0":         filepath.Join(shared, "testdata", "stories260K-q8_0.gguf"),
		"other model":  filepath.Join(shared, "testdata", "tiny-llama3-q8_0.gguf"),
		"flipped byte": flipped,
	} {
		t.Run(name, func(t *testing.T) {
			if fp(path) == base {
				t.Error("same fingerprint as stories260K-f16")
			}
		})
	}
	closed, err := Load(f16)
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close()
	if _, err := closed.Fingerprint(); err == nil {
		t.Error("a closed model has a fingerprint")
	}
}
