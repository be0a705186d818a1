/* quant_pack_k_avx2.h — unpacking a K-quant super-block (Q2_K … Q6_K,
 * IQ4_XS) into its 256 quants as unsigned bytes in element order, and the
 * int16 pair the packers put scales in: what the AVX2 and the AVX-512 VNNI
 * GEMMs (quant_gemm_k_*.c) and the AVX-512 dequantizers share. AVX2
 * instructions only, so the AVX-512 code inlines the same functions. */
#ifndef KILN_QUANT_PACK_K_AVX2_H
#define KILN_QUANT_PACK_K_AVX2_H

#include "quant_avx2.h"

#if KILN_X86

/* The 256-element types the GEMM and the dequantizers unpack. */
typedef enum { KILN_QP_Q2_K, KILN_QP_Q3_K, KILN_QP_Q4_K, KILN_QP_Q5_K, KILN_QP_Q6_K, KILN_QP_IQ4_XS } kiln_qp_ktype;

/* kiln_qp_groups16: the type's scales are per 16 elements (else per 32). */
#define kiln_qp_groups16(ty) ((ty) == KILN_QP_Q2_K || (ty) == KILN_QP_Q3_K || (ty) == KILN_QP_Q6_K)

KILN_QA uint32_t kiln_qp_pair16(int a, int b) { return (uint32_t)(uint16_t)(int16_t)a | (uint32_t)(uint16_t)(int16_t)b << 16; }

/* kiln_qp_k_unpack: the super-block's 256 quants, unsigned, in element order. */
KILN_QA void kiln_qp_k_unpack(kiln_qp_ktype ty, const uint8_t *blk, uint8_t *q) {
    const __m256i low4 = _mm256_set1_epi8(0xF);
    switch (ty) {
    case KILN_QP_Q2_K:
    case KILN_QP_Q3_K: { /* 2-bit planes; Q3_K adds 4 where its hmask bit is set (q + 4) */
        const uint8_t *qs = blk + (ty == KILN_QP_Q2_K ? 16 : 32);
        const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
        const __m256i hm = ty == KILN_QP_Q3_K ? _mm256_loadu_si256((const __m256i *)blk) : _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * half));
            for (int j = 0; j < 4; j++) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(v, 2 * j), three);
                if (ty == KILN_QP_Q3_K)
                    u = _mm256_or_si256(u, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, 4 * half + j), one), 2));
                _mm256_store_si256((__m256i *)(q + 128 * half + 32 * j), u);
            }
        }
        break;
    }
    case KILN_QP_Q4_K:
    case KILN_QP_Q5_K: {
        const uint8_t *qs = blk + (ty == KILN_QP_Q5_K ? 48 : 16);
        const __m256i hb = ty == KILN_QP_Q5_K ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
        const __m256i one = _mm256_set1_epi8(1);
        for (int c = 0; c < 4; c++) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
            __m256i lo = _mm256_and_si256(q4, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
            if (ty == KILN_QP_Q5_K) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * c + 1), one), 4));
            }
            _mm256_store_si256((__m256i *)(q + 64 * c), lo);
            _mm256_store_si256((__m256i *)(q + 64 * c + 32), hi);
        }
        break;
    }
    case KILN_QP_Q6_K: {
        const block_q6_K *w = (const block_q6_K *)blk;
        const __m256i three = _mm256_set1_epi8(3);
        for (int half = 0; half < 2; half++) {
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half));
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half + 32));
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * half));
            uint8_t *o = q + 128 * half;
            _mm256_store_si256((__m256i *)o, _mm256_or_si256(_mm256_and_si256(ql0, low4),
                                                             _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)));
            _mm256_store_si256((__m256i *)(o + 32),
                               _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)));
            _mm256_store_si256((__m256i *)(o + 64),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)));
            _mm256_store_si256((__m256i *)(o + 96),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)));
        }
        break;
    }
    default: { /* IQ4_XS: value + 128 = value ^ 0x80 */
        const block_iq4_xs *w = (const block_iq4_xs *)blk;
        const __m256i table = _mm256_xor_si256(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)), _mm256_set1_epi8((char)0x80));
        for (int ib = 0; ib < 8; ib++)
            _mm256_store_si256((__m256i *)(q + 32 * ib), _mm256_shuffle_epi8(table, kiln_qa_nibbles32(w->qs + 16 * ib)));
    }
    }
}

/* kiln_qp_kscales is a super-block's scales as the GEMMs apply them, in
 * integers: sc[g] multiplies the quant dot of group g (16 groups of 16 for
 * Q2_K, Q3_K, Q6_K; 8 of 32 for the others), pair[p] holds the int16 pair
 * (a, b) that multiplies X's 16-element sums (bsums[2p], bsums[2p+1]):
 * Q4_K/Q5_K (mn_p, mn_p), Q2_K (mn_2p, mn_2p+1), Q3_K/Q6_K (sc_2p, sc_2p+1),
 * IQ4_XS (sc_p, sc_p) — the min sum, or the weight of the unsigned quants'
 * offset (Q3_K 4, Q6_K 32, IQ4_XS 128). d and dmin are the f16 scales as
 * f32 (dmin 0 where the type has none). */
typedef struct {
    float d, dmin;
    int sc[16];
    uint32_t pair[8];
} kiln_qp_kscales;

/* kiln_qp_k_scales decodes the scales of super-block blk of type ty. */
KILN_QA void kiln_qp_k_scales(kiln_qp_ktype ty, const uint8_t *blk, kiln_qp_kscales *s) {
    memset(s, 0, sizeof *s); /* 8-group types leave sc[8..15] zero */
    switch (ty) {
    case KILN_QP_Q2_K: {
        const block_q2_K *w = (const block_q2_K *)blk;
        s->d = kiln_fp16_to_fp32(w->d);
        s->dmin = kiln_fp16_to_fp32(w->dmin);
        for (int g = 0; g < 16; g++) s->sc[g] = w->scales[g] & 0xF;
        for (int p = 0; p < 8; p++) s->pair[p] = kiln_qp_pair16(w->scales[2 * p] >> 4, w->scales[2 * p + 1] >> 4);
        break;
    }
    case KILN_QP_Q3_K: {
        const block_q3_K *w = (const block_q3_K *)blk;
        int8_t s16[16];
        kiln_q3_K_scales(w->scales, s16);
        s->d = kiln_fp16_to_fp32(w->d);
        for (int g = 0; g < 16; g++) s->sc[g] = s16[g] - 32;
        for (int p = 0; p < 8; p++) s->pair[p] = kiln_qp_pair16(s16[2 * p] - 32, s16[2 * p + 1] - 32);
        break;
    }
    case KILN_QP_Q4_K:
    case KILN_QP_Q5_K: {
        uint16_t h[2];
        memcpy(h, blk, 4);
        s->d = kiln_fp16_to_fp32(h[0]);
        s->dmin = kiln_fp16_to_fp32(h[1]);
        for (int g = 0; g < 8; g++) {
            uint8_t sc, m;
            kiln_get_scale_min_k4(g, blk + 4, &sc, &m);
            s->sc[g] = sc;
            s->pair[g] = kiln_qp_pair16(m, m);
        }
        break;
    }
    case KILN_QP_Q6_K: {
        const block_q6_K *w = (const block_q6_K *)blk;
        s->d = kiln_fp16_to_fp32(w->d);
        for (int g = 0; g < 16; g++) s->sc[g] = w->scales[g];
        for (int p = 0; p < 8; p++) s->pair[p] = kiln_qp_pair16(w->scales[2 * p], w->scales[2 * p + 1]);
        break;
    }
    default: {
        const block_iq4_xs *w = (const block_iq4_xs *)blk;
        s->d = kiln_fp16_to_fp32(w->d);
        for (int g = 0; g < 8; g++) {
            s->sc[g] = kiln_iq4_xs_scale(w, g);
            s->pair[g] = kiln_qp_pair16(s->sc[g], s->sc[g]);
        }
    }
    }
}

#endif /* KILN_X86 */
#endif /* KILN_QUANT_PACK_K_AVX2_H */
