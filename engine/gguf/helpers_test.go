package gguf

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// sharedDir locates ../shared (the repository's sibling) from the package
// directory, skipping the test when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared test data not found at %s (expected ../shared beside the repository): %v", dir, err)
	}
	return dir
}

// Little-endian encoders for hand-crafting (possibly corrupt) files.

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func encStr(s string) []byte { return append(le64(uint64(len(s))), s...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// encArr encodes an array value payload: element type, count, elements.
func encArr(elem ValueType, n uint64, elems ...[]byte) []byte {
	return cat(le32(uint32(elem)), le64(n), cat(elems...))
}

// rawKV is one metadata entry with an already-encoded payload.
type rawKV struct {
	key     string
	typ     ValueType
	payload []byte
}

// rawTensor is one tensor directory entry, with no validation at all.
type rawTensor struct {
	name string
	dims []uint64
	typ  uint32
	off  uint64
}

// rawFile assembles a GGUF file from arbitrary parts: the header, entries,
// tensor directory, zero padding to align, then dataLen zero bytes.
type rawFile struct {
	version  uint32
	kvs      []rawKV
	tensors  []rawTensor
	align    int
	dataLen  int
	nKV      *uint64 // overrides the kv count when set
	nTensors *uint64 // overrides the tensor count when set
}

func (r rawFile) bytes() []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	v := r.version
	if v == 0 {
		v = 3
	}
	b.Write(le32(v))
	nt, nk := uint64(len(r.tensors)), uint64(len(r.kvs))
	if r.nTensors != nil {
		nt = *r.nTensors
	}
	if r.nKV != nil {
		nk = *r.nKV
	}
	b.Write(le64(nt))
	b.Write(le64(nk))
	for _, kv := range r.kvs {
		b.Write(encStr(kv.key))
		b.Write(le32(uint32(kv.typ)))
		b.Write(kv.payload)
	}
	for _, t := range r.tensors {
		b.Write(encStr(t.name))
		b.Write(le32(uint32(len(t.dims))))
		for _, d := range t.dims {
			b.Write(le64(d))
		}
		b.Write(le32(t.typ))
		b.Write(le64(t.off))
	}
	align := r.align
	if align == 0 {
		align = DefaultAlignment
	}
	if len(r.tensors) > 0 {
		for b.Len()%align != 0 {
			b.WriteByte(0)
		}
	}
	b.Write(make([]byte, r.dataLen))
	return b.Bytes()
}

func ptr[T any](v T) *T { return &v }

// smallFile builds a small valid file with every scalar type, a few arrays
// and three tensors, via the Writer.
func smallFile(t testing.TB) []byte {
	t.Helper()
	w := NewWriter()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Set("general.architecture", "llama"))
	must(w.Set("llama.block_count", uint32(2)))
	must(w.Set("llama.rope.freq_base", float32(10000)))
	must(w.Set("u8", uint8(7)))
	must(w.Set("i8", int8(-7)))
	must(w.Set("u16", uint16(700)))
	must(w.Set("i16", int16(-700)))
	must(w.Set("i32", int32(-70000)))
	must(w.Set("u64", uint64(1)<<40))
	must(w.Set("i64", int64(-1)<<40))
	must(w.Set("f64", 2.5))
	must(w.Set("flag", true))
	must(w.Set("tokens", []string{"a", "b", ""}))
	must(w.Set("scores", []float32{0.5, -1}))
	must(w.Set("types", []int32{1, 2, 3}))
	must(w.Set("nested", []Value{{Type: ValueArray, Elem: ValueUint8, Data: []uint8{1, 2}}}))
	f32 := make([]byte, 4*3*2)
	for i := range f32 {
		f32[i] = byte(i)
	}
	must(w.AddTensor("a", TensorF32, []int64{3, 2}, f32))
	q8 := bytes.Repeat([]byte{9}, 34)
	must(w.AddTensor("b", TensorQ8_0, []int64{32}, q8))
	must(w.AddTensor("c", TensorF16, []int64{1}, []byte{1, 2}))
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
