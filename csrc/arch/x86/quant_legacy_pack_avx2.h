/* quant_legacy_pack_avx2.h — what the AVX2 GEMM and GEMV of the 32-element
 * weight types (quant_gemm_legacy_avx2.c, quant_gemv_legacy_avx2.c) share:
 * the types' block layouts, their quants as bytes, X block sums and an
 * 8x8 int32 transpose. Integer work only, so every helper is exact.
 *
 * vpmaddubsw multiplies unsigned bytes (first operand) by signed bytes
 * (second) and adds adjacent pairs into int16 with saturation. The kernels
 * keep its first operand the weights, made unsigned where the format allows
 * (Q4_0 and Q5_0 quants without their offset, u = q in 0..15 / 0..31; Q4_1
 * and Q5_1 are unsigned already), and take the offset's share, offset·Σx,
 * off the exact int32 sum afterwards; IQ4_NL's values (-127..113) use the
 * sign trick instead: |v| against x·sign(v). X is Q8_0-quantized, so
 * |x| <= 127 (quantize_row_q8_0_ref rounds x/d with d = amax/127). */
#ifndef KILN_QUANT_LEGACY_PACK_AVX2_H
#define KILN_QUANT_LEGACY_PACK_AVX2_H

#include "quant_avx2.h"

#if KILN_X86

#define KILN_LA KILN_INLINE KILN_TARGET_AVX2

typedef enum { KILN_LA_Q4_0, KILN_LA_Q4_1, KILN_LA_Q5_0, KILN_LA_Q5_1, KILN_LA_IQ4_NL } kiln_la_type;

/* kiln_la_offset is what the unsigned quants carry above the format's
 * signed ones (Σ q·x = Σ u·x − offset·Σx); 0 for the others. */
KILN_LA int kiln_la_offset(kiln_la_type ty) { return ty == KILN_LA_Q4_0 ? 8 : ty == KILN_LA_Q5_0 ? 16 : 0; }
/* kiln_la_has_min: the block has an f16 min m beside d (x = d·q + m). */
KILN_LA int kiln_la_has_min(kiln_la_type ty) { return ty == KILN_LA_Q4_1 || ty == KILN_LA_Q5_1; }
/* kiln_la_five: the quants have a fifth bit (qh). */
KILN_LA int kiln_la_five(kiln_la_type ty) { return ty == KILN_LA_Q5_0 || ty == KILN_LA_Q5_1; }
/* Byte offsets of the nibbles (qs) and the fifth bits (qh) in a block. */
KILN_LA int kiln_la_qs(kiln_la_type ty) {
    return ty == KILN_LA_Q4_1 ? 4 : ty == KILN_LA_Q5_0 ? 6 : ty == KILN_LA_Q5_1 ? 8 : 2;
}
KILN_LA int kiln_la_qh(kiln_la_type ty) { return ty == KILN_LA_Q5_1 ? 4 : 2; }

/* kiln_la_f16 reads the f16 at p (a scale inside a block). */
KILN_LA uint16_t kiln_la_f16(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* kiln_la_iq4_table is IQ4_NL's 16 values in both 128-bit lanes. */
KILN_LA __m256i kiln_la_iq4_table(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values));
}

/* kiln_la_quants: a block's 32 quants in element order: u (unsigned, see
 * above) for the Q types, the signed values for IQ4_NL. */
KILN_LA __m256i kiln_la_quants(kiln_la_type ty, const uint8_t *blk) {
    __m256i q = kiln_qa_nibbles32(blk + kiln_la_qs(ty));
    if (kiln_la_five(ty)) q = _mm256_or_si256(q, _mm256_and_si256(kiln_qa_bits32(blk + kiln_la_qh(ty)), _mm256_set1_epi8(0x10)));
    if (ty == KILN_LA_IQ4_NL) q = _mm256_shuffle_epi8(kiln_la_iq4_table(), q);
    return q;
}

/* kiln_la_block_sums: out[s] = Σ of the 32 int8 of block s of x, for s < n;
 * out has room for n rounded up to 8 (the rest is written with zeros).
 * vpmaddubsw(1, x) pairs are |x0 + x1| <= 256, so nothing saturates. */
KILN_LA void kiln_la_block_sums(const int8_t *x, int64_t n, int32_t *out) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t s0 = 0; s0 < n; s0 += 8) {
        __m256i v[8];
        for (int t = 0; t < 8; t++)
            v[t] = s0 + t < n ? _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, _mm256_loadu_si256((const __m256i *)(x + (s0 + t) * 32))), ones16)
                              : _mm256_setzero_si256();
        _mm256_storeu_si256((__m256i *)(out + s0), kiln_qa_hsum8(v));
    }
}

/* kiln_la_transpose8 transposes 8 vectors of 8 int32 lanes: out[p] lane r = in[r] lane p. */
KILN_LA void kiln_la_transpose8(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3, rows 4-7 */
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);     /* lanes 0 | 4 */
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);     /* lanes 1 | 5 */
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]); /* lanes 2 | 6 */
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]); /* lanes 3 | 7 */
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
        out[i + 4] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
    }
}

/* kiln_la_keep pins a vector to a register after each step: without it the
 * compiler reassociates a block's chain of adds into a tree, computes all
 * products first and spills them. */
KILN_LA void kiln_la_keep(__m256i *v) { __asm__("" : "+x"(*v)); }

#endif /* KILN_X86 */
#endif /* KILN_QUANT_LEGACY_PACK_AVX2_H */
