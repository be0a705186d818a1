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

/* ---- the bf16 pair-dot rule (AVX512_BF16's VDPBF16PS) --------------------- */
/* bf16_daz reads a bf16 as VDPBF16PS does: subnormals are ±0. */
static float bf16_daz(uint16_t h) {
    return (h & 0x7f80) ? kiln_bf16_to_fp32(h) : kiln_bits_f32((uint32_t)(h & 0x8000) << 16);
}

/* ftz flushes a subnormal f32 result to ±0, as VDPBF16PS does. */
static float ftz(float v) {
    const uint32_t u = kiln_f32_bits(v);
    return (u & 0x7f800000u) ? v : kiln_bits_f32(u & 0x80000000u);
}

/* x_to_bf16 is VCVTNE2PS2BF16: nearest even, subnormal inputs to ±0. */
static uint16_t x_to_bf16(float v) {
    const uint32_t u = kiln_f32_bits(v);
    if (!(u & 0x7f800000u)) return (uint16_t)((u >> 16) & 0x8000);
    return kiln_fp32_to_bf16(v);
}

// y[m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows BF16; the bf16 pair-dot rule of
// matmul_bf16_avx512.c: 16 lanes, lane l of step s takes elements
// 32s+2l+1 then 32s+2l, then the fixed hsum16 order. Each step adds one
// exact product (never flushed itself) with one rounding: an fma, then the
// result's flush (measured on AMD Zen 5; the SDM's "tmp := a·b, then add"
// with DAZ/FTZ would flush subnormal products, which the hardware does not).
void kiln_mm_bf16_dot_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    for (int64_t i = 0; i < p->m; i++) {
        const float *x = p->x + i * p->k;
        for (int64_t j = n0; j < n1; j++) {
            const uint16_t *w = (const uint16_t *)((const char *)p->w + (size_t)j * p->wstride);
            float acc[16] = {0};
            for (int64_t s = 0; s < p->k; s += 32)
                for (int l = 0; l < 16; l++) {
                    const int64_t c = s + 2 * l;
                    const uint16_t x0 = c < p->k ? x_to_bf16(x[c]) : 0, w0 = c < p->k ? w[c] : 0;
                    const uint16_t x1 = c + 1 < p->k ? x_to_bf16(x[c + 1]) : 0, w1 = c + 1 < p->k ? w[c + 1] : 0;
                    acc[l] = ftz(fmaf(bf16_daz(x1), bf16_daz(w1), acc[l]));
                    acc[l] = ftz(fmaf(bf16_daz(x0), bf16_daz(w0), acc[l]));
                }
            /* hsum16: 256-bit halves, 128-bit halves, pairs, lanes */
            float h[8], q[4];
            for (int l = 0; l < 8; l++) h[l] = acc[l] + acc[l + 8];
            for (int l = 0; l < 4; l++) q[l] = h[l] + h[l + 4];
            const float a = q[0] + q[2], b = q[1] + q[3];
            p->y[i * p->n + j] = a + b;
        }
    }
}
