package gguf

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriterRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 16, 64, 4096} {
		t.Run(map[uint32]string{0: "default", 16: "align16", 64: "align64", 4096: "align4096"}[align], func(t *testing.T) {
			w := NewWriter()
			kvs := []KV{
				{"general.architecture", Value{Type: ValueString, Data: "qwen2"}},
				{"u8", Value{Type: ValueUint8, Data: uint8(255)}},
				{"i8", Value{Type: ValueInt8, Data: int8(-128)}},
				{"u16", Value{Type: ValueUint16, Data: uint16(65535)}},
				{"i16", Value{Type: ValueInt16, Data: int16(-32768)}},
				{"u32", Value{Type: ValueUint32, Data: uint32(1 << 31)}},
				{"i32", Value{Type: ValueInt32, Data: int32(-1 << 31)}},
				{"f32", Value{Type: ValueFloat32, Data: float32(3.25)}},
				{"bool", Value{Type: ValueBool, Data: false}},
				{"str", Value{Type: ValueString, Data: "héllo\x00world"}},
				{"u64", Value{Type: ValueUint64, Data: uint64(1<<64 - 1)}},
				{"i64", Value{Type: ValueInt64, Data: int64(-1 << 63)}},
				{"f64", Value{Type: ValueFloat64, Data: 1e300}},
				{"au8", Value{Type: ValueArray, Elem: ValueUint8, Data: []uint8{1, 2, 3}}},
				{"ai8", Value{Type: ValueArray, Elem: ValueInt8, Data: []int8{-1}}},
				{"au16", Value{Type: ValueArray, Elem: ValueUint16, Data: []uint16{1, 65535}}},
				{"ai16", Value{Type: ValueArray, Elem: ValueInt16, Data: []int16{-2}}},
				{"au32", Value{Type: ValueArray, Elem: ValueUint32, Data: []uint32{7}}},
				{"ai32", Value{Type: ValueArray, Elem: ValueInt32, Data: []int32{-7, 7}}},
				{"af32", Value{Type: ValueArray, Elem: ValueFloat32, Data: []float32{1.5}}},
				{"abool", Value{Type: ValueArray, Elem: ValueBool, Data: []bool{true, false, true}}},
				{"astr", Value{Type: ValueArray, Elem: ValueString, Data: []string{"", "x", "yz"}}},
				{"au64", Value{Type: ValueArray, Elem: ValueUint64, Data: []uint64{1 << 60}}},
				{"ai64", Value{Type: ValueArray, Elem: ValueInt64, Data: []int64{-1 << 60}}},
				{"af64", Value{Type: ValueArray, Elem: ValueFloat64, Data: []float64{0.1, 0.2}}},
				{"empty", Value{Type: ValueArray, Elem: ValueFloat32, Data: []float32{}}},
				{"nested", Value{Type: ValueArray, Elem: ValueArray, Data: []Value{
					{Type: ValueArray, Elem: ValueString, Data: []string{"a"}},
					{Type: ValueArray, Elem: ValueArray, Data: []Value{{Type: ValueArray, Elem: ValueInt64, Data: []int64{5}}}},
				}}},
			}
			if align != 0 {
				kvs = append(kvs, KV{KeyAlignment, Value{Type: ValueUint32, Data: align}})
			}
			for _, kv := range kvs {
				if err := w.Set(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			type tensor struct {
				name  string
				typ   TensorType
				shape []int64
			}
			tensors := []tensor{
				{"f32", TensorF32, []int64{5, 3}},
				{"f16", TensorF16, []int64{7}},
				{"q4_0", TensorQ4_0, []int64{64, 2}},
				{"q8_0", TensorQ8_0, []int64{32, 1, 1, 3}},
				{"q6_k", TensorQ6_K, []int64{256}},
				{"bf16", TensorBF16, []int64{3, 3}},
				{"i32", TensorI32, []int64{1}},
				{"scalar", TensorF64, []int64{}},
			}
			want := map[string][]byte{}
			for i, tt := range tensors {
				_, size, err := shapeSize(tt.typ, tt.shape)
				if err != nil {
					t.Fatal(err)
				}
				data := bytes.Repeat([]byte{byte(i + 1)}, int(size))
				want[tt.name] = data
				if i%2 == 0 {
					err = w.AddTensor(tt.name, tt.typ, tt.shape, data)
				} else {
					err = w.AddTensorReader(tt.name, tt.typ, tt.shape, bytes.NewReader(data))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			n, err := w.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(buf.Len()) {
				t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
			}
			f, err := OpenBytes(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(f.KVs(), kvs) {
				t.Fatalf("metadata differs after round trip:\n got %v\nwant %v", f.KVs(), kvs)
			}
			wantAlign := int64(align)
			if align == 0 {
				wantAlign = DefaultAlignment
			}
			if f.Alignment() != wantAlign || f.DataOffset()%wantAlign != 0 || int64(buf.Len())%wantAlign != 0 {
				t.Fatalf("alignment %d, data at %d, file size %d; want multiples of %d", f.Alignment(), f.DataOffset(), buf.Len(), wantAlign)
			}
			for i, tt := range tensors {
				info := f.Tensors()[i]
				if info.Name != tt.name || info.Type != tt.typ || !reflect.DeepEqual(info.Shape, tt.shape) {
					t.Fatalf("tensor %d = %+v, want %+v", i, info, tt)
				}
				got, err := f.TensorData(tt.name)
				if err != nil || !bytes.Equal(got, want[tt.name]) {
					t.Fatalf("tensor %q data differs (%v)", tt.name, err)
				}
			}
		})
	}
}

// TestRewriteShared reads each shared file and writes it again: the result
// must hold the same metadata and tensors and, since the writer uses
// llama.cpp's layout, the very same bytes.
func TestRewriteShared(t *testing.T) {
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
			w, err := NewWriterFrom(f)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := w.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			g, err := OpenBytes(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g.KVs(), f.KVs()) || !reflect.DeepEqual(g.Tensors(), f.Tensors()) {
				t.Fatal("rewritten file has different metadata or tensor directory")
			}
			for i := range f.NumTensors() {
				a, _ := f.TensorDataAt(i)
				b, _ := g.TensorDataAt(i)
				if !bytes.Equal(a, b) {
					t.Fatalf("tensor %d data differs", i)
				}
			}
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(orig) != sha256.Sum256(buf.Bytes()) {
				t.Errorf("rewrite is not byte-identical: %d bytes vs %d", buf.Len(), len(orig))
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.gguf")
	w := NewWriter()
	if err := w.Set("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("t", TensorI8, []int64{3}, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if d, err := f.TensorData("t"); err != nil || !bytes.Equal(d, []byte{1, 2, 3}) {
		t.Fatalf("tensor t = %v, %v", d, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestWriterSetReplaceAndDelete(t *testing.T) {
	w := NewWriter()
	for _, kv := range []struct {
		k string
		v any
	}{{"a", uint32(1)}, {"b", "x"}, {"c", true}, {"a", uint32(2)}} {
		if err := w.Set(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	w.Delete("b")
	w.Delete("missing")
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := OpenBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if keys := f.Keys(); !reflect.DeepEqual(keys, []string{"a", "c"}) {
		t.Fatalf("keys %v, want [a c]", keys)
	}
	if v, _ := f.Uint32("a"); v != 2 {
		t.Fatalf("a = %d, want 2 (replaced in place)", v)
	}
}

func TestWriterErrors(t *testing.T) {
	cases := []struct {
		name string
		fn   func(w *Writer) error
		want string
	}{
		{"int has no GGUF type", func(w *Writer) error { return w.Set("k", 3) }, "no GGUF type for Go type int"},
		{"mismatched Value", func(w *Writer) error { return w.Set("k", Value{Type: ValueUint32, Data: "x"}) }, "holds Go string"},
		{"mismatched array", func(w *Writer) error {
			return w.Set("k", Value{Type: ValueArray, Elem: ValueInt32, Data: []uint32{1}})
		}, "holds Go []uint32"},
		{"unknown value type", func(w *Writer) error { return w.Set("k", Value{Type: 42}) }, "unknown value type 42"},
		{"bad nesting", func(w *Writer) error {
			return w.Set("k", []Value{{Type: ValueUint8, Data: uint8(1)}})
		}, "array of arrays holds a uint8"},
		{"alignment type", func(w *Writer) error { return w.Set(KeyAlignment, uint64(32)) }, "must be a uint32 power of two"},
		{"alignment value", func(w *Writer) error { return w.Set(KeyAlignment, uint32(24)) }, "must be a uint32 power of two"},
		{"wrong data size", func(w *Writer) error { return w.AddTensor("t", TensorF32, []int64{4}, make([]byte, 15)) }, "data is 15 bytes, F32 [4] needs 16"},
		{"duplicate tensor", func(w *Writer) error {
			_ = w.AddTensor("t", TensorI8, []int64{1}, []byte{0})
			return w.AddTensor("t", TensorI8, []int64{1}, []byte{0})
		}, `duplicate tensor name "t"`},
		{"too many dims", func(w *Writer) error { return w.AddTensor("t", TensorI8, []int64{1, 1, 1, 1, 1}, []byte{0}) }, "5 dims, at most 4"},
		{"zero dim", func(w *Writer) error { return w.AddTensor("t", TensorI8, []int64{0}, nil) }, "dim 0 is 0"},
		{"unknown type", func(w *Writer) error { return w.AddTensor("t", TensorType(5), []int64{1}, []byte{0}) }, "unknown tensor type 5"},
		{"partial block", func(w *Writer) error { return w.AddTensor("t", TensorQ4_K, []int64{255}, nil) }, "not a multiple of the Q4_K block size 256"},
		{"short reader", func(w *Writer) error {
			if err := w.AddTensorReader("t", TensorF32, []int64{4}, strings.NewReader("abc")); err != nil {
				return err
			}
			_, err := w.WriteTo(&bytes.Buffer{})
			return err
		}, `tensor "t": source gave 3 of 16 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fn(NewWriter())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
