/* quant_avx512.c — AVX-512 VNNI dot products of the 256-element weight
 * types Q6_K and IQ4_XS (their decode) and the rows
 * of the AVX-512 kernel table for every quantized type (the GEMVs of the
 * 32-element types and of Q4_K/Q5_K, and every GEMM, live in
 * quant_gemv_*_avx512.c and quant_gemm_*_avx512.c). Q2_K and Q3_K keep the
 * AVX2 dots for decode: no AVX-512 dot of theirs exists yet, and dispatch
 * never picks a slower variant.
 *
 * vpdpbusd multiplies unsigned by signed bytes, so every format's quants
 * are made unsigned by an offset (IQ4 values +128; Q4_K, Q5_K, Q6_K quants
 * are unsigned already) and the offset's share is subtracted in integers
 * (from Q8_K's 16-element sums). Sub-block scales multiply int32 lanes
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

/* q6_K_sums: the unsigned 6-bit quants in 64-byte pairs (lane l of the pair
 * starting at group g belongs to group g + l/4), unpacked once for R X rows. */
KILN_QZ void q6_K_sums(const block_q6_K *w, const block_q8_K *const *x, int R, int32_t *sumi) {
    const __m256i low4 = _mm256_set1_epi8(0xF), three = _mm256_set1_epi8(3);
    const __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)w->scales));
    const __m512i quarter = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int half = 0; half < 2; half++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * half));
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
        for (int p = 0; p < 2; p++) {
            const int g = 8 * half + 4 * p;
            const __m512i u = p ? pair(q2, q3) : pair(q0, q1);
            const __m512i s = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(g)), sc32);
            for (int r = 0; r < R; r++) {
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x[r]->qs + 128 * half + 64 * p));
                acc[r] = _mm512_add_epi32(acc[r], _mm512_mullo_epi32(dot, s));
            }
        }
    }
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
    for (int r = 0; r < R; r++) {
        const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[r]->bsums));
        sumi[r] = hsum_zmm(acc[r]) - 32 * kiln_qa_hsum(off);
    }
}

KILN_QZ void q6_K_dot(const block_q6_K *w, const void *const *xq, int R, int64_t nb, float *out) {
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *x[4];
        for (int r = 0; r < R; r++) x[r] = (const block_q8_K *)xq[r] + b;
        int32_t sumi[4];
        q6_K_sums(&w[b], x, R, sumi);
        for (int r = 0; r < R; r++) lane[r][b % 8] = lane[r][b % 8] + (kiln_qa_f16(w[b].d) * x[r]->d) * (float)sumi[r];
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

static KILN_TARGET_AVX512VNNI float dot_q6_K(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    q6_K_dot(vw, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX512VNNI void dot4_q6_K(const void *w, const void *const xq[4], const float *const xd[4],
                                             int64_t nb, float out[4]) {
    (void)xd;
    q6_K_dot(w, xq, 4, nb, out);
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
QMM_KERNEL(q6_K, dot4_q6_K)
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
    QMM_ROW_DOT(KILN_TYPE_Q6_K, q6_K);
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
