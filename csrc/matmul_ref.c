/* matmul_ref.c — portable scalar reference kernels for kiln_matmul and the
 * reference Q8_0 quantizer (llama.cpp's quantize_row_q8_0_ref semantics).
 *
 * These define correctness for the tests and run as the "scalar" variant.
 * They are written for clarity, not speed: one float accumulator per output,
 * k summed in order, so they are deterministic by construction (an output
 * never depends on m, the thread split or n0/n1). */
#include "matmul.h"

/* kiln_q8_0_quantize_block_ref matches llama.cpp exactly: d = amax/127 stored
 * as f16, quants = roundf(x * (1/d)) with the f32 d (ties away from zero). */
void kiln_q8_0_quantize_block_ref(const float *x, block_q8_0 *y) {
    float amax = 0.0f;
    for (int j = 0; j < KILN_QK8_0; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y->d = kiln_fp32_to_fp16(d);
    for (int j = 0; j < KILN_QK8_0; j++) y->qs[j] = (int8_t)roundf(x[j] * id);
}

// xq[r0:r1, 0:kpad], xd[r0:r1, 0:kpad/32] = q8_0(x[r0:r1, 0:k]); padding is zero.
void kiln_mm_quantize_rows_ref(const float *x, int8_t *xq, float *xd, int64_t k, int64_t kpad,
                               int64_t r0, int64_t r1) {
    const int64_t nb = k / KILN_QK8_0, nbpad = kpad / KILN_QK8_0;
    for (int64_t i = r0; i < r1; i++) {
        for (int64_t b = 0; b < nbpad; b++) {
            int8_t *q = xq + i * kpad + b * KILN_QK8_0;
            if (b >= nb) {
                memset(q, 0, KILN_QK8_0);
                xd[i * nbpad + b] = 0.0f;
                continue;
            }
            block_q8_0 blk;
            kiln_q8_0_quantize_block_ref(x + i * k + b * KILN_QK8_0, &blk);
            memcpy(q, blk.qs, KILN_QK8_0);
            xd[i * nbpad + b] = kiln_fp16_to_fp32(blk.d);
        }
    }
}

/* load_w returns element c of W row j as float (exact for every type). */
static float load_w(const kiln_mm *p, int64_t j, int64_t c) {
    const char *row = (const char *)p->w + (size_t)j * p->wstride;
    switch (p->wtype) {
    case KILN_TYPE_F16: return kiln_fp16_to_fp32(((const uint16_t *)row)[c]);
    case KILN_TYPE_BF16: return kiln_bf16_to_fp32(((const uint16_t *)row)[c]);
    default: return ((const float *)row)[c];
    }
}

// y[m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows F32, F16 or BF16.
void kiln_mm_float_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    for (int64_t i = 0; i < p->m; i++) {
        const float *x = p->x + i * p->k;
        for (int64_t j = n0; j < n1; j++) {
            float acc = 0.0f;
            for (int64_t c = 0; c < p->k; c++) acc += x[c] * load_w(p, j, c);
            p->y[i * p->n + j] = acc;
        }
    }
}

// y[m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows are block_q8_0, X rows q8_0-quantized.
void kiln_mm_q8_0_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    for (int64_t i = 0; i < p->m; i++) {
        const int8_t *xq = p->xq + i * p->kpad;
        const float *xd = p->xd + i * nbpad;
        for (int64_t j = n0; j < n1; j++) {
            const block_q8_0 *w = (const block_q8_0 *)((const char *)p->w + (size_t)j * p->wstride);
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int c = 0; c < KILN_QK8_0; c++) s += (int32_t)xq[b * KILN_QK8_0 + c] * w[b].qs[c];
                acc += (xd[b] * kiln_fp16_to_fp32(w[b].d)) * (float)s;
            }
            p->y[i * p->n + j] = acc;
        }
    }
}
