/* quant_avx512.c — AVX-512 VNNI dot products of IQ4_XS (its decode) and
 * the rows of the AVX-512 kernel table for every quantized type (the GEMVs
 * of the 32-element types, Q4_K/Q5_K and Q6_K, and every GEMM, live in
 * quant_gemv_*_avx512.c and quant_gemm_*_avx512.c). Q2_K and Q3_K keep the
 * AVX2 dots for decode: no AVX-512 dot of theirs exists yet, and dispatch
 * never picks a slower variant.
 *
 * vpdpbusd multiplies unsigned by signed bytes, so the IQ4 values are made
 * unsigned by an offset (+128) and the offset's share is subtracted in
 * integers (from Q8_K's 16-element sums). Sub-block scales multiply int32 lanes
 * (vpmulld). The int32 sums are exact, so they equal the scalar
 * reference's, and the float part is the reference's (quant.h): the result
 * is the reference's, bit for bit. A 64-byte vector holds two 32-element
 * sub-blocks side by side, as X holds them.
 * Without AVX512_VNNI the AVX-512 table keeps the AVX2 rows. */
#include "../../kernels.h"
#include "quant_avx2.h"

#if KILN_X86

#define KILN_QZ KILN_INLINE KILN_TARGET_AVX512VNNI

/* pair: two 32-byte halves in one zmm (a low, b high). */
KILN_QZ __m512i pair(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

/* hsum_zmm: the sum of 16 int32 lanes. */
KILN_QZ int32_t hsum_zmm(__m512i v) {
    return kiln_qa_hsum(_mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

/* halves_scale: a zmm of int32 lanes, a in lanes 0-7 and b in lanes 8-15. */
KILN_QZ __m512i halves_scale(int a, int b) {
    return _mm512_inserti64x4(_mm512_set1_epi32(a), _mm256_set1_epi32(b), 1);
}

/* iq4_xs_dot: R rows' dots of an IQ4_XS weight row, each sub-block pair's
 * values looked up once for all rows. */
KILN_QZ void iq4_xs_dot(const block_iq4_xs *w, const void *const *xq, int R, int64_t nb, float *out) {
    const __m256i table = _mm256_xor_si256(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)),
                                           _mm256_set1_epi8((char)0x80));
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
        int32_t off[4] = {0, 0, 0, 0};
        for (int ib = 0; ib < 8; ib += 2) {
            const __m256i qa = _mm256_shuffle_epi8(table, kiln_qa_nibbles32(w[b].qs + 16 * ib));
            const __m256i qb = _mm256_shuffle_epi8(table, kiln_qa_nibbles32(w[b].qs + 16 * ib + 16));
            const int la = kiln_iq4_xs_scale(&w[b], ib), lb = kiln_iq4_xs_scale(&w[b], ib + 1);
            const __m512i u = pair(qa, qb), scv = halves_scale(la, lb);
            for (int r = 0; r < R; r++) {
                const block_q8_K *x = (const block_q8_K *)xq[r] + b;
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x->qs + 32 * ib));
                acc[r] = _mm512_add_epi32(acc[r], _mm512_mullo_epi32(dot, scv));
                off[r] += la * (x->bsums[2 * ib] + x->bsums[2 * ib + 1]) + lb * (x->bsums[2 * ib + 2] + x->bsums[2 * ib + 3]);
            }
        }
        for (int r = 0; r < R; r++) {
            const int32_t sumi = hsum_zmm(acc[r]) - 128 * off[r];
            lane[r][b % 8] = lane[r][b % 8] + (kiln_qa_f16(w[b].d) * ((const block_q8_K *)xq[r])[b].d) * (float)sumi;
        }
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

static KILN_TARGET_AVX512VNNI float dot_iq4_xs(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    iq4_xs_dot(vw, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX512VNNI void dot4_iq4_xs(const void *w, const void *const xq[4], const float *const xd[4],
                                               int64_t nb, float out[4]) {
    (void)xd;
    iq4_xs_dot(w, xq, 4, nb, out);
}

/* ---- the AVX-512 rows ---------------------------------------------------- */
#define QMM_KERNEL(ty, four)                                                                           \
    static KILN_TARGET_AVX512VNNI void mm_##ty(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        (void)s;                                                                                       \
        kiln_mm_qdot(p, n0, n1, dot_##ty, four);                                                       \
    }
QMM_KERNEL(iq4_xs, dot4_iq4_xs)

/* GEMM_MIN_M: the outer-product GEMM from this many X rows on (below it the
 * dot kernels; a panel's unpacking costs about what four rows of dots do). */
#define GEMM_MIN_M KILN_MM_Q8G_MIN_M

#define QMM_ROW(TYPE, ty, gemv_fn, gemv_name)                                               \
    do {                                                                                    \
        kiln_type_kernels *r_ = &t->types[TYPE];                                            \
        r_->gemv = gemv_fn;                                                                 \
        r_->gemm = kiln_mm_gemm_##ty##_avx512;                                              \
        r_->gemm_min_m = GEMM_MIN_M;                                                        \
        r_->gemv_variant = gemv_name;                                                       \
        r_->gemm_variant = "avx512-vnni int8 16-column outer product (vpdpbusd)";           \
    } while (0)
#define QMM_ROW_DOT(TYPE, ty) QMM_ROW(TYPE, ty, mm_##ty, "avx512-vnni dot (vpdpbusd, exact int32 sums)")

/* The 32-element types share the Q8_0 GEMM's X layout (and its tile height
 * and threshold, so one multi-output call lays X out once for all of them). */
#define QMM_ROW_Q8X(TYPE, ty)                                                                            \
    do {                                                                                                 \
        QMM_ROW(TYPE, ty, kiln_mm_gemv_##ty##_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)"); \
        t->types[TYPE].gemm_layout = kiln_mm_q8v_layout_avx512;                                          \
        t->types[TYPE].gemm_mr = KILN_MM_Q8V_MR;                                                         \
    } while (0)
_Static_assert(GEMM_MIN_M == KILN_MM_Q8G_MIN_M, "Q8_0-form rows sharing X's GEMM layout share its threshold");

void kiln_quant_rows_avx512(kiln_kernels *t, uint32_t features) {
    if (!(features & KILN_CPU_AVX512VNNI)) return; /* the AVX2 rows stay */
    QMM_ROW_Q8X(KILN_TYPE_Q4_0, q4_0);
    QMM_ROW_Q8X(KILN_TYPE_Q4_1, q4_1);
    QMM_ROW_Q8X(KILN_TYPE_Q5_0, q5_0);
    QMM_ROW_Q8X(KILN_TYPE_Q5_1, q5_1);
    QMM_ROW_Q8X(KILN_TYPE_IQ4_NL, iq4_nl);
    QMM_ROW(KILN_TYPE_Q4_K, q4_K, kiln_mm_gemv_q4_K_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_Q5_K, q5_K, kiln_mm_gemv_q5_K_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_Q6_K, q6_K, kiln_mm_gemv_q6_K_avx512, "avx512-vnni 16-row dot (vpmaddubsw + vpdpwssd, exact int32 sums)");
#define DQ_ROW(TYPE, ty)                                              \
    do {                                                              \
        t->types[TYPE].to_float = kiln_dequantize_##ty##_avx512;      \
        t->types[TYPE].to_float_variant = "avx512";                   \
    } while (0)
    DQ_ROW(KILN_TYPE_Q4_0, q4_0);
    DQ_ROW(KILN_TYPE_Q4_1, q4_1);
    DQ_ROW(KILN_TYPE_Q5_0, q5_0);
    DQ_ROW(KILN_TYPE_Q5_1, q5_1);
    DQ_ROW(KILN_TYPE_IQ4_NL, iq4_nl);
    DQ_ROW(KILN_TYPE_Q2_K, q2_K);
    DQ_ROW(KILN_TYPE_Q3_K, q3_K);
    DQ_ROW(KILN_TYPE_Q4_K, q4_K);
    DQ_ROW(KILN_TYPE_Q5_K, q5_K);
    DQ_ROW(KILN_TYPE_Q6_K, q6_K);
    DQ_ROW(KILN_TYPE_IQ4_XS, iq4_xs);
    /* Q2_K, Q3_K: the AVX2 dots stay for m below the GEMM's threshold */
    for (int ty = KILN_TYPE_Q2_K; ty <= KILN_TYPE_Q3_K; ty++) {
        t->types[ty].gemm = ty == KILN_TYPE_Q2_K ? kiln_mm_gemm_q2_K_avx512 : kiln_mm_gemm_q3_K_avx512;
        t->types[ty].gemm_min_m = GEMM_MIN_M;
        t->types[ty].gemm_variant = "avx512-vnni int8 16-column outer product (vpdpbusd)";
    }
    QMM_ROW_DOT(KILN_TYPE_IQ4_XS, iq4_xs);
}

#else
typedef int kiln_quant_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
