/* quant_k_avx2.c — AVX2 dot products of the 256-element weight types with
 * Q8_K activations (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS), and the AVX2
 * rows of the kernel table for every quantized type.
 *
 * Per super-block the quants are unpacked to bytes (nibbles, bit planes,
 * the IQ4 value table by vpshufb), multiplied with X's (vpmaddubsw), scaled
 * by their sub-block's scale in the same step (vpmaddwd with the scale
 * broadcast as int16) and summed into int32 lanes; one horizontal sum gives
 * the super-block's exact int32 sum. Mins and Q6_K's offset of 32 come from
 * Q8_K's 16-element sums. The float part is the scalar reference's (quant.h,
 * kiln_q_with_min), so the result is the reference's, bit for bit. */
#include "../../kernels.h"
#include "quant_avx2.h"

#if KILN_X86

/* scaled32: Σ over a 32-quant sub-block of q·x times its scale (8 int32 lanes). */
KILN_QA __m256i scaled32_u8(__m256i q, const int8_t *x, int scale) {
    const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16((short)scale));
}

/* q45_K_sums: for R X rows (x[r], the same super-block of each), a Q4_K
 * (qh NULL) or Q5_K super-block's Σ sc_j·Σ q·x into sumi[r] and
 * Σ m_j · (X quant sum of sub-block j) into summ[r]; the weight block is
 * unpacked once for all R rows. */
KILN_QA void q45_K_sums(const uint8_t *packed, const uint8_t *qs, const uint8_t *qh, const block_q8_K *const *x, int R,
                        int32_t *sumi, int32_t *summ) {
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) kiln_get_scale_min_k4(j, packed, &sc[j], &mn[j]);
    for (int r = 0; r < R; r++) {
        int32_t sm = 0;
        for (int j = 0; j < 8; j++) sm += mn[j] * (x[r]->bsums[2 * j] + x[r]->bsums[2 * j + 1]);
        summ[r] = sm;
    }
    const __m256i low4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    const __m256i hbits = qh ? _mm256_loadu_si256((const __m256i *)qh) : _mm256_setzero_si256();
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int c = 0; c < 4; c++) {
        const __m256i q4 = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q4, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
        if (qh) {
            const __m256i b0 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one);
            const __m256i b1 = _mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one);
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(b0, 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(b1, 4));
        }
        for (int r = 0; r < R; r++) {
            acc[r] = _mm256_add_epi32(acc[r], scaled32_u8(lo, x[r]->qs + 64 * c, sc[2 * c]));
            acc[r] = _mm256_add_epi32(acc[r], scaled32_u8(hi, x[r]->qs + 64 * c + 32, sc[2 * c + 1]));
        }
    }
    for (int r = 0; r < R; r++) sumi[r] = kiln_qa_hsum(acc[r]);
}

/* q45_K_dot: R rows' dots of a Q4_K / Q5_K weight row (the reference's float steps per row). */
KILN_QA void q45_K_dot(const void *vw, int q5, const void *const *xq, int R, int64_t nb, float *out) {
    const size_t bytes = q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = (const uint8_t *)vw + (size_t)b * bytes;
        uint16_t d[2];
        memcpy(d, blk, 4);
        const block_q8_K *x[4];
        for (int r = 0; r < R; r++) x[r] = (const block_q8_K *)xq[r] + b;
        int32_t sumi[4], summ[4];
        q45_K_sums(blk + 4, blk + (q5 ? 48 : 16), q5 ? blk + 16 : NULL, x, R, sumi, summ);
        for (int r = 0; r < R; r++)
            lane[r][b % 8] = kiln_q_with_min(lane[r][b % 8], kiln_qa_f16(d[0]), kiln_qa_f16(d[1]), x[r]->d, sumi[r], summ[r]);
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

KILN_TARGET_AVX2 float kiln_dot_q4_K_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    q45_K_dot(vw, 0, &vx, 1, nb, &out);
    return out;
}

KILN_TARGET_AVX2 float kiln_dot_q5_K_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    q45_K_dot(vw, 1, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX2 void dot4_q4_K(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb,
                                       float out[4]) {
    (void)xd;
    q45_K_dot(w, 0, xq, 4, nb, out);
}

static KILN_TARGET_AVX2 void dot4_q5_K(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb,
                                       float out[4]) {
    (void)xd;
    q45_K_dot(w, 1, xq, 4, nb, out);
}

/* q6_K_sums: for R X rows, a Q6_K super-block's Σ_g sc_g · Σ (q-32)·x: the
 * unsigned 6-bit quants' products, less 32·Σ_g sc_g·bsum_g; the weight block
 * is unpacked once for all R rows. */
KILN_QA void q6_K_sums(const block_q6_K *w, const block_q8_K *const *x, int R, int32_t *sumi) {
    const __m256i low4 = _mm256_set1_epi8(0xF), two = _mm256_set1_epi8(3);
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (int half = 0; half < 2; half++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * half));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, two), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), two), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), two), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), two), 4));
        for (int t = 0; t < 4; t++) {
            const int g = 8 * half + 2 * t; /* the 16-element groups g (low lane) and g+1 (high lane) */
            const __m256i s = _mm256_set_m128i(_mm_set1_epi16(w->scales[g + 1]), _mm_set1_epi16(w->scales[g]));
            for (int r = 0; r < R; r++) {
                const __m256i p = _mm256_maddubs_epi16(q[t], _mm256_loadu_si256((const __m256i *)(x[r]->qs + 128 * half + 32 * t)));
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(p, s));
            }
        }
    }
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
    for (int r = 0; r < R; r++) {
        const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[r]->bsums));
        sumi[r] = kiln_qa_hsum(acc[r]) - 32 * kiln_qa_hsum(off);
    }
}

KILN_QA void q6_K_dot(const block_q6_K *w, const void *const *xq, int R, int64_t nb, float *out) {
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *x[4];
        for (int r = 0; r < R; r++) x[r] = (const block_q8_K *)xq[r] + b;
        int32_t sumi[4];
        q6_K_sums(&w[b], x, R, sumi);
        for (int r = 0; r < R; r++)
            lane[r][b % 8] = lane[r][b % 8] + (kiln_qa_f16(w[b].d) * x[r]->d) * (float)sumi[r];
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

KILN_TARGET_AVX2 float kiln_dot_q6_K_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    q6_K_dot(vw, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX2 void dot4_q6_K(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb,
                                       float out[4]) {
    (void)xd;
    q6_K_dot(w, xq, 4, nb, out);
}

/* iq4_xs_dot: R rows' dots of an IQ4_XS weight row, each sub-block's values
 * looked up once for all rows. */
KILN_QA void iq4_xs_dot(const block_iq4_xs *w, const void *const *xq, int R, int64_t nb, float *out) {
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values));
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (int ib = 0; ib < 8; ib++) {
            const __m256i q = _mm256_shuffle_epi8(table, kiln_qa_nibbles32(w[b].qs + 16 * ib));
            const __m256i aq = _mm256_sign_epi8(q, q), sc = _mm256_set1_epi16((short)kiln_iq4_xs_scale(&w[b], ib));
            for (int r = 0; r < R; r++) {
                const __m256i x = _mm256_loadu_si256((const __m256i *)(((const block_q8_K *)xq[r])[b].qs + 32 * ib));
                const __m256i p = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(x, q));
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(p, sc));
            }
        }
        for (int r = 0; r < R; r++)
            lane[r][b % 8] = lane[r][b % 8] +
                             (kiln_qa_f16(w[b].d) * ((const block_q8_K *)xq[r])[b].d) * (float)kiln_qa_hsum(acc[r]);
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

KILN_TARGET_AVX2 float kiln_dot_iq4_xs_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    iq4_xs_dot(vw, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX2 void dot4_iq4_xs(const void *w, const void *const xq[4], const float *const xd[4], int64_t nb,
                                         float out[4]) {
    (void)xd;
    iq4_xs_dot(w, xq, 4, nb, out);
}

/* q23_K_sum: a Q2_K (hmask NULL) or Q3_K super-block's Σ_g sc_g · Σ u·x
 * over its 16 groups of 16, u the unsigned 2-bit quant (Q3_K: with its high
 * bit as bit 2, so the value is u - 4). */
KILN_QA int32_t q23_K_sum(const uint8_t *qs, const uint8_t *hmask, const int sc[16], const block_q8_K *x) {
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    const __m256i hm = hmask ? _mm256_loadu_si256((const __m256i *)hmask) : _mm256_setzero_si256();
    __m256i acc = _mm256_setzero_si256();
    for (int half = 0; half < 2; half++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * half));
        for (int j = 0; j < 4; j++) {
            __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), three);
            if (hmask)
                u = _mm256_or_si256(u, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * half + j), one), 2));
            const int g = 8 * half + 2 * j; /* groups g (low lane) and g+1 (high lane) */
            const __m256i p = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(x->qs + 128 * half + 32 * j)));
            const __m256i s = _mm256_set_m128i(_mm_set1_epi16((short)sc[g + 1]), _mm_set1_epi16((short)sc[g]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, s));
        }
    }
    return kiln_qa_hsum(acc);
}

KILN_TARGET_AVX2 float kiln_dot_q2_K_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q2_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int sc[16];
        int32_t summ = 0;
        for (int g = 0; g < 16; g++) {
            sc[g] = w[b].scales[g] & 0xF;
            summ += (w[b].scales[g] >> 4) * x[b].bsums[g];
        }
        const int32_t sumi = q23_K_sum(w[b].qs, NULL, sc, &x[b]);
        lane[b % 8] = kiln_q_with_min(lane[b % 8], kiln_qa_f16(w[b].d), kiln_qa_f16(w[b].dmin), x[b].d, sumi, summ);
    }
    return kiln_q_lanes_sum(lane);
}

KILN_TARGET_AVX2 float kiln_dot_q3_K_avx2(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q3_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t s8[16];
        int sc[16];
        int32_t off = 0;
        kiln_q3_K_scales(w[b].scales, s8);
        for (int g = 0; g < 16; g++) {
            sc[g] = s8[g] - 32;
            off += sc[g] * x[b].bsums[g];
        }
        const int32_t sumi = q23_K_sum(w[b].qs, w[b].hmask, sc, &x[b]) - 4 * off;
        lane[b % 8] = lane[b % 8] + (kiln_qa_f16(w[b].d) * x[b].d) * (float)sumi;
    }
    return kiln_q_lanes_sum(lane);
}

/* ---- the AVX2 rows ---------------------------------------------------- */
#define QMM_KERNEL(ty, four)                                                                             \
    static KILN_TARGET_AVX2 void mm_##ty##_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        (void)s;                                                                                         \
        kiln_mm_qdot(p, n0, n1, kiln_dot_##ty##_avx2, four);                                             \
    }
QMM_KERNEL(q4_0, kiln_dot4_q4_0_avx2)
QMM_KERNEL(q4_1, kiln_dot4_q4_1_avx2)
QMM_KERNEL(q5_0, kiln_dot4_q5_0_avx2)
QMM_KERNEL(q5_1, kiln_dot4_q5_1_avx2)
QMM_KERNEL(iq4_nl, kiln_dot4_iq4_nl_avx2)
QMM_KERNEL(q2_K, NULL)
QMM_KERNEL(q3_K, NULL)
QMM_KERNEL(q4_K, dot4_q4_K)
QMM_KERNEL(q5_K, dot4_q5_K)
QMM_KERNEL(q6_K, dot4_q6_K)
QMM_KERNEL(iq4_xs, dot4_iq4_xs)

/* Rows keep the scalar dequantizer (memory-bound, used for embeddings only).
 * The K-quants' GEMMs and the Q4_K/Q5_K/Q6_K GEMVs are then replaced by
 * kiln_quant_rows_k_mm_avx2 (quant_gemm_k_avx2.c); these dots stay below
 * the GEMMs' threshold and for the rows a GEMV group leaves over. */
#define QMM_ROW(TYPE, ty)                                                        \
    do {                                                                         \
        t->types[TYPE].gemv = t->types[TYPE].gemm = mm_##ty##_avx2;              \
        t->types[TYPE].gemv_variant = "avx2 dot (maddubs, exact int32 sums)";    \
        t->types[TYPE].gemm_variant = "avx2 dot, W panels";                      \
    } while (0)

void kiln_quant_rows_avx2(kiln_kernels *t) {
    QMM_ROW(KILN_TYPE_Q4_0, q4_0);
    QMM_ROW(KILN_TYPE_Q4_1, q4_1);
    QMM_ROW(KILN_TYPE_Q5_0, q5_0);
    QMM_ROW(KILN_TYPE_Q5_1, q5_1);
    QMM_ROW(KILN_TYPE_IQ4_NL, iq4_nl);
    QMM_ROW(KILN_TYPE_Q2_K, q2_K);
    QMM_ROW(KILN_TYPE_Q3_K, q3_K);
    QMM_ROW(KILN_TYPE_Q4_K, q4_K);
    QMM_ROW(KILN_TYPE_Q5_K, q5_K);
    QMM_ROW(KILN_TYPE_Q6_K, q6_K);
    QMM_ROW(KILN_TYPE_IQ4_XS, iq4_xs);
}

#else
typedef int kiln_quant_k_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
