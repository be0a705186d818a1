package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// File must keep satisfying engine/tokenizer's Metadata interface: the
// compile-time guard lives in engine/tokenizer's shared_test.go.

// sharedCase lists what a shared GGUF file must contain.
type sharedCase struct {
	path     string
	arch     string
	nKV      int
	nTensors int
	nTokens  int
	u32      map[string]uint32  // arch-relative integer keys
	f32      map[string]float32 // arch-relative float keys
	tensor   string             // a tensor to check
	shape    []int64
	typ      TensorType
}

var sharedCases = []sharedCase{
	{path: "models/stories260K.gguf", arch: "llama", nKV: 19, nTensors: 48, nTokens: 512,
		u32: map[string]uint32{"context_length": 2048, "embedding_length": 64, "feed_forward_length": 172,
			"block_count": 5, "attention.head_count": 8, "attention.head_count_kv": 4, "rope.dimension_count": 8},
		f32:    map[string]float32{"attention.layer_norm_rms_epsilon": 1e-5},
		tensor: "token_embd.weight", shape: []int64{64, 512}, typ: TensorF32},
	{path: "testdata/stories260K-f32.gguf", arch: "llama", nKV: 19, nTensors: 48, nTokens: 512,
		u32:    map[string]uint32{"embedding_length": 64, "block_count": 5},
		tensor: "output.weight", shape: []int64{64, 512}, typ: TensorF32},
	{path: "testdata/stories260K-f16.gguf", arch: "llama", nKV: 21, nTensors: 48, nTokens: 512,
		u32:    map[string]uint32{"embedding_length": 64, "attention.head_count_kv": 4},
		tensor: "blk.0.attn_k.weight", shape: []int64{64, 32}, typ: TensorF16},
	{path: "testdata/stories260K-q8_0.gguf", arch: "llama", nKV: 21, nTensors: 48, nTokens: 512,
		u32:    map[string]uint32{"block_count": 5},
		tensor: "token_embd.weight", shape: []int64{64, 512}, typ: TensorQ8_0},
	{path: "testdata/tiny-llama3-q8_0.gguf", arch: "llama", nKV: 24, nTensors: 20, nTokens: 128256,
		u32: map[string]uint32{"vocab_size": 128256, "embedding_length": 64, "block_count": 2,
			"attention.head_count": 4, "attention.head_count_kv": 2, "rope.dimension_count": 16},
		f32:    map[string]float32{"rope.freq_base": 500000, "attention.layer_norm_rms_epsilon": 1e-5},
		tensor: "token_embd.weight", shape: []int64{64, 128256}, typ: TensorQ8_0},
	{path: "testdata/tiny-qwen2-f16.gguf", arch: "qwen2", nKV: 22, nTensors: 27, nTokens: 49152,
		u32:    map[string]uint32{"embedding_length": 64, "feed_forward_length": 128},
		f32:    map[string]float32{"rope.freq_base": 1e6, "attention.layer_norm_rms_epsilon": 1e-6},
		tensor: "blk.0.attn_q.weight", shape: []int64{64, 64}, typ: TensorF16},
	{path: "testdata/tiny-qwen2-q8_0.gguf", arch: "qwen2", nKV: 23, nTensors: 27, nTokens: 49152,
		tensor: "blk.0.attn_k.bias", shape: []int64{32}, typ: TensorF32},
	{path: "testdata/tiny-smollm2-f16.gguf", arch: "llama", nKV: 25, nTensors: 20, nTokens: 49152,
		u32: map[string]uint32{"attention.head_count_kv": 1}, tensor: "blk.0.attn_k.weight", shape: []int64{64, 16}, typ: TensorF16},
	{path: "testdata/tiny-smollm2-f32.gguf", arch: "llama", nKV: 25, nTensors: 20, nTokens: 49152,
		f32: map[string]float32{"rope.freq_base": 100000}, tensor: "token_embd.weight", shape: []int64{64, 49152}, typ: TensorF32},
	{path: "testdata/tiny-smollm2-q8_0.gguf", arch: "llama", nKV: 26, nTensors: 20, nTokens: 49152,
		tensor: "output_norm.weight", shape: []int64{64}, typ: TensorF32},
	{path: "vocab/ggml-vocab-baichuan.gguf", arch: "baichuan", nKV: 18, nTokens: 64000},
	{path: "vocab/ggml-vocab-bert-bge.gguf", arch: "bert", nKV: 20, nTokens: 30522},
	{path: "vocab/ggml-vocab-deepseek-coder.gguf", arch: "llama", nKV: 25, nTokens: 32256,
		f32: map[string]float32{"rope.scaling.factor": 4}},
	{path: "vocab/ggml-vocab-gpt-2.gguf", arch: "gpt2", nKV: 16, nTokens: 50257},
	{path: "vocab/ggml-vocab-gpt-neox.gguf", arch: "gptneox", nKV: 17, nTokens: 50432},
	{path: "vocab/ggml-vocab-llama-spm.gguf", arch: "llama", nKV: 22, nTokens: 32000},
	{path: "vocab/ggml-vocab-mpt.gguf", arch: "mpt"},
	{path: "vocab/ggml-vocab-phi-3.gguf", arch: "phi3"},
	{path: "vocab/ggml-vocab-refact.gguf", arch: "refact"},
}

func TestSharedFiles(t *testing.T) {
	dir := sharedDir(t)
	for _, tc := range sharedCases {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, tc.path)
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkShared(t, f, tc)

			// Parse through a plain io.ReaderAt must see the same file.
			fh, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			p, err := Parse(fh, f.Size())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.KVs(), f.KVs()) || !reflect.DeepEqual(p.Tensors(), f.Tensors()) {
				t.Fatal("Parse and Open disagree")
			}
			if p.DataOffset() != f.DataOffset() || p.Alignment() != f.Alignment() {
				t.Fatalf("Parse data offset %d align %d, Open %d %d", p.DataOffset(), p.Alignment(), f.DataOffset(), f.Alignment())
			}
			for i := range f.NumTensors() {
				a, err1 := f.TensorDataAt(i)
				b, err2 := p.TensorDataAt(i)
				if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
					t.Fatalf("tensor %d: mmap and ReaderAt data differ (%v, %v)", i, err1, err2)
				}
			}
		})
	}
}

func checkShared(t *testing.T, f *File, tc sharedCase) {
	t.Helper()
	if f.Version() != 3 {
		t.Errorf("version %d, want 3", f.Version())
	}
	if got := f.Architecture(); got != tc.arch {
		t.Errorf("architecture %q, want %q", got, tc.arch)
	}
	if tc.nKV > 0 && len(f.Keys()) != tc.nKV {
		t.Errorf("%d keys, want %d", len(f.Keys()), tc.nKV)
	}
	if f.NumTensors() != tc.nTensors {
		t.Errorf("%d tensors, want %d", f.NumTensors(), tc.nTensors)
	}
	if f.Keys()[0] != "general.architecture" && f.Keys()[0] != "tokenizer.ggml.tokens" {
		t.Errorf("first key %q", f.Keys()[0])
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || (tc.nTokens > 0 && len(toks) != tc.nTokens) {
		t.Errorf("tokenizer.ggml.tokens: %d tokens (ok=%v), want %d", len(toks), ok, tc.nTokens)
	}
	if tt, ok := f.Int32s("tokenizer.ggml.token_type"); !ok || len(tt) != len(toks) {
		t.Errorf("token_type: %d entries (ok=%v), want %d", len(tt), ok, len(toks))
	}
	for k, want := range tc.u32 {
		if got, ok := f.ArchUint32(k); !ok || got != want {
			t.Errorf("%s = %d (ok=%v), want %d", f.ArchKey(k), got, ok, want)
		}
	}
	for k, want := range tc.f32 {
		if got, ok := f.ArchFloat32(k); !ok || got != want {
			t.Errorf("%s = %g (ok=%v), want %g", f.ArchKey(k), got, ok, want)
		}
	}
	var total int64
	for i, ti := range f.Tensors() {
		data, err := f.TensorDataAt(i)
		if err != nil {
			t.Fatalf("tensor %q: %v", ti.Name, err)
		}
		rows := ti.Elements() / ti.Shape[0]
		if int64(len(data)) != ti.Size || ti.Size != rows*ti.Type.RowSize(ti.Shape[0]) {
			t.Errorf("tensor %q: %d bytes, Size %d, %d elements of %s", ti.Name, len(data), ti.Size, ti.Elements(), ti.Type)
		}
		if (f.DataOffset()+ti.Offset)%f.Alignment() != 0 {
			t.Errorf("tensor %q at unaligned offset", ti.Name)
		}
		total += ti.Size
	}
	if tc.nTensors > 0 && f.DataOffset()+total > f.Size() {
		t.Errorf("tensor bytes %d exceed data section", total)
	}
	if tc.tensor != "" {
		ti, ok := f.Tensor(tc.tensor)
		if !ok || !reflect.DeepEqual(ti.Shape, tc.shape) || ti.Type != tc.typ {
			t.Errorf("tensor %q = %+v (ok=%v), want shape %v type %s", tc.tensor, ti, ok, tc.shape, tc.typ)
		}
	}
}

// TestStoriesEmbeddingMatchesBin checks that the zero-copy view of
// token_embd.weight holds the same floats as llama2.c's stories260K.bin,
// whose 7-int32 header is followed by the token embedding table.
func TestStoriesEmbeddingMatchesBin(t *testing.T) {
	dir := sharedDir(t)
	f, err := Open(filepath.Join(dir, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bin, err := os.ReadFile(filepath.Join(dir, "models", "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	emb, err := f.TensorData("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	if len(bin) < 28+len(emb) || !bytes.Equal(emb, bin[28:28+len(emb)]) {
		t.Fatal("token_embd.weight differs from the embedding table in stories260K.bin")
	}
}

func TestMetadataAccessors(t *testing.T) {
	f, err := OpenBytes(smallFile(t))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		v  any
		ok bool
	}
	r := func(v any, ok bool) result { return result{v, ok} }
	cases := []struct {
		name string
		got  result
		want result
	}{
		{"String", r(f.String("general.architecture")), r("llama", true)},
		{"String wrong type", r(f.String("u8")), r("", false)},
		{"String missing", r(f.String("nope")), r("", false)},
		{"Uint32 from u32", r(f.Uint32("llama.block_count")), r(uint32(2), true)},
		{"Uint32 from u8", r(f.Uint32("u8")), r(uint32(7), true)},
		{"Uint32 from negative", r(f.Uint32("i8")), r(uint32(0), false)},
		{"Uint32 too big", r(f.Uint32("u64")), r(uint32(0), false)},
		{"Uint32 from string", r(f.Uint32("general.architecture")), r(uint32(0), false)},
		{"Uint64", r(f.Uint64("u64")), r(uint64(1)<<40, true)},
		{"Int from i16", r(f.Int("i16")), r(-700, true)},
		{"Int from i64", r(f.Int("i64")), r(-1<<40, true)},
		{"Float32", r(f.Float32("llama.rope.freq_base")), r(float32(10000), true)},
		{"Float32 from f64", r(f.Float32("f64")), r(float32(2.5), true)},
		{"Float32 from int", r(f.Float32("u16")), r(float32(700), true)},
		{"Float64", r(f.Float64("f64")), r(2.5, true)},
		{"Bool", r(f.Bool("flag")), r(true, true)},
		{"Bool wrong type", r(f.Bool("u8")), r(false, false)},
		{"Strings", r(f.Strings("tokens")), r([]string{"a", "b", ""}, true)},
		{"Strings wrong type", r(f.Strings("scores")), r([]string(nil), false)},
		{"Float32s", r(f.Float32s("scores")), r([]float32{0.5, -1}, true)},
		{"Int32s", r(f.Int32s("types")), r([]int32{1, 2, 3}, true)},
		{"Uint32s from int32", r(f.Uint32s("types")), r([]uint32{1, 2, 3}, true)},
		{"Int32s from strings", r(f.Int32s("tokens")), r([]int32(nil), false)},
		{"ArchUint32", r(f.ArchUint32("block_count")), r(uint32(2), true)},
		{"ArchFloat32", r(f.ArchFloat32("rope.freq_base")), r(float32(10000), true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	t.Run("Keys in order", func(t *testing.T) {
		keys := f.Keys()
		if keys[0] != "general.architecture" || keys[len(keys)-1] != "nested" || len(keys) != 16 {
			t.Fatalf("keys %v", keys)
		}
	})
	t.Run("Value nested", func(t *testing.T) {
		v, ok := f.Value("nested")
		inner := v.Data.([]Value)
		if !ok || v.Type != ValueArray || v.Elem != ValueArray || len(inner) != 1 ||
			!reflect.DeepEqual(inner[0].Data, []uint8{1, 2}) {
			t.Fatalf("nested = %#v", v)
		}
	})
	t.Run("Strings is a copy", func(t *testing.T) {
		s, _ := f.Strings("tokens")
		s[0] = "changed"
		if s2, _ := f.Strings("tokens"); s2[0] != "a" {
			t.Fatal("Strings returned the File's own slice")
		}
	})
}

func TestTensorViewsAndClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "small.gguf")
	if err := os.WriteFile(path, smallFile(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.TensorData("a")
	if err != nil || len(a) != 24 || a[5] != 5 {
		t.Fatalf("tensor a: %v %v", a, err)
	}
	if cap(a) != len(a) {
		t.Errorf("view capacity %d exceeds its length %d", cap(a), len(a))
	}
	b, err := f.TensorData("b")
	if err != nil || len(b) != 34 || b[33] != 9 {
		t.Fatalf("tensor b: %v %v", b, err)
	}
	if _, err := f.TensorData("missing"); err == nil {
		t.Error("missing tensor gave no error")
	}
	if _, err := f.TensorDataAt(3); err == nil {
		t.Error("index out of range gave no error")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TensorData("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := f.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if s, ok := f.String("general.architecture"); !ok || s != "llama" {
		t.Error("metadata not readable after Close")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, want string
	}{
		{"empty", "", "shorter than the 24-byte header"},
		{"text", "hello, this is not a gguf file at all", "bad magic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if err == nil || !errors.Is(err, ErrFormat) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) ||
				!bytes.Contains([]byte(err.Error()), []byte(path)) {
				t.Fatalf("Open: %v, want ErrFormat naming %s and %q", err, path, tc.want)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := Open(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Open(dir): %v", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := Open(filepath.Join(dir, "nope.gguf")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open: %v, want ErrNotExist", err)
		}
	})
}

// BenchmarkOpen measures mapping and parsing a file with a 128K-token BPE
// vocabulary (most of the cost is copying the token and merge strings).
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(sharedDir(b), "testdata", "tiny-llama3-q8_0.gguf")
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
