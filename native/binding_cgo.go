//go:build cgo && !purego

package native

/*
#cgo CFLAGS: -O3 -D_GNU_SOURCE -std=gnu11 -I${SRCDIR}/../csrc/include -I${SRCDIR}/../csrc
#cgo LDFLAGS: -lpthread -lm
#include <stdlib.h>
#include "kiln.h"

// kv_fields mirrors native.kvFields: the pointer-free head of kiln_kv_layout.
// It travels by value (a pointer to it would make every call allocate) and
// the pools as separate arguments, because cgo forbids passing Go memory
// that itself holds Go pointers.
typedef struct {
	int32_t n_head, n_head_kv, head_dim, block_size, kv_type, n_blocks;
	float scale;
	int32_t pad;
} kv_fields;

static kiln_kv_layout kv_layout(kv_fields f, void *k, void *v) {
	kiln_kv_layout l = {
		.n_head = f.n_head, .n_head_kv = f.n_head_kv, .head_dim = f.head_dim,
		.block_size = f.block_size, .kv_type = f.kv_type, .n_blocks = f.n_blocks,
		.scale = f.scale, .k_cache = k, .v_cache = v,
	};
	return l;
}

static int kv_store_w(kv_fields f, void *kc, void *vc, const float *k, const float *v,
                      const int32_t *slots, int64_t n) {
	kiln_kv_layout l = kv_layout(f, kc, vc);
	return kiln_kv_store(&l, k, v, slots, n);
}

static int attn_decode_w(kv_fields f, void *kc, void *vc, const float *q, float *out,
                         int64_t n_seq, const int32_t *bt, int max_blocks, const int32_t *lens) {
	kiln_kv_layout l = kv_layout(f, kc, vc);
	return kiln_attn_decode(&l, q, out, n_seq, bt, max_blocks, lens);
}

// matmul_multi_w takes the outputs as separate arguments: cgo forbids
// passing Go memory (an array of outputs) that holds Go pointers (the Ys).
static int matmul_multi_w(const float *x, int64_t m, int64_t k, int count,
                          int t0, const void *w0, float *y0, int64_t n0,
                          int t1, const void *w1, float *y1, int64_t n1,
                          int t2, const void *w2, float *y2, int64_t n2,
                          int t3, const void *w3, float *y3, int64_t n3) {
	const kiln_matmul_out o[4] = {
		{.wtype = t0, .w = w0, .y = y0, .n = n0}, {.wtype = t1, .w = w1, .y = y1, .n = n1},
		{.wtype = t2, .w = w2, .y = y2, .n = n2}, {.wtype = t3, .w = w3, .y = y3, .n = n3},
	};
	return kiln_matmul_multi(x, m, k, o, count);
}

static int attn_prefill_w(kv_fields f, void *kc, void *vc, const float *q, float *out,
                          int64_t n_seq, const int32_t *q_start, const int32_t *ctx_lens,
                          const int32_t *bt, int max_blocks) {
	kiln_kv_layout l = kv_layout(f, kc, vc);
	return kiln_attn_prefill(&l, q, out, n_seq, q_start, ctx_lens, bt, max_blocks);
}
*/
import "C"

import "unsafe"

// Binding is the name of the binding compiled into this build.
const Binding = "cgo"

// load is a no-op: cgo links the kernels into the binary.
func load() error { return nil }

func bInit(n int32) int32         { return int32(C.kiln_init(C.int(n))) }
func bShutdown()                  { C.kiln_shutdown() }
func bThreads() int32             { return int32(C.kiln_threads()) }
func bCPUFeatures() uint32        { return uint32(C.kiln_cpu_features()) }
func bISASupported(i int32) int32 { return int32(C.kiln_isa_supported(C.int(i))) }
func bGetISA() int32              { return int32(C.kiln_get_isa()) }
func bSetISA(i int32) int32       { return int32(C.kiln_set_isa(C.int(i))) }
func bVersion() string            { return C.GoString(C.kiln_version()) }

// poolHandle is a kiln_pool owned by the C library.
type poolHandle = *C.kiln_pool

func bPoolCreate(n int32, cpus unsafe.Pointer, ncpus int32) (poolHandle, bool) {
	h := C.kiln_pool_create(C.int(n), (*C.int)(cpus), C.int(ncpus))
	return h, h != nil
}
func bPoolDestroy(h poolHandle)       { C.kiln_pool_destroy(h) }
func bPoolBind(h poolHandle) int32    { return int32(C.kiln_pool_bind(h)) }
func bPoolUnbind()                    { C.kiln_pool_bind(nil) }
func bParallelPeak(reset int32) int32 { return int32(C.kiln_parallel_peak(C.int(reset))) }
func bStrerror(s int32) string        { return C.GoString(C.kiln_strerror(C.int(s))) }
func bKernelCount() int32             { return int32(C.kiln_kernel_count()) }
func bKernelName(i int32) string      { return C.GoString(C.kiln_kernel_name(C.int(i))) }
func bISAUnsupportedReason(i int32) string {
	return C.GoString(C.kiln_isa_unsupported_reason(C.int(i)))
}
func bKernelVariant(i int32) string {
	return C.GoString(C.kiln_kernel_variant(C.int(i)))
}

func bMatmul(t int32, w, x, y unsafe.Pointer, m, n, k int64) int32 {
	return int32(C.kiln_matmul(C.int(t), w, (*C.float)(x), (*C.float)(y), C.int64_t(m), C.int64_t(n), C.int64_t(k)))
}

func bMatmulMulti(x unsafe.Pointer, m, k int64, outs []MatOut) int32 {
	var o [MaxMatOuts]MatOut
	copy(o[:], outs)
	return int32(C.matmul_multi_w((*C.float)(x), C.int64_t(m), C.int64_t(k), C.int(len(outs)),
		C.int(o[0].Type), ptr(o[0].W), (*C.float)(ptr(o[0].Y)), C.int64_t(o[0].N),
		C.int(o[1].Type), ptr(o[1].W), (*C.float)(ptr(o[1].Y)), C.int64_t(o[1].N),
		C.int(o[2].Type), ptr(o[2].W), (*C.float)(ptr(o[2].Y)), C.int64_t(o[2].N),
		C.int(o[3].Type), ptr(o[3].W), (*C.float)(ptr(o[3].Y)), C.int64_t(o[3].N)))
}

func bQuantizeQ8(x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_quantize_q8_0((*C.float)(x), y, C.int64_t(n)))
}

func bQuantize(t int32, x, y unsafe.Pointer, rows, perRow int64) int32 {
	return int32(C.kiln_quantize(C.int(t), (*C.float)(x), y, C.int64_t(rows), C.int64_t(perRow)))
}

func bRepackType(t int32) int32 { return int32(C.kiln_repack_type(C.int(t))) }

func bRepack(t int32, w unsafe.Pointer, n, k int64, out unsafe.Pointer) int32 {
	return int32(C.kiln_repack(C.int(t), w, C.int64_t(n), C.int64_t(k), out))
}

func bQuantizeSupported(t int32) bool { return C.kiln_quantize_supported(C.int(t)) != 0 }

func bDequantize(t int32, x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_dequantize(C.int(t), x, (*C.float)(y), C.int64_t(n)))
}

func bF16ToF32(x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_f16_to_f32((*C.uint16_t)(x), (*C.float)(y), C.int64_t(n)))
}

func bBF16ToF32(x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_bf16_to_f32((*C.uint16_t)(x), (*C.float)(y), C.int64_t(n)))
}

func bF32ToF16(x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_f32_to_f16((*C.float)(x), (*C.uint16_t)(y), C.int64_t(n)))
}

func bF32ToBF16(x, y unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_f32_to_bf16((*C.float)(x), (*C.uint16_t)(y), C.int64_t(n)))
}

func bRMSNorm(y, x, w unsafe.Pointer, m, n int64, eps float32) int32 {
	return int32(C.kiln_rmsnorm((*C.float)(y), (*C.float)(x), (*C.float)(w), C.int64_t(m), C.int64_t(n), C.float(eps)))
}

func bSoftmax(y, x unsafe.Pointer, m, n int64) int32 {
	return int32(C.kiln_softmax((*C.float)(y), (*C.float)(x), C.int64_t(m), C.int64_t(n)))
}

func bSwiGLU(y, g, u unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_swiglu((*C.float)(y), (*C.float)(g), (*C.float)(u), C.int64_t(n)))
}

func bAdd(y, a, b unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_add((*C.float)(y), (*C.float)(a), (*C.float)(b), C.int64_t(n)))
}

func bScale(y, x unsafe.Pointer, s float32, n int64) int32 {
	return int32(C.kiln_scale((*C.float)(y), (*C.float)(x), C.float(s), C.int64_t(n)))
}

func bRoPE(x, pos unsafe.Pointer, m int64, nHeads, headDim, dims, mode int32, base, scale float32, ff unsafe.Pointer) int32 {
	return int32(C.kiln_rope((*C.float)(x), (*C.int32_t)(pos), C.int64_t(m), C.int(nHeads), C.int(headDim),
		C.int(dims), C.int(mode), C.float(base), C.float(scale), (*C.float)(ff)))
}

func bGetRows(t int32, table unsafe.Pointer, nRows, k int64, ids unsafe.Pointer, nIDs int64, y unsafe.Pointer) int32 {
	return int32(C.kiln_get_rows(C.int(t), table, C.int64_t(nRows), C.int64_t(k), (*C.int32_t)(ids), C.int64_t(nIDs), (*C.float)(y)))
}

func bKVStore(f *kvFields, kc, vc, k, v, slots unsafe.Pointer, n int64) int32 {
	return int32(C.kv_store_w(*(*C.kv_fields)(unsafe.Pointer(f)), kc, vc, (*C.float)(k), (*C.float)(v), (*C.int32_t)(slots), C.int64_t(n)))
}

func bAttnDecode(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, bt unsafe.Pointer, maxBlocks int32, lens unsafe.Pointer) int32 {
	return int32(C.attn_decode_w(*(*C.kv_fields)(unsafe.Pointer(f)), kc, vc, (*C.float)(q), (*C.float)(out), C.int64_t(nSeq),
		(*C.int32_t)(bt), C.int(maxBlocks), (*C.int32_t)(lens)))
}

func bAttnPrefill(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, qStart, ctxLens, bt unsafe.Pointer, maxBlocks int32) int32 {
	return int32(C.attn_prefill_w(*(*C.kv_fields)(unsafe.Pointer(f)), kc, vc, (*C.float)(q), (*C.float)(out), C.int64_t(nSeq),
		(*C.int32_t)(qStart), (*C.int32_t)(ctxLens), (*C.int32_t)(bt), C.int(maxBlocks)))
}

func bProbeBandwidth(bytes uint64, threads, reps int32, out *float64) int32 {
	return int32(C.kiln_probe_read_bandwidth(C.size_t(bytes), C.int(threads), C.int(reps), (*C.double)(unsafe.Pointer(out))))
}

func bProbeFMA(threads int32, seconds float64, out *float64) int32 {
	return int32(C.kiln_probe_fma_peak(C.int(threads), C.double(seconds), (*C.double)(unsafe.Pointer(out))))
}

func bProbeInt8(threads int32, seconds float64, out *float64) int32 {
	return int32(C.kiln_probe_int8_peak(C.int(threads), C.double(seconds), (*C.double)(unsafe.Pointer(out))))
}

func bProbeBF16(threads int32, seconds float64, out *float64) int32 {
	return int32(C.kiln_probe_bf16_peak(C.int(threads), C.double(seconds), (*C.double)(unsafe.Pointer(out))))
}
