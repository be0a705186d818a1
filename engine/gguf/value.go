package gguf

import (
	"fmt"
	"math"
)

// Value is one metadata value: its GGUF type and the Go value holding it.
//
// Data holds, by Type: uint8, int8, uint16, int16, uint32, int32, float32,
// bool, string, uint64, int64 or float64 for scalars. For ValueArray, Elem is
// the element type and Data is the matching slice ([]uint8 ... []float64,
// []bool, []string), or []Value when the elements are themselves arrays.
type Value struct {
	Type ValueType
	Elem ValueType
	Data any
}

// KV is one metadata entry, in file order.
type KV struct {
	Key   string
	Value Value
}

// ValueOf wraps a Go value as a Value, choosing the GGUF type from the Go
// type: the fixed-size integer and float types, bool, string, slices of
// those, []Value (an array of arrays) and Value itself. Plain int and uint
// are rejected because their width would be ambiguous on disk.
func ValueOf(v any) (Value, error) {
	switch x := v.(type) {
	case Value:
		return x, x.check(0)
	case uint8:
		return Value{Type: ValueUint8, Data: x}, nil
	case int8:
		return Value{Type: ValueInt8, Data: x}, nil
	case uint16:
		return Value{Type: ValueUint16, Data: x}, nil
	case int16:
		return Value{Type: ValueInt16, Data: x}, nil
	case uint32:
		return Value{Type: ValueUint32, Data: x}, nil
	case int32:
		return Value{Type: ValueInt32, Data: x}, nil
	case float32:
		return Value{Type: ValueFloat32, Data: x}, nil
	case bool:
		return Value{Type: ValueBool, Data: x}, nil
	case string:
		return Value{Type: ValueString, Data: x}, nil
	case uint64:
		return Value{Type: ValueUint64, Data: x}, nil
	case int64:
		return Value{Type: ValueInt64, Data: x}, nil
	case float64:
		return Value{Type: ValueFloat64, Data: x}, nil
	case []uint8:
		return arrayOf(ValueUint8, x), nil
	case []int8:
		return arrayOf(ValueInt8, x), nil
	case []uint16:
		return arrayOf(ValueUint16, x), nil
	case []int16:
		return arrayOf(ValueInt16, x), nil
	case []uint32:
		return arrayOf(ValueUint32, x), nil
	case []int32:
		return arrayOf(ValueInt32, x), nil
	case []float32:
		return arrayOf(ValueFloat32, x), nil
	case []bool:
		return arrayOf(ValueBool, x), nil
	case []string:
		return arrayOf(ValueString, x), nil
	case []uint64:
		return arrayOf(ValueUint64, x), nil
	case []int64:
		return arrayOf(ValueInt64, x), nil
	case []float64:
		return arrayOf(ValueFloat64, x), nil
	case []Value:
		a := arrayOf(ValueArray, x)
		return a, a.check(0)
	}
	return Value{}, fmt.Errorf("gguf: no GGUF type for Go type %T", v)
}

func arrayOf[T any](elem ValueType, s []T) Value {
	if s == nil {
		s = []T{}
	}
	return Value{Type: ValueArray, Elem: elem, Data: s}
}

// maxDepth bounds how deeply arrays may nest, in files and in the writer.
// llama.cpp itself rejects nested arrays; one level of nesting is what
// real files could ever use, and the bound keeps recursion shallow.
const maxDepth = 8

// check verifies that Data has the Go type Type (and Elem) promise, so the
// writer can encode it without a type switch failing halfway through.
func (v Value) check(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("gguf: arrays nested deeper than %d", maxDepth)
	}
	var ok bool
	switch v.Type {
	case ValueUint8:
		_, ok = v.Data.(uint8)
	case ValueInt8:
		_, ok = v.Data.(int8)
	case ValueUint16:
		_, ok = v.Data.(uint16)
	case ValueInt16:
		_, ok = v.Data.(int16)
	case ValueUint32:
		_, ok = v.Data.(uint32)
	case ValueInt32:
		_, ok = v.Data.(int32)
	case ValueFloat32:
		_, ok = v.Data.(float32)
	case ValueBool:
		_, ok = v.Data.(bool)
	case ValueString:
		_, ok = v.Data.(string)
	case ValueUint64:
		_, ok = v.Data.(uint64)
	case ValueInt64:
		_, ok = v.Data.(int64)
	case ValueFloat64:
		_, ok = v.Data.(float64)
	case ValueArray:
		if v.Elem == ValueArray {
			var elems []Value
			elems, ok = v.Data.([]Value)
			for _, e := range elems {
				if e.Type != ValueArray {
					return fmt.Errorf("gguf: array of arrays holds a %s", e.Type)
				}
				if err := e.check(depth + 1); err != nil {
					return err
				}
			}
		} else {
			ok = sliceOf(v.Elem, v.Data)
		}
	default:
		return fmt.Errorf("gguf: unknown value type %d", uint32(v.Type))
	}
	if !ok {
		return fmt.Errorf("gguf: value of type %s (elem %s) holds Go %T", v.Type, v.Elem, v.Data)
	}
	return nil
}

// sliceOf reports whether data is the Go slice type for elements of type t.
func sliceOf(t ValueType, data any) bool {
	switch data.(type) {
	case []uint8:
		return t == ValueUint8
	case []int8:
		return t == ValueInt8
	case []uint16:
		return t == ValueUint16
	case []int16:
		return t == ValueInt16
	case []uint32:
		return t == ValueUint32
	case []int32:
		return t == ValueInt32
	case []float32:
		return t == ValueFloat32
	case []bool:
		return t == ValueBool
	case []string:
		return t == ValueString
	case []uint64:
		return t == ValueUint64
	case []int64:
		return t == ValueInt64
	case []float64:
		return t == ValueFloat64
	}
	return false
}

// Len returns the number of elements of an array value, or 0 for scalars.
func (v Value) Len() int {
	switch x := v.Data.(type) {
	case []uint8:
		return len(x)
	case []int8:
		return len(x)
	case []uint16:
		return len(x)
	case []int16:
		return len(x)
	case []uint32:
		return len(x)
	case []int32:
		return len(x)
	case []float32:
		return len(x)
	case []bool:
		return len(x)
	case []string:
		return len(x)
	case []uint64:
		return len(x)
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []Value:
		return len(x)
	}
	return 0
}

// asInt64 converts an integer scalar to int64 if it fits.
func asInt64(d any) (int64, bool) {
	switch x := d.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// asUint64 converts a non-negative integer scalar to uint64.
func asUint64(d any) (uint64, bool) {
	if x, ok := d.(uint64); ok {
		return x, true
	}
	i, ok := asInt64(d)
	if !ok || i < 0 {
		return 0, false
	}
	return uint64(i), true
}

// asFloat64 converts any numeric scalar to float64.
func asFloat64(d any) (float64, bool) {
	switch x := d.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case uint64:
		return float64(x), true
	}
	i, ok := asInt64(d)
	return float64(i), ok
}

// intElems converts an integer array to []int64, so the typed slice
// accessors can range-check every element before narrowing it.
func intElems(data any) ([]int64, bool) {
	switch x := data.(type) {
	case []uint8:
		return widen(x), true
	case []int8:
		return widen(x), true
	case []uint16:
		return widen(x), true
	case []int16:
		return widen(x), true
	case []uint32:
		return widen(x), true
	case []int32:
		return widen(x), true
	case []int64:
		return x, true
	case []uint64:
		for _, e := range x {
			if e > math.MaxInt64 {
				return nil, false
			}
		}
		return widen(x), true
	}
	return nil, false
}

func widen[T uint8 | int8 | uint16 | int16 | uint32 | int32 | uint64](x []T) []int64 {
	out := make([]int64, len(x))
	for i, e := range x {
		out[i] = int64(e)
	}
	return out
}
