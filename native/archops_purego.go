//go:build purego || !cgo

package native

import "unsafe"

// The purego entry points of archops.go, registered with the others.
var (
	cGeGLUTanh    func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64) int32
	cSoftcap      func(unsafe.Pointer, unsafe.Pointer, float32, int64) int32
	cScaleStrided func(unsafe.Pointer, int64, int64, int64, float32) int32
	cAttnWindow   func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int32, int32, float32) int32
)

func bGeGLUTanh(y, g, u unsafe.Pointer, n int64) int32 { return cGeGLUTanh(y, g, u, n) }

func bSoftcap(y, x unsafe.Pointer, cap float32, n int64) int32 { return cSoftcap(y, x, cap, n) }

func bAttnWindow(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, qStart, ctxLens, bt unsafe.Pointer, maxBlocks, window int32, softcap float32) int32 {
	l := kvLayoutC{kvFields: *f, K: kc, V: vc}
	return cAttnWindow(unsafe.Pointer(&l), q, out, nSeq, qStart, ctxLens, bt, maxBlocks, window, softcap)
}

func bScaleStrided(x unsafe.Pointer, rows, stride, n int64, s float32) int32 {
	return cScaleStrided(x, rows, stride, n, s)
}
