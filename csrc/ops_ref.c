/* ops_ref.c — portable scalar reference for the element-wise and row-wise ops.
 *
 * This is the semantic definition the SIMD variants are tested against, and
 * it follows llama.cpp's CPU backend operation for operation (same rounding
 * points, same accumulation precision) because kiln's outputs are compared
 * with llama.cpp's. Build flags keep -ffp-contract=off, so every a*b+c here
 * rounds twice, exactly as written. */
#include "ops.h"

/* ---- conversions ---------------------------------------------------------- */

/* f16 span [n] -> f32 [n], exact. */
static void ref_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kiln_fp16_to_fp32(x[i]);
}

/* bf16 span [n] -> f32 [n], exact. */
static void ref_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kiln_bf16_to_fp32(x[i]);
}

/* f32 span [n] -> f16 [n], nearest even; NaN payloads as F16C (see ops.h). */
static void ref_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kiln_ops_fp32_to_fp16(x[i]);
}

/* f32 span [n] -> bf16 [n], nearest even, NaN stays NaN. */
static void ref_f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kiln_fp32_to_bf16(x[i]);
}

/* Q8_0 blocks [nb] -> f32 [nb*32]: y = qs * d, one rounding (llama.cpp's
 * dequantize_row_q8_0). */
static void ref_q8_0_to_f32(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const float d = kiln_fp16_to_fp32(x[b].d);
        for (int j = 0; j < KILN_QK8_0; j++) y[b * KILN_QK8_0 + j] = (float)x[b].qs[j] * d;
    }
}

/* ---- row ops -------------------------------------------------------------- */

/* rmsnorm, one row x[n] -> y[n]. As ggml_compute_forward_rms_norm_f32: each
 * square is rounded in float, the sum is kept in double (the double sum is
 * what keeps long rows from drifting), mean = sum/n rounded to float,
 * scale = 1/sqrtf(mean+eps) in float, then y = (x*scale)*w — ggml applies
 * the weight as a separate multiply, so two roundings. */
static void ref_rmsnorm_row(float *y, const float *x, const float *w, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    if (w) {
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale;
    }
}

/* softmax, one row x[n] -> y[n]. As ggml_vec_soft_max_f32: e = expf(x-max)
 * in float, Σe in double, then y = e * (float)(1/Σ). */
static void ref_softmax_row(float *y, const float *x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const float e = expf(x[i] - max);
        sum += (double)e;
        y[i] = e;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) y[i] *= inv;
}

/* ---- element-wise --------------------------------------------------------- */

/* geglu_tanh span [n]: y = 0.5g(1 + tanhf(sqrt(2/pi) g (1 + 0.044715 g²))) * u,
 * ggml's GELU (tanh form) with libm's tanhf. */
static void ref_geglu_tanh(float *y, const float *g, const float *u, int64_t n) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        y[i] = 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x))) * u[i];
    }
}

/* softcap span [n]: y = cap * tanhf(x / cap). */
static void ref_softcap(float *y, const float *x, float cap, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = cap * tanhf(x[i] / cap);
}

/* swiglu span [n]: y = (g / (1 + expf(-g))) * u, as ggml_vec_swiglu_f32. */
static void ref_swiglu(float *y, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i];
        y[i] = (gi / (1.0f + expf(-gi))) * u[i];
    }
}

/* add span [n]: y = a + b. */
static void ref_add(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* scale span [n]: y = x * s. */
static void ref_scale(float *y, const float *x, float s, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * s;
}

/* rope, one head x[rope_dim] in place (table layout in ops.h). As ggml's
 * rope_f32: x0' = x0*cos - x1*sin, x1' = x0*sin + x1*cos, each product
 * rounded separately. */
static void ref_rope_head(float *x, const float *c, const float *s, int rope_dim, int mode) {
    if (mode == KILN_ROPE_NORMAL) {
        for (int i = 0; i < rope_dim; i += 2) {
            const float x0 = x[i], x1 = x[i + 1];
            x[i] = x0 * c[i] - x1 * s[i];
            x[i + 1] = x0 * s[i] + x1 * c[i];
        }
    } else {
        const int half = rope_dim / 2;
        for (int j = 0; j < half; j++) {
            const float x0 = x[j], x1 = x[j + half];
            x[j] = x0 * c[j] - x1 * s[j];
            x[j + half] = x0 * s[j] + x1 * c[j];
        }
    }
}

const kiln_ops_kernels kiln_ops_scalar = {
    .f16_to_f32 = ref_f16_to_f32,
    .bf16_to_f32 = ref_bf16_to_f32,
    .f32_to_f16 = ref_f32_to_f16,
    .f32_to_bf16 = ref_f32_to_bf16,
    .q8_0_to_f32 = ref_q8_0_to_f32,
    .rmsnorm_row = ref_rmsnorm_row,
    .softmax_row = ref_softmax_row,
    .swiglu = ref_swiglu,
    .geglu_tanh = ref_geglu_tanh,
    .softcap = ref_softcap,
    .add = ref_add,
    .scale = ref_scale,
    .rope_head = ref_rope_head,
};
