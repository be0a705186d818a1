package gguf

import (
	"math"
	"slices"
)

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string {
	out := make([]string, len(f.kvs))
	for i, kv := range f.kvs {
		out[i] = kv.Key
	}
	return out
}

// KVs returns every metadata entry in file order. The slices inside array
// values are shared with the File and must not be modified.
func (f *File) KVs() []KV { return slices.Clone(f.kvs) }

// Value returns the raw typed value stored under key. Array data is shared
// with the File and must not be modified.
func (f *File) Value(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.kvs[i].Value, true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Value(key)
	s, ok := v.Data.(string)
	return s, ok
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Value(key)
	b, ok := v.Data.(bool)
	return b, ok
}

// Uint32 returns an integer value of any integer type if it fits in uint32,
// since converters are not consistent about which width they write.
func (f *File) Uint32(key string) (uint32, bool) {
	v, _ := f.Value(key)
	u, ok := asUint64(v.Data)
	if !ok || u > math.MaxUint32 {
		return 0, false
	}
	return uint32(u), true
}

// Uint64 returns an integer value of any type if it is non-negative.
func (f *File) Uint64(key string) (uint64, bool) {
	v, _ := f.Value(key)
	return asUint64(v.Data)
}

// Int returns an integer value of any integer type if it fits in int.
func (f *File) Int(key string) (int, bool) {
	v, _ := f.Value(key)
	i, ok := asInt64(v.Data)
	if !ok || int64(int(i)) != i {
		return 0, false
	}
	return int(i), true
}

// Float32 returns a numeric value (float32, float64 or integer) as float32.
func (f *File) Float32(key string) (float32, bool) {
	v, _ := f.Value(key)
	x, ok := asFloat64(v.Data)
	return float32(x), ok
}

// Float64 returns a numeric value (float32, float64 or integer) as float64.
func (f *File) Float64(key string) (float64, bool) {
	v, _ := f.Value(key)
	return asFloat64(v.Data)
}

// Strings returns a copy of an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Value(key)
	s, ok := v.Data.([]string)
	if !ok {
		return nil, false
	}
	return slices.Clone(s), true
}

// Float32s returns a copy of an array of float32 (or float64, narrowed).
func (f *File) Float32s(key string) ([]float32, bool) {
	v, _ := f.Value(key)
	switch x := v.Data.(type) {
	case []float32:
		return slices.Clone(x), true
	case []float64:
		out := make([]float32, len(x))
		for i, e := range x {
			out[i] = float32(e)
		}
		return out, true
	}
	return nil, false
}

// Int32s returns an integer array of any element type as []int32 if every
// element fits.
func (f *File) Int32s(key string) ([]int32, bool) {
	return narrowInts[int32](f, key, math.MinInt32, math.MaxInt32)
}

// Uint32s returns an integer array of any element type as []uint32 if every
// element fits.
func (f *File) Uint32s(key string) ([]uint32, bool) {
	return narrowInts[uint32](f, key, 0, math.MaxUint32)
}

func narrowInts[T int32 | uint32](f *File, key string, lo, hi int64) ([]T, bool) {
	v, _ := f.Value(key)
	if x, ok := v.Data.([]T); ok {
		return slices.Clone(x), true
	}
	wide, ok := intElems(v.Data)
	if !ok {
		return nil, false
	}
	out := make([]T, len(wide))
	for i, e := range wide {
		if e < lo || e > hi {
			return nil, false
		}
		out[i] = T(e)
	}
	return out, true
}

// KeyArchitecture is the metadata key naming the model architecture.
const KeyArchitecture = "general.architecture"

// Architecture returns general.architecture ("llama", "qwen2", ...), or ""
// if it is missing.
func (f *File) Architecture() string {
	s, _ := f.String(KeyArchitecture)
	return s
}

// ArchKey returns "<architecture>.<suffix>", the key under which
// architecture-specific hyperparameters are stored.
func (f *File) ArchKey(suffix string) string { return f.Architecture() + "." + suffix }

// ArchUint32 reads the integer "<architecture>.<suffix>", e.g. suffix
// "block_count" or "attention.head_count_kv".
func (f *File) ArchUint32(suffix string) (uint32, bool) {
	if f.Architecture() == "" {
		return 0, false
	}
	return f.Uint32(f.ArchKey(suffix))
}

// ArchFloat32 reads the number "<architecture>.<suffix>", e.g. suffix
// "rope.freq_base" or "attention.layer_norm_rms_epsilon".
func (f *File) ArchFloat32(suffix string) (float32, bool) {
	if f.Architecture() == "" {
		return 0, false
	}
	return f.Float32(f.ArchKey(suffix))
}
