/* quant_legacy_avx2.c — AVX2 dot products of the 32-element weight types
 * (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) with Q8_0 activations.
 *
 * Eight blocks at a time (for up to four X rows at once: a GEMM unpacks each
 * weight block once for four rows): each block's quants are unpacked to 32 bytes and
 * multiplied with X's (vpmaddubsw + vpmaddwd into 8 int32 lanes), the eight
 * blocks' lanes are reduced together to one int32 per block (a hadd tree),
 * and the block sums enter the eight float lanes exactly as the scalar
 * reference's (quant.h): lane t += (dw_t*dx_t)*float(sum_t), so the result
 * is the reference's, bit for bit. A short last group pads with zero sums
 * and zero scales, which add +0 to lanes that are never -0. */
#include "quant_avx2.h"

#if KILN_X86

enum { L_Q4_0, L_Q4_1, L_Q5_0, L_Q5_1, L_IQ4_NL };

/* quants returns block b's 32 quants in element order: signed values for
 * Q4_0, Q5_0 and IQ4_NL (the format's offset applied), unsigned for Q4_1, Q5_1. */
KILN_QA __m256i quants(int ty, const void *w, int64_t b) {
    switch (ty) {
    case L_Q4_0: {
        const block_q4_0 *x = (const block_q4_0 *)w + b;
        return _mm256_sub_epi8(kiln_qa_nibbles32(x->qs), _mm256_set1_epi8(8));
    }
    case L_Q4_1: return kiln_qa_nibbles32(((const block_q4_1 *)w + b)->qs);
    case L_Q5_0: { /* q - 16 = nibble | (fifth bit ? 0 : 0xF0) as int8 */
        const block_q5_0 *x = (const block_q5_0 *)w + b;
        const __m256i hi = _mm256_andnot_si256(kiln_qa_bits32(x->qh), _mm256_set1_epi8((char)0xF0));
        return _mm256_or_si256(kiln_qa_nibbles32(x->qs), hi);
    }
    case L_Q5_1: {
        const block_q5_1 *x = (const block_q5_1 *)w + b;
        const __m256i hi = _mm256_and_si256(kiln_qa_bits32(x->qh), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(kiln_qa_nibbles32(x->qs), hi);
    }
    default: {
        const block_iq4_nl *x = (const block_iq4_nl *)w + b;
        const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values));
        return _mm256_shuffle_epi8(table, kiln_qa_nibbles32(x->qs));
    }
    }
}

/* scales returns block b's f16 scale (and min) as stored. */
KILN_QA void scales(int ty, const void *w, int64_t b, uint16_t *d, uint16_t *m) {
    switch (ty) {
    case L_Q4_0: *d = ((const block_q4_0 *)w)[b].d; *m = 0; return;
    case L_Q4_1: *d = ((const block_q4_1 *)w)[b].d; *m = ((const block_q4_1 *)w)[b].m; return;
    case L_Q5_0: *d = ((const block_q5_0 *)w)[b].d; *m = 0; return;
    case L_Q5_1: *d = ((const block_q5_1 *)w)[b].d; *m = ((const block_q5_1 *)w)[b].m; return;
    default: *d = ((const block_iq4_nl *)w)[b].d; *m = 0; return;
    }
}

/* legacy_dots computes R rows' dots (xq[r], xd[r]) of one weight row: each
 * group of eight blocks is unpacked once, then every row takes its products,
 * block sums and float steps exactly as a single-row dot does. */
KILN_QA void legacy_dots(int ty, const void *w, const void *const *xq, const float *const *xd, int R, int64_t nb,
                         float *out) {
    const int is_signed = ty == L_Q4_0 || ty == L_Q5_0 || ty == L_IQ4_NL;
    const int has_min = !is_signed;
    const __m256i zero = _mm256_setzero_si256();
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int cnt = nb - b0 < 8 ? (int)(nb - b0) : 8;
        __m256i q[8];
        uint16_t dh[8] = {0}, mh[8] = {0};
        for (int t = 0; t < cnt; t++) {
            q[t] = quants(ty, w, b0 + t);
            scales(ty, w, b0 + t, &dh[t], &mh[t]);
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dh));
        const __m256 m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)mh));
        for (int r = 0; r < R; r++) {
            const int8_t *xr = (const int8_t *)xq[r];
            __m256i v[8], vx[8];
            float dx[8] = {0};
            for (int t = 0; t < 8; t++) {
                if (t >= cnt) {
                    v[t] = vx[t] = zero;
                    continue;
                }
                const __m256i x = _mm256_loadu_si256((const __m256i *)(xr + (b0 + t) * 32));
                v[t] = is_signed ? kiln_qa_dot32_s8(q[t], x) : kiln_qa_dot32_u8(q[t], x);
                /* Q4_1, Q5_1: X's block quant sum, Σ 1·x in pairs, then the pairs */
                vx[t] = has_min ? kiln_qa_dot32_u8(_mm256_set1_epi8(1), x) : zero;
                dx[t] = xd[r][b0 + t];
            }
            const __m256 sx = _mm256_loadu_ps(dx);
            const __m256 s = _mm256_cvtepi32_ps(kiln_qa_hsum8(v));
            acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_mul_ps(d, sx), s));
            if (has_min) {
                const __m256 xs = _mm256_cvtepi32_ps(kiln_qa_hsum8(vx));
                acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_mul_ps(m, sx), xs));
            }
        }
    }
    for (int r = 0; r < R; r++) out[r] = kiln_qa_lanes_sum(acc[r]);
}

#define LEGACY(ty, TY)                                                                                          \
    KILN_TARGET_AVX2 float kiln_dot_##ty##_avx2(const void *w, const void *xq, const float *xd, int64_t nb) {    \
        float out;                                                                                              \
        legacy_dots(TY, w, &xq, &xd, 1, nb, &out);                                                              \
        return out;                                                                                             \
    }                                                                                                           \
    KILN_TARGET_AVX2 void kiln_dot4_##ty##_avx2(const void *w, const void *const xq[4], const float *const xd[4], \
                                                int64_t nb, float out[4]) {                                     \
        legacy_dots(TY, w, xq, xd, 4, nb, out);                                                                 \
    }
LEGACY(q4_0, L_Q4_0)
LEGACY(q4_1, L_Q4_1)
LEGACY(q5_0, L_Q5_0)
LEGACY(q5_1, L_Q5_1)
LEGACY(iq4_nl, L_IQ4_NL)

#else
typedef int kiln_quant_legacy_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
