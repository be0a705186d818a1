package gguf

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// validTensors is a directory of two F32 tensors of 8 elements (32 bytes)
// each, packed at offsets 0 and 32.
func validTensors() []rawTensor {
	return []rawTensor{
		{name: "x", dims: []uint64{8}, typ: uint32(TensorF32), off: 0},
		{name: "y", dims: []uint64{4, 2}, typ: uint32(TensorF32), off: 32},
	}
}

func arch() rawKV { return rawKV{"general.architecture", ValueString, encStr("llama")} }

// corruptCase is a malformed file and a fragment of the error it must give.
type corruptCase struct {
	name string
	data []byte
	want string
}

// baseRaw is the valid file the corrupt cases are derived from.
func baseRaw() rawFile {
	return rawFile{kvs: []rawKV{arch()}, tensors: validTensors(), dataLen: 64}
}

// corruptCases covers each class of damage the reader must reject; the
// fuzzer uses them as seeds too.
func corruptCases() []corruptCase {
	base := baseRaw()
	with := func(mod func(r *rawFile)) []byte {
		r := base
		r.kvs = append([]rawKV(nil), base.kvs...)
		r.tensors = validTensors()
		mod(&r)
		return r.bytes()
	}
	kv := func(k rawKV) []byte { return with(func(r *rawFile) { r.kvs = append(r.kvs, k) }) }
	tensor := func(f func(ts []rawTensor)) []byte { return with(func(r *rawFile) { f(r.tensors) }) }
	header := func(version uint32) []byte { return cat([]byte(Magic), le32(version), le64(0), le64(0)) }
	nested := func(depth int) []byte {
		p := encArr(ValueUint8, 0)
		for range depth {
			p = encArr(ValueArray, 1, p)
		}
		return p
	}

	return []corruptCase{
		{"empty", nil, "magic: needs 4 bytes at offset 0"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), `bad magic "GGML"`},
		{"big-endian", cat([]byte(Magic), []byte{0, 0, 0, 3}, le64(0), le64(0)), "big-endian GGUF files are not supported"},
		{"big-endian magic", []byte("FUGG\x00\x00\x00\x03"), "big-endian"},
		{"version 1", header(1), "version 1 (32-bit counts) is not supported"},
		{"version 4", header(4), "unsupported GGUF version 4"},
		{"truncated header", header(3)[:20], "metadata count: needs 8 bytes at offset 16, only 4 left (file size 20)"},
		{"huge tensor count", cat([]byte(Magic), le32(3), le64(math.MaxUint64), le64(0)), "tensor: count 18446744073709551615"},
		{"huge kv count", with(func(r *rawFile) { r.nKV = ptr(uint64(1) << 60) }), "metadata: count 1152921504606846976"},
		{"kv count past entries", with(func(r *rawFile) { r.nKV = ptr(uint64(5)) }), "metadata 3 key: string length"},
		{"key length past end", cat(header(3)[:16], le64(1), le64(1<<40), make([]byte, 16)), "metadata 0 key: string length 1099511627776 at offset 24 past end of file"},
		{"string value past end", kv(rawKV{"s", ValueString, le64(1 << 50)}), `metadata "s": string length 1125899906842624`},
		{"array count huge", kv(rawKV{"a", ValueArray, encArr(ValueUint32, 1<<61)}), `metadata "a" array: count 2305843009213693952`},
		{"string array count huge", kv(rawKV{"a", ValueArray, encArr(ValueString, 1<<40)}), `metadata "a" array: count 1099511627776`},
		{"nested array count huge", kv(rawKV{"a", ValueArray, encArr(ValueArray, 1<<40)}), `metadata "a" array: count`},
		{"unknown value type", kv(rawKV{"v", ValueType(13), le32(0)}), `metadata "v": unknown value type 13`},
		{"unknown array type", kv(rawKV{"v", ValueArray, encArr(ValueType(99), 0)}), `metadata "v": unknown array element type 99`},
		{"arrays nested too deep", kv(rawKV{"v", ValueArray, nested(maxDepth)}), "arrays nested deeper than 8"},
		{"bad bool", kv(rawKV{"b", ValueBool, []byte{2}}), `metadata "b": bool value 2`},
		{"bad bool in array", kv(rawKV{"b", ValueArray, encArr(ValueBool, 2, []byte{1, 7})}), "bool element 1 is 7"},
		{"duplicate key", kv(arch()), `metadata "general.architecture": duplicate key`},
		{"alignment zero", kv(rawKV{KeyAlignment, ValueUint32, le32(0)}), "general.alignment is 0, must be a power of two"},
		{"alignment not power of two", kv(rawKV{KeyAlignment, ValueUint32, le32(48)}), "general.alignment is 48, must be a power of two"},
		{"alignment wrong type", kv(rawKV{KeyAlignment, ValueUint64, le64(32)}), "general.alignment has type uint64, want uint32"},
		{"n_dims 5", tensor(func(ts []rawTensor) { ts[0].dims = []uint64{1, 1, 1, 1, 8} }), `tensor "x": n_dims 5`},
		{"zero dim", tensor(func(ts []rawTensor) { ts[1].dims = []uint64{4, 0} }), `tensor "y": dim 1 is 0`},
		{"negative dim", tensor(func(ts []rawTensor) { ts[1].dims = []uint64{4, 1 << 63} }), `tensor "y": dim 1 is 9223372036854775808`},
		{"element count overflow", tensor(func(ts []rawTensor) { ts[1].dims = []uint64{1 << 32, 1 << 32} }), `tensor "y": element count of shape [4294967296 4294967296] overflows int64`},
		{"byte size overflow", tensor(func(ts []rawTensor) { ts[1].dims = []uint64{1 << 31, 1 << 31} }), `tensor "y": byte size of shape [2147483648 2147483648] overflows int64`},
		{"unknown tensor type", tensor(func(ts []rawTensor) { ts[0].typ = 4 }), `tensor "x": unknown tensor type 4`},
		{"partial block", tensor(func(ts []rawTensor) { ts[0].typ, ts[0].dims = uint32(TensorQ8_0), []uint64{33} }), `tensor "x": row length 33 is not a multiple of the Q8_0 block size 32`},
		{"offset past end", tensor(func(ts []rawTensor) { ts[1].off = 1 << 40 }), `tensor "y": data offset 1099511627776 past end of file`},
		{"offset unaligned", tensor(func(ts []rawTensor) { ts[1].off = 31 }), `tensor "y": data offset 31 is not a multiple of the alignment 32`},
		{"data past end", tensor(func(ts []rawTensor) { ts[1].dims = []uint64{8, 2} }), `tensor "y": data [offset 192, +64) past end of file (size 224)`},
		{"overlapping tensors", tensor(func(ts []rawTensor) { ts[0].dims = []uint64{16} }), `tensor "y": data [offset 192, +32) overlaps tensor "x" [offset 160, +64)`},
		{"duplicate tensor name", tensor(func(ts []rawTensor) { ts[1].name = "x" }), `tensor "x": duplicate tensor name`},
		{"truncated data", base.bytes()[:200], `tensor "y": data [offset 192, +32) past end of file (size 200)`},
	}
}

func TestCorruptFiles(t *testing.T) {
	if _, err := OpenBytes(baseRaw().bytes()); err != nil {
		t.Fatalf("base file must be valid: %v", err)
	}
	for _, tc := range corruptCases() {
		t.Run(tc.name, func(t *testing.T) {
			for _, parse := range []struct {
				name string
				fn   func([]byte) (*File, error)
			}{
				{"OpenBytes", OpenBytes},
				{"Parse", func(b []byte) (*File, error) { return Parse(bytes.NewReader(b), int64(len(b))) }},
			} {
				f, err := parse.fn(tc.data)
				if err == nil {
					t.Fatalf("%s: no error (file %+v)", parse.name, f)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("%s: %v does not wrap ErrFormat", parse.name, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q\n\tdoes not contain %q", parse.name, err, tc.want)
				}
			}
		})
	}
}

// TestEveryTruncation parses every prefix of a valid file: each must fail
// cleanly (the data section's padding aside, no prefix is a valid file).
func TestEveryTruncation(t *testing.T) {
	data := smallFile(t)
	full, err := OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	last := full.Tensors()[full.NumTensors()-1]
	end := int(full.DataOffset() + last.Offset + last.Size) // bytes after this are padding
	for n := range len(data) {
		f, err := OpenBytes(data[:n])
		if n >= end {
			if err != nil {
				t.Errorf("prefix %d (only padding cut): %v", n, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes parsed: %d tensors", n, len(data), f.NumTensors())
		}
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix %d: %v does not wrap ErrFormat", n, err)
		}
	}
}

// TestParseShortReader checks that a size larger than what the ReaderAt
// holds gives an I/O error, not a hang or a huge allocation.
func TestParseShortReader(t *testing.T) {
	data := smallFile(t)
	f, err := Parse(bytes.NewReader(data[:100]), 1<<40)
	if err == nil {
		t.Fatalf("parsed %d tensors from a short reader", f.NumTensors())
	}
	// A lying size lets huge counts pass the size check; the reader must
	// still fail at the first short read without preallocating for them.
	hostile := cat([]byte(Magic), le32(3), le64(1<<40), le64(1<<40), encStr("k"), le32(uint32(ValueArray)), encArr(ValueString, 1<<40))
	if _, err := Parse(bytes.NewReader(hostile), 1<<50); err == nil {
		t.Fatal("hostile header with a lying size parsed")
	}
	if _, err := Parse(bytes.NewReader(data), -1); err == nil {
		t.Fatal("negative size accepted")
	}
}

func TestTensorTypeTable(t *testing.T) {
	cases := []struct {
		typ        TensorType
		name       string
		block, row int64 // block size, bytes for a 256-element row
	}{
		{TensorF32, "F32", 1, 1024}, {TensorF16, "F16", 1, 512}, {TensorBF16, "BF16", 1, 512},
		{TensorQ4_0, "Q4_0", 32, 144}, {TensorQ4_1, "Q4_1", 32, 160}, {TensorQ5_0, "Q5_0", 32, 176},
		{TensorQ5_1, "Q5_1", 32, 192}, {TensorQ8_0, "Q8_0", 32, 272}, {TensorQ8_1, "Q8_1", 32, 288},
		{TensorQ2_K, "Q2_K", 256, 84}, {TensorQ3_K, "Q3_K", 256, 110}, {TensorQ4_K, "Q4_K", 256, 144},
		{TensorQ5_K, "Q5_K", 256, 176}, {TensorQ6_K, "Q6_K", 256, 210}, {TensorQ8_K, "Q8_K", 256, 292},
		{TensorI8, "I8", 1, 256}, {TensorI16, "I16", 1, 512}, {TensorI32, "I32", 1, 1024},
		{TensorI64, "I64", 1, 2048}, {TensorF64, "F64", 1, 2048},
		{TensorType(4), "TensorType(4)", 0, 0}, {TensorType(1 << 31), "TensorType(2147483648)", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.typ.String() != tc.name || tc.typ.BlockSize() != tc.block || tc.typ.RowSize(256) != tc.row ||
				tc.typ.Known() != (tc.block != 0) {
				t.Fatalf("%s: block %d row %d known %v", tc.typ, tc.typ.BlockSize(), tc.typ.RowSize(256), tc.typ.Known())
			}
		})
	}
	if TensorQ8_0.RowSize(33) != 0 {
		t.Fatal("RowSize of a partial block must be 0")
	}
}
