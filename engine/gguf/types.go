package gguf

import (
	"fmt"
	"math"
	"math/bits"
)

// ValueType is the type id of a metadata value as stored in the file.
type ValueType uint32

// Metadata value type ids, as defined by the GGUF specification.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	ValueUint8: "uint8", ValueInt8: "int8", ValueUint16: "uint16", ValueInt16: "int16",
	ValueUint32: "uint32", ValueInt32: "int32", ValueFloat32: "float32", ValueBool: "bool",
	ValueString: "string", ValueArray: "array", ValueUint64: "uint64", ValueInt64: "int64",
	ValueFloat64: "float64",
}

// String returns the spec's name for t ("uint32", "array", ...), or
// "ValueType(n)" for an unknown id.
func (t ValueType) String() string {
	if t.Valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// Valid reports whether t is one of the thirteen defined value types.
func (t ValueType) Valid() bool { return t <= ValueFloat64 }

// fixedSize is the encoded size in bytes of a scalar of type t, or 0 for
// strings and arrays, whose size depends on their contents.
func (t ValueType) fixedSize() int64 {
	switch t {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one value of type t can occupy. The reader
// uses it to reject counts that the remaining bytes cannot hold before it
// allocates anything.
func (t ValueType) minSize() int64 {
	switch t {
	case ValueString:
		return 8 // u64 length
	case ValueArray:
		return 12 // u32 elem type + u64 count
	}
	return t.fixedSize()
}

// TensorType is the ggml element type id of a tensor (GGML_TYPE_*).
type TensorType uint32

// Tensor type ids, as in ggml.h. Ids 4, 5 and 31–33, 36–38 were retired by
// ggml and are unknown here.
const (
	TensorF32     TensorType = 0
	TensorF16     TensorType = 1
	TensorQ4_0    TensorType = 2
	TensorQ4_1    TensorType = 3
	TensorQ5_0    TensorType = 6
	TensorQ5_1    TensorType = 7
	TensorQ8_0    TensorType = 8
	TensorQ8_1    TensorType = 9
	TensorQ2_K    TensorType = 10
	TensorQ3_K    TensorType = 11
	TensorQ4_K    TensorType = 12
	TensorQ5_K    TensorType = 13
	TensorQ6_K    TensorType = 14
	TensorQ8_K    TensorType = 15
	TensorIQ2_XXS TensorType = 16
	TensorIQ2_XS  TensorType = 17
	TensorIQ3_XXS TensorType = 18
	TensorIQ1_S   TensorType = 19
	TensorIQ4_NL  TensorType = 20
	TensorIQ3_S   TensorType = 21
	TensorIQ2_S   TensorType = 22
	TensorIQ4_XS  TensorType = 23
	TensorI8      TensorType = 24
	TensorI16     TensorType = 25
	TensorI32     TensorType = 26
	TensorI64     TensorType = 27
	TensorF64     TensorType = 28
	TensorIQ1_M   TensorType = 29
	TensorBF16    TensorType = 30
	TensorTQ1_0   TensorType = 34
	TensorTQ2_0   TensorType = 35
	TensorMXFP4   TensorType = 39
)

// typeTraits is one row of the ggml type table: elements per block and the
// bytes one block occupies (sizeof(block_xxx) in ggml-common.h).
type typeTraits struct {
	name      string
	blockSize int64
	typeSize  int64
}

// tensorTypes is indexed by TensorType; rows with blockSize 0 are unknown ids.
var tensorTypes = [...]typeTraits{
	TensorF32:     {"F32", 1, 4},
	TensorF16:     {"F16", 1, 2},
	TensorQ4_0:    {"Q4_0", 32, 18},
	TensorQ4_1:    {"Q4_1", 32, 20},
	TensorQ5_0:    {"Q5_0", 32, 22},
	TensorQ5_1:    {"Q5_1", 32, 24},
	TensorQ8_0:    {"Q8_0", 32, 34},
	TensorQ8_1:    {"Q8_1", 32, 36},
	TensorQ2_K:    {"Q2_K", 256, 84},
	TensorQ3_K:    {"Q3_K", 256, 110},
	TensorQ4_K:    {"Q4_K", 256, 144},
	TensorQ5_K:    {"Q5_K", 256, 176},
	TensorQ6_K:    {"Q6_K", 256, 210},
	TensorQ8_K:    {"Q8_K", 256, 292},
	TensorIQ2_XXS: {"IQ2_XXS", 256, 66},
	TensorIQ2_XS:  {"IQ2_XS", 256, 74},
	TensorIQ3_XXS: {"IQ3_XXS", 256, 98},
	TensorIQ1_S:   {"IQ1_S", 256, 50},
	TensorIQ4_NL:  {"IQ4_NL", 32, 18},
	TensorIQ3_S:   {"IQ3_S", 256, 110},
	TensorIQ2_S:   {"IQ2_S", 256, 82},
	TensorIQ4_XS:  {"IQ4_XS", 256, 136},
	TensorI8:      {"I8", 1, 1},
	TensorI16:     {"I16", 1, 2},
	TensorI32:     {"I32", 1, 4},
	TensorI64:     {"I64", 1, 8},
	TensorF64:     {"F64", 1, 8},
	TensorIQ1_M:   {"IQ1_M", 256, 56},
	TensorBF16:    {"BF16", 1, 2},
	TensorTQ1_0:   {"TQ1_0", 256, 54},
	TensorTQ2_0:   {"TQ2_0", 256, 66},
	TensorMXFP4:   {"MXFP4", 32, 17},
}

func (t TensorType) traits() (typeTraits, bool) {
	if uint64(t) >= uint64(len(tensorTypes)) || tensorTypes[t].blockSize == 0 {
		return typeTraits{}, false
	}
	return tensorTypes[t], true
}

// Known reports whether t is a type this package can size.
func (t TensorType) Known() bool {
	_, ok := t.traits()
	return ok
}

// String returns ggml's name for t ("Q8_0"), or "TensorType(n)" if unknown.
func (t TensorType) String() string {
	if tr, ok := t.traits(); ok {
		return tr.name
	}
	return fmt.Sprintf("TensorType(%d)", uint32(t))
}

// BlockSize is the number of elements in one block of t (1 for plain types,
// 32 or 256 for quantized ones), or 0 if t is unknown.
func (t TensorType) BlockSize() int64 {
	tr, _ := t.traits()
	return tr.blockSize
}

// TypeSize is the number of bytes in one block of t, or 0 if t is unknown.
func (t TensorType) TypeSize() int64 {
	tr, _ := t.traits()
	return tr.typeSize
}

// RowSize is the number of bytes n elements of t occupy, n being a
// multiple of BlockSize (a row of a weight matrix); it returns 0 if t is
// unknown or n is not a whole number of blocks.
func (t TensorType) RowSize(n int64) int64 {
	tr, ok := t.traits()
	if !ok || n < 0 || n%tr.blockSize != 0 {
		return 0
	}
	return n / tr.blockSize * tr.typeSize
}

// shapeSize validates a tensor shape (ggml order, ne[0] contiguous) for type
// t and returns its element count and byte size. It rejects more than four
// dims, dims < 1, element counts or byte sizes that overflow int64, and rows
// that are not a whole number of blocks.
func shapeSize(t TensorType, shape []int64) (elems, size int64, err error) {
	tr, ok := t.traits()
	if !ok {
		return 0, 0, fmt.Errorf("unknown tensor type %d", uint32(t))
	}
	if len(shape) > MaxDims {
		return 0, 0, fmt.Errorf("%d dims, at most %d allowed", len(shape), MaxDims)
	}
	elems = 1
	for i, d := range shape {
		if d < 1 {
			return 0, 0, fmt.Errorf("dim %d is %d, must be at least 1", i, d)
		}
		hi, lo := bits.Mul64(uint64(elems), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, 0, fmt.Errorf("element count of shape %v overflows int64", shape)
		}
		elems = int64(lo)
	}
	ne0 := int64(1)
	if len(shape) > 0 {
		ne0 = shape[0]
	}
	if ne0%tr.blockSize != 0 {
		return 0, 0, fmt.Errorf("row length %d is not a multiple of the %s block size %d", ne0, tr.name, tr.blockSize)
	}
	blocks := elems / tr.blockSize
	hi, lo := bits.Mul64(uint64(blocks), uint64(tr.typeSize))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, 0, fmt.Errorf("byte size of shape %v overflows int64", shape)
	}
	return elems, int64(lo), nil
}

// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
const MaxDims = 4
