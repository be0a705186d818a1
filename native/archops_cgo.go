//go:build cgo && !purego

package native

/*
#cgo CFLAGS: -O3 -D_GNU_SOURCE -std=gnu11 -I${SRCDIR}/../csrc/include -I${SRCDIR}/../csrc
#include "kiln.h"

typedef struct {
	int32_t n_head, n_head_kv, head_dim, block_size, kv_type, n_blocks;
	float scale;
	int32_t pad;
} kv_fields_w;

static int attn_window_w(kv_fields_w f, void *kc, void *vc, const float *q, float *out,
                         int64_t n_seq, const int32_t *q_start, const int32_t *ctx_lens,
                         const int32_t *bt, int max_blocks, int window, float softcap) {
	kiln_kv_layout l = {
		.n_head = f.n_head, .n_head_kv = f.n_head_kv, .head_dim = f.head_dim,
		.block_size = f.block_size, .kv_type = f.kv_type, .n_blocks = f.n_blocks,
		.scale = f.scale, .k_cache = kc, .v_cache = vc,
	};
	return kiln_attn_window(&l, q, out, n_seq, q_start, ctx_lens, bt, max_blocks, window, softcap);
}
*/
import "C"

import "unsafe"

func bGeGLUTanh(y, g, u unsafe.Pointer, n int64) int32 {
	return int32(C.kiln_geglu_tanh((*C.float)(y), (*C.float)(g), (*C.float)(u), C.int64_t(n)))
}

func bSoftcap(y, x unsafe.Pointer, cap float32, n int64) int32 {
	return int32(C.kiln_softcap((*C.float)(y), (*C.float)(x), C.float(cap), C.int64_t(n)))
}

func bAttnWindow(f *kvFields, kc, vc, q, out unsafe.Pointer, nSeq int64, qStart, ctxLens, bt unsafe.Pointer, maxBlocks, window int32, softcap float32) int32 {
	return int32(C.attn_window_w(*(*C.kv_fields_w)(unsafe.Pointer(f)), kc, vc, (*C.float)(q), (*C.float)(out), C.int64_t(nSeq),
		(*C.int32_t)(qStart), (*C.int32_t)(ctxLens), (*C.int32_t)(bt), C.int(maxBlocks), C.int(window), C.float(softcap)))
}

func bScaleStrided(x unsafe.Pointer, rows, stride, n int64, s float32) int32 {
	return int32(C.kiln_scale_strided((*C.float)(x), C.int64_t(rows), C.int64_t(stride), C.int64_t(n), C.float(s)))
}
