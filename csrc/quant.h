/* quant.h — GGUF's quantized weight types beyond Q8_0: their block structs
 * (byte for byte ggml's, so mmapped rows are used in place), the Q8_K
 * activation block, the per-type dequantizers and dot products, the
 * dot-per-output loop nest (scalar and AVX2 rows, and the fallbacks), the
 * AVX2 K-quant kernels (8-row GEMVs, 16-column outer-product GEMMs) and
 * the AVX-512 VNNI kernels (16-row GEMVs, 16-column outer-product GEMMs),
 * which vectorize the float steps below across outputs, lane for lane.
 *
 * Dot-product contract (every type, every ISA — so the SIMD variants give
 * the scalar reference's bits, and a GEMM output is its GEMV dot):
 *  - X is quantized per row: to Q8_0 (blocks of 32, f16-rounded scale kept
 *    as f32) for the 32-element types, to Q8_K (blocks of 256, f32 scale,
 *    16-element sums) for the 256-element K-quants, as llama.cpp's
 *    quantize_row_q8_0_ref / quantize_row_q8_K_ref do.
 *  - Each weight block b gives exact int32 sums (the integer dot of its
 *    quants with X's, its scales applied in integers where the format has
 *    sub-block scales); its float contribution is a fixed expression of
 *    those sums and the f32 scales (see each type's reference).
 *  - Contributions are accumulated into eight float lanes, block b into
 *    lane b % 8, lane = lane + contribution (no fma), starting at +0; the
 *    result is ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) (kiln_q_lanes_sum).
 * Integer sums are exact however they are computed, and each lane sees the
 * same float operations in the same order, so every variant agrees bit for
 * bit with the scalar reference. */
#ifndef KILN_QUANT_H
#define KILN_QUANT_H

#include "matmul.h"

#define KILN_QK_K 256 /* elements per K-quant super-block */
#define KILN_K_SCALE_SIZE 12

/* Q4_0: x = d * (q - 8), q in 0..15; element j in qs[j] low nibble, j+16 high. */
typedef struct {
    uint16_t d;
    uint8_t qs[16];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must match GGUF's layout");

/* Q4_1: x = d * q + m. */
typedef struct {
    uint16_t d, m;
    uint8_t qs[16];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 must match GGUF's layout");

/* Q5_0: x = d * (q - 16), q = nibble | bit e of qh << 4. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 must match GGUF's layout");

/* Q5_1: x = d * q + m, q as Q5_0's. */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 must match GGUF's layout");

/* IQ4_NL: x = d * kiln_iq4nl_values[nibble]. */
typedef struct {
    uint16_t d;
    uint8_t qs[16];
} block_iq4_nl;
_Static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl must match GGUF's layout");

/* Q2_K: 16 sub-blocks of 16, 4-bit scale and min each; x = d*sc*q - dmin*m. */
typedef struct {
    uint8_t scales[KILN_QK_K / 16];
    uint8_t qs[KILN_QK_K / 4];
    uint16_t d, dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K must match GGUF's layout");

/* Q3_K: 16 sub-blocks of 16, 6-bit signed scales; x = d*(sc-32)*(q - 4*!hbit). */
typedef struct {
    uint8_t hmask[KILN_QK_K / 8];
    uint8_t qs[KILN_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K must match GGUF's layout");

/* Q4_K: 8 sub-blocks of 32, 6-bit scale and min each; x = d*sc*q - dmin*m. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[KILN_K_SCALE_SIZE];
    uint8_t qs[KILN_QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K must match GGUF's layout");

/* Q5_K: Q4_K with a fifth bit per quant in qh. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[KILN_K_SCALE_SIZE];
    uint8_t qh[KILN_QK_K / 8];
    uint8_t qs[KILN_QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K must match GGUF's layout");

/* Q6_K: 16 sub-blocks of 16, int8 scales; x = d * sc * (q - 32), q 6 bits. */
typedef struct {
    uint8_t ql[KILN_QK_K / 2];
    uint8_t qh[KILN_QK_K / 4];
    int8_t scales[KILN_QK_K / 16];
    uint16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K must match GGUF's layout");

/* IQ4_XS: 8 sub-blocks of 32, 6-bit scales ls; x = d*(ls-32)*values[nibble]. */
typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[KILN_QK_K / 64];
    uint8_t qs[KILN_QK_K / 2];
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs must match GGUF's layout");

/* Q8_K: the activation form of the K-quants (never stored in files). */
typedef struct {
    float d;
    int8_t qs[KILN_QK_K];
    int16_t bsums[KILN_QK_K / 16]; /* sums of qs in groups of 16 */
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K must match ggml's layout");

/* The 16 values of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl). */
extern const int8_t kiln_iq4nl_values[16];

/* kiln_get_scale_min_k4 unpacks sub-block j's 6-bit scale and min (Q4_K, Q5_K). */
KILN_INLINE void kiln_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

/* kiln_q3_K_scales unpacks Q3_K's 16 6-bit scales (still biased by 32). */
KILN_INLINE void kiln_q3_K_scales(const uint8_t *packed, int8_t out[16]) {
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f, tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    memcpy(out, aux, 16);
}

/* kiln_iq4_xs_scale is IQ4_XS sub-block ib's scale, ls - 32. */
KILN_INLINE int kiln_iq4_xs_scale(const block_iq4_xs *b, int ib) {
    return (((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4)) - 32;
}

/* kiln_q_lanes_sum is the fixed final sum of the eight accumulation lanes. */
KILN_INLINE float kiln_q_lanes_sum(const float l[8]) {
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

/* kiln_q_with_min adds a super-block with a min to its lane:
 * (lane + (d*dx)*sumi) - (dmin*dx)*summ (Q2_K, Q4_K, Q5_K). */
KILN_INLINE float kiln_q_with_min(float lane, float d, float dmin, float dx, int32_t sumi, int32_t summ) {
    return (lane + (d * dx) * (float)sumi) - (dmin * dx) * (float)summ;
}

/* ---- dequantize: y[n] = float(x[n]), n a multiple of the type's block --- */
void kiln_dequantize_q4_0_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q4_1_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_0_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_1_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_iq4_nl_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q2_K_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q3_K_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q4_K_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_K_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_q6_K_ref(const void *x, float *y, int64_t n);
void kiln_dequantize_iq4_xs_ref(const void *x, float *y, int64_t n);

/* ---- quantizers (quantize.c, quantize_k.c): nb blocks from nb*block floats */
/* kiln_nearest_int rounds to nearest, ties to even (|f| <= 2^22), as llama.cpp. */
KILN_INLINE int kiln_nearest_int(float f) {
    const float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* kiln_abs_max_signed returns the element of largest magnitude (the first on ties). */
KILN_INLINE float kiln_abs_max_signed(const float *x, int n, float *amax_out) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    *amax_out = amax;
    return max;
}

void kiln_quantize_q2_K_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_q3_K_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_q4_K_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_q5_K_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_q6_K_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_iq4_nl_ref(const float *x, void *y, int64_t nb);
void kiln_quantize_iq4_xs_ref(const float *x, void *y, int64_t nb);

/* ---- Q8_K activations --------------------------------------------------- */
/* kiln_quantize_row_q8_K_ref: y[k/256] = Q8_K(x[k]) exactly as llama.cpp's
 * quantize_row_q8_K_ref (an all-zero block gets d = 0, zero quants and sums). */
void kiln_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t k);
#if KILN_X86
/* kiln_quantize_row_q8_K_avx512: the same bytes with AVX-512 (quant_q8k_avx512.c). */
void kiln_quantize_row_q8_K_avx512(const float *x, block_q8_K *y, int64_t k);
#endif

/* ---- dot products ------------------------------------------------------- */
/* A kiln_qdot_fn returns the dot of one weight row of nb blocks with one
 * quantized X row: for Q8_0-form types xq is the row's int8 quants and xd
 * its f32 block scales; for Q8_K-form types xq is the row's block_q8_K
 * array and xd is unused. */
typedef float (*kiln_qdot_fn)(const void *w, const void *xq, const float *xd, int64_t nb);

float kiln_dot_q4_0_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q4_1_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_0_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_1_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_iq4_nl_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q2_K_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q3_K_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q4_K_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_K_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q6_K_ref(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_iq4_xs_ref(const void *w, const void *xq, const float *xd, int64_t nb);

#if KILN_X86
float kiln_dot_q4_0_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q4_1_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_0_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_1_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_iq4_nl_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q2_K_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q3_K_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q4_K_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q5_K_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_q6_K_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
float kiln_dot_iq4_xs_avx2(const void *w, const void *xq, const float *xd, int64_t nb);
void kiln_dot4_q4_0_avx2(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb, float out[4]);
void kiln_dot4_q4_1_avx2(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb, float out[4]);
void kiln_dot4_q5_0_avx2(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb, float out[4]);
void kiln_dot4_q5_1_avx2(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb, float out[4]);
void kiln_dot4_iq4_nl_avx2(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb, float out[4]);
/* AVX2 GEMM and GEMV of the 32-element types (quant_gemm_legacy_avx2.c,
 * quant_gemv_legacy_avx2.c): X as quantized (p->xq, p->xd); the dot's bits. */
void kiln_mm_gemm_q4_0_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q4_1_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_0_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_1_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_iq4_nl_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q4_0_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q4_1_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_0_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_1_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_iq4_nl_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* AVX2 GEMMs of the K-quants (quant_gemm_k_avx2.c): int8 outer products
 * (vpmaddubsw) over 16-row W panels unpacked once per k block, the dot's
 * bits per output. */
void kiln_mm_gemm_q2_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q3_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q4_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q6_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_iq4_xs_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* AVX2 GEMVs (quant_gemv_k_avx2.c): 8 W rows per step, their horizontal
 * sums and float steps together; the dot's bits. */
void kiln_mm_gemv_q4_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q6_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
#endif

/* A kiln_qdot4_fn computes the dots of one weight row with four X rows at
 * once (out[r] for xq[r], xd[r]), unpacking each weight block once; out[r]
 * has exactly the bits the type's kiln_qdot_fn gives for row r. */
typedef void (*kiln_qdot4_fn)(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb,
                              float out[4]);

#if KILN_X86
/* AVX-512 VNNI GEMMs (quant_gemm_*_avx512.c): int8 outer products over
 * 16-row W panels unpacked once per k block, the dot's bits per output.
 * The 32-element types read X in the Q8_0 GEMM's layout (p->xp, p->xdp). */
void kiln_mm_gemm_q4_0_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q4_1_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_0_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_1_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_iq4_nl_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* AMX-INT8 GEMMs of the 32-element types without a min (arch/x86/quant_gemm_legacy_amx.c) */
void kiln_mm_gemm_q4_0_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_0_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_iq4_nl_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q2_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q3_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q4_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q5_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_q6_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemm_iq4_xs_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* AVX-512 VNNI GEMVs (quant_gemv_*_avx512.c): 16 W rows per step, reduced
 * by an add tree, the float steps once per 16 outputs; the dot's bits. */
void kiln_mm_gemv_q4_0_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q4_1_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_0_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_1_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_iq4_nl_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* AVX-512 dequantizers (quant_dequant_avx512.c): the reference's bits. */
void kiln_dequantize_q4_0_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q4_1_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_0_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_1_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_iq4_nl_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q2_K_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q3_K_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q4_K_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q5_K_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_q6_K_avx512(const void *x, float *y, int64_t n);
void kiln_dequantize_iq4_xs_avx512(const void *x, float *y, int64_t n);
void kiln_mm_gemv_q4_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q5_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q6_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_iq4_xs_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q2_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_gemv_q3_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
#endif

/* ---- the dot-per-output loop nest --------------------------------------- */
/* kiln_mm_qdot computes y[0:m, n0:n1] of a quantized-weight problem with
 * one dot per output: W rows in panels that stay in cache while every X
 * row passes over them, four X rows at a time through dot4 when the type
 * has one (NULL: dot alone). An output's value is its dot, whatever m, n0, n1. */
void kiln_mm_qdot(const kiln_mm *p, int64_t n0, int64_t n1, kiln_qdot_fn dot, kiln_qdot4_fn dot4);

#endif /* KILN_QUANT_H */
