/* ops.h — the element-wise and row-wise kernel family: conversions,
 * dequantisation, rmsnorm, softmax, swiglu, tanh-GELU and soft-capping,
 * add, scale, rope.
 *
 * Each ISA variant (scalar reference, AVX2, AVX-512) provides one table of
 * per-row / per-span kernels. The public entry points in ops.c validate,
 * pick the table with kiln_active_isa() and split rows over the pool; the
 * kernels themselves never validate, allocate or thread.
 *
 * Contracts every variant keeps (so results do not depend on thread count or
 * batch composition):
 *  - a span kernel (conversions, swiglu, add, scale) gives every element the
 *    same bits wherever it sits in the span — SIMD tails go through the same
 *    vector math (padded or masked), never a different scalar formula;
 *  - a row kernel (rmsnorm, softmax) depends only on that row's data.
 * Aliasing: y == x (exactly) is allowed everywhere; partial overlap is not. */
#ifndef KILN_OPS_H
#define KILN_OPS_H

#include "kiln_internal.h"

typedef struct {
    /* y[n] = float(x[n]) — half / bfloat16 spans */
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, int64_t n);
    /* y[n] = half(x[n]) / bf16(x[n]), round to nearest even */
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    void (*f32_to_bf16)(const float *x, uint16_t *y, int64_t n);
    /* y[nb*32] = d * qs for nb Q8_0 blocks */
    void (*q8_0_to_f32)(const block_q8_0 *x, float *y, int64_t nb);
    /* one row: y[n] = (x[n] * 1/sqrtf(mean(x²)+eps)) * w[n]  (w NULL = ones) */
    void (*rmsnorm_row)(float *y, const float *x, const float *w, int64_t n, float eps);
    /* one row: y[n] = exp(x - max) / Σ exp(x - max) */
    void (*softmax_row)(float *y, const float *x, int64_t n);
    /* y[n] = g/(1+exp(-g)) * u */
    void (*swiglu)(float *y, const float *g, const float *u, int64_t n);
    /* y[n] = gelu(g) * u, ggml's tanh GELU: 0.5g(1 + tanh(sqrt(2/pi) g (1 + 0.044715 g²))) */
    void (*geglu_tanh)(float *y, const float *g, const float *u, int64_t n);
    /* y[n] = cap * tanh(x / cap) */
    void (*softcap)(float *y, const float *x, float cap, int64_t n);
    /* y[n] = a + b */
    void (*add)(float *y, const float *a, const float *b, int64_t n);
    /* y[n] = x * s */
    void (*scale)(float *y, const float *x, float s, int64_t n);
    /* one head, in place: rotate x[rope_dim] with the token's table.
     * NORMAL: c[rope_dim], s[rope_dim] hold cos/sin duplicated per pair
     *         (c[2j] = c[2j+1] = cos θ_j), matching the interleaved layout;
     * NEOX:   c[rope_dim/2], s[rope_dim/2] hold cos θ_j / sin θ_j. */
    void (*rope_head)(float *x, const float *c, const float *s, int rope_dim, int mode);
} kiln_ops_kernels;

extern const kiln_ops_kernels kiln_ops_scalar;
#if KILN_X86
extern const kiln_ops_kernels kiln_ops_avx2;
extern const kiln_ops_kernels kiln_ops_avx512;
#endif

/* kiln_ops_fp32_to_fp16 is the scalar float→half every variant's reference
 * uses. It is kiln_fp32_to_fp16 except for NaN, where it keeps the top ten
 * payload bits and sets the quiet bit exactly as F16C's vcvtps2ph does, so
 * the scalar path and the SIMD paths agree bit for bit on every input. */
KILN_INLINE uint16_t kiln_ops_fp32_to_fp16(float f) {
    const uint32_t u = kiln_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x3ffu));
    return kiln_fp32_to_fp16(f);
}

#endif /* KILN_OPS_H */
