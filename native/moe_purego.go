//go:build purego || !cgo

package native

import "unsafe"

// cMoEFFN is kiln_moe_ffn, registered with the other entry points.
var cMoEFFN func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer) int32

func bMoEFFN(s *moeShape, gate, up, down, x, pick, weight, y unsafe.Pointer) int32 {
	return cMoEFFN(unsafe.Pointer(s), gate, up, down, x, pick, weight, y)
}
