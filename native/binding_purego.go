//go:build purego || !cgo

package native

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Binding is the name of the binding compiled into this build.
const Binding = "purego"

// LibraryEnv names the environment variable that points at libkiln.so.
const LibraryEnv = "KILN_KERNELS_LIB"

// kvLayoutC mirrors kiln_kv_layout exactly (kvFields is its 32-byte head).
type kvLayoutC struct {
	kvFields
	K, V unsafe.Pointer
}

var (
	loadOnce sync.Once
	loadErr  error

	cInit         func(int32) int32
	cShutdown     func()
	cThreads      func() int32
	cCPUFeatures  func() uint32
	cISASupported func(int32) int32
	cGetISA       func() int32
	cSetISA       func(int32) int32
	cVersion      func() string
	cPoolCreate   func(int32, unsafe.Pointer, int32) uintptr
	cPoolDestroy  func(uintptr)
	cPoolBind     func(uintptr) int32
	cParallelPeak func(int32) int32
	cKernelCount  func() int32
	cKernelName   func(int32) string
	cISAWhyNot    func(int32) string
	cKernelVar    func(int32) string
	cStrerror     func(int32) string
	cMatmul       func(int32, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64, int64, int64) int32
	cMatmulMulti  func(unsafe.Pointer, int64, int64, unsafe.Pointer, int32) int32
	cQuantizeQ8   func(unsafe.Pointer, unsafe.Pointer, int64) int32
	cDequantize   func(int32, unsafe.Pointer, unsafe.Pointer, int64) int32
	cQuantize     func(int32, unsafe.Pointer, unsafe.Pointer, int64, int64) int32
	cQuantizeOK   func(int32) int32
	cRepackType   func(int32) int32
	cRepack       func(int32, unsafe.Pointer, int64, int64, unsafe.Pointer) int32
	cF16ToF32     func(unsafe.Pointer, unsafe.Pointer, int64) int32
	cBF16ToF32    func(unsafe.Pointer, unsafe.Pointer, int64) int32
	cF32ToF16     func(unsafe.Pointer, unsafe.Pointer, int64) int32
	cF32ToBF16    func(unsafe.Pointer, unsafe.Pointer, int64) int32
	cRMSNorm      func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64, int64, float32) int32
	cSoftmax      func(unsafe.Pointer, unsafe.Pointer, int64, int64) int32
	cSwiGLU       func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64) int32
	cAdd          func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64) int32
	cScale        func(unsafe.Pointer, unsafe.Pointer, float32, int64) int32
	cRoPE         func(unsafe.Pointer, unsafe.Pointer, int64, int32, int32, int32, int32, float32, float32, unsafe.Pointer) int32
	cGetRows      func(int32, unsafe.Pointer, int64, int64, unsafe.Pointer, int64, unsafe.Pointer) int32
	cKVStore      func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64) int32
	cAttnDecode   func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64, unsafe.Pointer, int32, unsafe.Pointer) int32
	cAttnPrefill  func(unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int64, unsafe.Pointer, unsafe.Pointer, unsafe.Pointer, int32) int32
	cProbeBW      func(uint64, int32, int32, unsafe.Pointer) int32
	cProbeFMA     func(int32, float64, unsafe.Pointer) int32
	cProbeInt8    func(int32, float64, unsafe.Pointer) int32
	cProbeBF16    func(int32, float64, unsafe.Pointer) int32
)

// libraryCandidates lists where libkiln.so may be: $KILN_KERNELS_LIB, then
// beside the executable.
func libraryCandidates() []string {
	var c []string
	if p := os.Getenv(LibraryEnv); p != "" {
		c = append(c, p)
	}
	if exe, err := os.Executable(); err == nil {
		c = append(c, filepath.Join(filepath.Dir(exe), "libkiln.so"))
	}
	return c
}

// load dlopens libkiln.so once and binds every symbol; its error is returned
// by every later call, so a missing library is an error, never a panic.
func load() error {
	loadOnce.Do(func() { loadErr = loadLibrary() })
	return loadErr
}

func loadLibrary() error {
	var lib uintptr
	var tried []string
	for _, path := range libraryCandidates() {
		h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			lib = h
			break
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", path, err))
	}
	if lib == 0 {
		return fmt.Errorf("%w: set %s to the path of libkiln.so; tried %v", ErrLibrary, LibraryEnv, tried)
	}
	syms := []struct {
		fn   any
		name string
	}{
		{&cInit, "kiln_init"}, {&cShutdown, "kiln_shutdown"}, {&cThreads, "kiln_threads"},
		{&cCPUFeatures, "kiln_cpu_features"}, {&cISASupported, "kiln_isa_supported"},
		{&cGetISA, "kiln_get_isa"}, {&cSetISA, "kiln_set_isa"}, {&cVersion, "kiln_version"},
		{&cKernelCount, "kiln_kernel_count"}, {&cKernelName, "kiln_kernel_name"}, {&cKernelVar, "kiln_kernel_variant"},
		{&cISAWhyNot, "kiln_isa_unsupported_reason"},
		{&cStrerror, "kiln_strerror"}, {&cMatmul, "kiln_matmul"}, {&cMatmulMulti, "kiln_matmul_multi"},
		{&cQuantizeQ8, "kiln_quantize_q8_0"}, {&cQuantize, "kiln_quantize"}, {&cQuantizeOK, "kiln_quantize_supported"},
		{&cRepackType, "kiln_repack_type"}, {&cRepack, "kiln_repack"},
		{&cDequantize, "kiln_dequantize"}, {&cF16ToF32, "kiln_f16_to_f32"}, {&cBF16ToF32, "kiln_bf16_to_f32"},
		{&cF32ToF16, "kiln_f32_to_f16"}, {&cF32ToBF16, "kiln_f32_to_bf16"}, {&cRMSNorm, "kiln_rmsnorm"},
		{&cSoftmax, "kiln_softmax"}, {&cSwiGLU, "kiln_swiglu"}, {&cAdd, "kiln_add"}, {&cScale, "kiln_scale"},
		{&cRoPE, "kiln_rope"}, {&cGetRows, "kiln_get_rows"}, {&cKVStore, "kiln_kv_store"},
		{&cAttnDecode, "kiln_attn_decode"}, {&cAttnPrefill, "kiln_attn_prefill"},
		{&cProbeBW, "kiln_probe_read_bandwidth"}, {&cProbeFMA, "kiln_probe_fma_peak"},
		{&cProbeInt8, "kiln_probe_int8_peak"}, {&cProbeBF16, "kiln_probe_bf16_peak"},
		{&cGeGLUTanh, "kiln_geglu_tanh"}, {&cSoftcap, "kiln_softcap"}, {&cAttnWindow, "kiln_attn_window"},
		{&cScaleStrided, "kiln_scale_strided"}, {&cMoEFFN, "kiln_moe_ffn"},
		{&cPoolCreate, "kiln_pool_create"}, {&cPoolDestroy, "kiln_pool_destroy"},
		{&cPoolBind, "kiln_pool_bind"}, {&cParallelPeak, "kiln_parallel_peak"},
	}
	for _, s := range syms {
		if _, err := purego.Dlsym(lib, s.name); err != nil {
			return fmt.Errorf("%w: symbol %s: %v", ErrLibrary, s.name, err)
		}
		purego.RegisterLibFunc(s.fn, lib, s.name)
	}
	return nil
}

func bInit(n int32) int32         { return cInit(n) }
func bShutdown()                  { cShutdown() }
func bThreads() int32             { return cThreads() }
func bCPUFeatures() uint32        { return cCPUFeatures() }
func bISASupported(i int32) int32 { return cISASupported(i) }
func bGetISA() int32              { return cGetISA() }
func bSetISA(i int32) int32       { return cSetISA(i) }
func bVersion() string            { return cVersion() }

// poolHandle is a kiln_pool owned by the C library (its address).
type poolHandle = uintptr

func bPoolCreate(n int32, cpus unsafe.Pointer, ncpus int32) (poolHandle, bool) {
	h := cPoolCreate(n, cpus, ncpus)
	return h, h != 0
}
func bPoolDestroy(h poolHandle)            { cPoolDestroy(h) }
func bPoolBind(h poolHandle) int32         { return cPoolBind(h) }
func bPoolUnbind()                         { cPoolBind(0) }
func bParallelPeak(reset int32) int32      { return cParallelPeak(reset) }
func bKernelCount() int32                  { return cKernelCount() }
func bKernelName(i int32) string           { return cKernelName(i) }
func bISAUnsupportedReason(i int32) string { return cISAWhyNot(i) }
func bKernelVariant(i int32) string {
	return cKernelVar(i)
}
func bStrerror(s int32) string { return cStrerror(s) }

func bMatmul(t int32, w, x, y unsafe.Pointer, m, n, k int64) int32 {
	return cMatmul(t, w, x, y, m, n, k)
}

// matmulOutC mirrors kiln_matmul_out.
type matmulOutC struct {
	WType int32
	_     int32
	W, Y  unsafe.Pointer
	N     int64
}

func bMatmulMulti(x unsafe.Pointer, m, k int64, outs []MatOut) int32 {
	var o [MaxMatOuts]matmulOutC
	for i, v := range outs {
		o[i] = matmulOutC{WType: int32(v.Type), W: ptr(v.W), Y: ptr(v.Y), N: int64(v.N)}
	}
	return cMatmulMulti(x, m, k, unsafe.Pointer(&o[0]), int32(len(outs)))
}
func bQuantizeQ8(x, y unsafe.Pointer, n int64) int32 { return cQuantizeQ8(x, y, n) }
func bRepackType(t int32) int32                      { return cRepackType(t) }
func bRepack(t int32, w unsafe.Pointer, n, k int64, out unsafe.Pointer) int32 {
	return cRepack(t, w, n, k, out)
}
func bDequantize(t int32, x, y unsafe.Pointer, n int64) int32 { return cDequantize(t, x, y, n) }
func bQuantize(t int32, x, y unsafe.Pointer, rows, perRow int64) int32 {
	return cQuantize(t, x, y, rows, perRow)
}
func bQuantizeSupported(t int32) bool               { return cQuantizeOK(t) != 0 }
func bF16ToF32(x, y unsafe.Pointer, n int64) int32  { return cF16ToF32(x, y, n) }
func bBF16ToF32(x, y unsafe.Pointer, n int64) int32 { return cBF16ToF32(x, y, n) }
func bF32ToF16(x, y unsafe.Pointer, n int64) int32  { return cF32ToF16(x, y, n) }
func bF32ToBF16(x, y unsafe.Pointer, n int64) int32 { return cF32ToBF16(x, y, n) }
func bRMSNorm(y, x, w unsafe.Pointer, m, n int64, eps float32) int32 {
	return cRMSNorm(y, x, w, m, n, eps)
}
func bSoftmax(y, x unsafe.Pointer, m, n int64) int32       { return cSoftmax(y, x, m, n) }
func bSwiGLU(y, g, u unsafe.Pointer, n int64) int32        { return cSwiGLU(y, g, u, n) }
func bAdd(y, a, b unsafe.Pointer, n int64) int32           { return cAdd(y, a, b, n) }
func bScale(y, x unsafe.Pointer, s float32, n int64) int32 { return cScale(y, x, s, n) }
func bRoPE(x, pos unsafe.Pointer, m int64, nHeads, headDim, dims, mode int32, base, scale float32, ff unsafe.Pointer) int32 {
	return cRoPE(x, pos, m, nHeads, headDim, dims, mode, base, scale, ff)
}
func bGetRows(t int32, table unsafe.Pointer, nRows, k int64, ids unsafe.Pointer, nIDs int64, y unsafe.Pointer) int32 {
	return cGetRows(t, table, nRows, k, ids, nIDs, y)
}

func bKVStore(f *kvFields, kc, vc, k, v, slots unsafe.Pointer, n int64) int32 {
	l := kvLayoutC{kvFields: *f, K: kc, V: vc}
	return cKVStore(unsafe.Pointer(&l), k, v, slots, n)
}

func bAttnDecode(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, bt unsafe.Pointer, maxBlocks int32, lens unsafe.Pointer) int32 {
	l := kvLayoutC{kvFields: *f, K: kc, V: vc}
	return cAttnDecode(unsafe.Pointer(&l), q, out, nSeq, bt, maxBlocks, lens)
}

func bAttnPrefill(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, qStart, ctxLens, bt unsafe.Pointer, maxBlocks int32) int32 {
	l := kvLayoutC{kvFields: *f, K: kc, V: vc}
	return cAttnPrefill(unsafe.Pointer(&l), q, out, nSeq, qStart, ctxLens, bt, maxBlocks)
}

func bProbeBandwidth(bytes uint64, threads, reps int32, out *float64) int32 {
	return cProbeBW(bytes, threads, reps, unsafe.Pointer(out))
}

func bProbeFMA(threads int32, seconds float64, out *float64) int32 {
	return cProbeFMA(threads, seconds, unsafe.Pointer(out))
}

func bProbeInt8(threads int32, seconds float64, out *float64) int32 {
	return cProbeInt8(threads, seconds, unsafe.Pointer(out))
}

func bProbeBF16(threads int32, seconds float64, out *float64) int32 {
	return cProbeBF16(threads, seconds, unsafe.Pointer(out))
}
