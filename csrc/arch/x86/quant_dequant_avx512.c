/* quant_dequant_avx512.c — AVX-512 dequantizers of the quantized weight
 * types (the embedding lookup, kiln_dequantize, kiln_get_rows).
 *
 * Quants are unpacked as the GEMMs unpack them (quant_pack_avx512.h),
 * made signed where the format is, converted to f32 16 at a time, and
 * scaled with exactly llama.cpp's dequantize_row_* float steps: the same
 * sub-block scale products (d*sc, dmin*m) as scalars, then one multiply
 * (and for formats with a min one subtract or add) per element, no fma.
 * So every element has the scalar reference's bits. */
#include "../../kernels.h"
#include "quant_pack_avx512.h"

#if KILN_X86

/* f16 q bytes at q (signed or not) to f32. */
KILN_QP __m512 q16_ps(const uint8_t *q, int is_signed) {
    const __m128i v = _mm_loadu_si128((const __m128i *)q);
    return _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v));
}

// y[n] = dequantized legacy blocks (n % 32 == 0).
KILN_QP void dq_legacy(kiln_qp_legacy ty, size_t bsz, const void *vx, float *y, int64_t n) {
    const int offset = kiln_qp_offset(ty), has_min = ty == KILN_QP_Q4_1 || ty == KILN_QP_Q5_1;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const uint8_t *blk = (const uint8_t *)vx + (size_t)i * bsz;
        uint16_t h[2];
        memcpy(h, blk, 4);
        const __m512 d = _mm512_set1_ps(kiln_fp16_to_fp32(h[0]));
        const __m512 m = _mm512_set1_ps(has_min ? kiln_fp16_to_fp32(h[1]) : 0.0f);
        _Alignas(32) uint8_t q[32];
        __m256i u = kiln_qp_legacy_u(ty, blk);
        if (offset) u = _mm256_sub_epi8(u, _mm256_set1_epi8((char)offset)); /* signed value (IQ4_NL: u - 128) */
        _mm256_store_si256((__m256i *)q, u);
        for (int c = 0; c < 2; c++) {
            __m512 v = q16_ps(q + 16 * c, offset != 0);
            if (ty == KILN_QP_IQ4_NL) v = _mm512_mul_ps(d, v); /* d * value */
            else v = _mm512_mul_ps(v, d);                      /* (q - offset) * d, q * d */
            if (has_min) v = _mm512_add_ps(v, m);
            _mm512_storeu_ps(y + 16 * c, v);
        }
    }
}

// y[n] = dequantized 256-element blocks (n % 256 == 0).
KILN_QP void dq_k(kiln_qp_ktype ty, size_t bsz, const void *vx, float *y, int64_t n) {
    for (int64_t i = 0; i < n / KILN_QK_K; i++, y += KILN_QK_K) {
        const uint8_t *blk = (const uint8_t *)vx + (size_t)i * bsz;
        _Alignas(64) uint8_t q[KILN_QK_K];
        kiln_qp_k_unpack(ty, blk, q);
        float dl[16], ml[16] = {0}; /* per 16 elements: y = dl*v - ml */
        int is_signed = 1, sub = 0;
        switch (ty) {
        case KILN_QP_Q2_K: {
            const block_q2_K *w = (const block_q2_K *)blk;
            const float d = kiln_fp16_to_fp32(w->d), min = kiln_fp16_to_fp32(w->dmin);
            /* element e's group in the reference's loop order is e / 16 */
            for (int g = 0; g < 16; g++) {
                dl[g] = d * (float)(w->scales[g] & 0xF);
                ml[g] = min * (float)(w->scales[g] >> 4);
            }
            is_signed = 0;
            break;
        }
        case KILN_QP_Q3_K: {
            const block_q3_K *w = (const block_q3_K *)blk;
            int8_t s[16];
            kiln_q3_K_scales(w->scales, s);
            const float d = kiln_fp16_to_fp32(w->d);
            for (int g = 0; g < 16; g++) dl[g] = d * (float)(s[g] - 32);
            sub = 4;
            break;
        }
        case KILN_QP_Q4_K:
        case KILN_QP_Q5_K: {
            uint16_t h[2];
            memcpy(h, blk, 4);
            const float d = kiln_fp16_to_fp32(h[0]), min = kiln_fp16_to_fp32(h[1]);
            for (int g = 0; g < 8; g++) {
                uint8_t sc, m;
                kiln_get_scale_min_k4(g, blk + 4, &sc, &m);
                dl[2 * g] = dl[2 * g + 1] = d * (float)sc;
                ml[2 * g] = ml[2 * g + 1] = min * (float)m;
            }
            is_signed = 0;
            break;
        }
        case KILN_QP_Q6_K: {
            const block_q6_K *w = (const block_q6_K *)blk;
            const float d = kiln_fp16_to_fp32(w->d);
            /* the reference: y = d * (float)sc * (float)q, sc of element e = scales[e / 16] */
            for (int g = 0; g < 16; g++) dl[g] = d * (float)w->scales[g];
            sub = 32;
            break;
        }
        default: {
            const block_iq4_xs *w = (const block_iq4_xs *)blk;
            const float d = kiln_fp16_to_fp32(w->d);
            for (int g = 0; g < 8; g++) dl[2 * g] = dl[2 * g + 1] = d * (float)kiln_iq4_xs_scale(w, g);
            sub = 128;
        }
        }
        if (sub)
            for (int c = 0; c < 8; c++) {
                __m256i *p = (__m256i *)(q + 32 * c);
                _mm256_store_si256(p, _mm256_sub_epi8(_mm256_load_si256(p), _mm256_set1_epi8((char)sub)));
            }
        const int has_min = ty == KILN_QP_Q2_K || ty == KILN_QP_Q4_K || ty == KILN_QP_Q5_K;
        for (int g = 0; g < 16; g++) {
            __m512 v = _mm512_mul_ps(_mm512_set1_ps(dl[g]), q16_ps(q + 16 * g, is_signed));
            if (has_min) v = _mm512_sub_ps(v, _mm512_set1_ps(ml[g]));
            _mm512_storeu_ps(y + 16 * g, v);
        }
    }
}

#define DQ_LEGACY(ty, TY, block)                                                                    \
    KILN_TARGET_AVX512VNNI void kiln_dequantize_##ty##_avx512(const void *x, float *y, int64_t n) { \
        dq_legacy(TY, sizeof(block), x, y, n);                                                      \
    }
#define DQ_K(ty, TY, block)                                                                         \
    KILN_TARGET_AVX512VNNI void kiln_dequantize_##ty##_avx512(const void *x, float *y, int64_t n) { \
        dq_k(TY, sizeof(block), x, y, n);                                                           \
    }
DQ_LEGACY(q4_0, KILN_QP_Q4_0, block_q4_0)
DQ_LEGACY(q4_1, KILN_QP_Q4_1, block_q4_1)
DQ_LEGACY(q5_0, KILN_QP_Q5_0, block_q5_0)
DQ_LEGACY(q5_1, KILN_QP_Q5_1, block_q5_1)
DQ_LEGACY(iq4_nl, KILN_QP_IQ4_NL, block_iq4_nl)
DQ_K(q2_K, KILN_QP_Q2_K, block_q2_K)
DQ_K(q3_K, KILN_QP_Q3_K, block_q3_K)
DQ_K(q4_K, KILN_QP_Q4_K, block_q4_K)
DQ_K(q5_K, KILN_QP_Q5_K, block_q5_K)
DQ_K(q6_K, KILN_QP_Q6_K, block_q6_K)
DQ_K(iq4_xs, KILN_QP_IQ4_XS, block_iq4_xs)

#else
typedef int kiln_quant_dequant_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
