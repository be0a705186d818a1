/* quant_avx2.h — AVX2 helpers the quantized-type dot products share:
 * unpacking nibbles and bit planes to bytes, int8 dots into exact int32
 * lanes, and horizontal integer sums. Integer arithmetic only, so every
 * helper is exact and the float part stays the reference's (quant.h). */
#ifndef KILN_QUANT_AVX2_H
#define KILN_QUANT_AVX2_H

#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>

#define KILN_QA KILN_INLINE KILN_TARGET_AVX2

/* nibbles32: 16 bytes -> 32 bytes, low nibbles first (elements 0..15), then high. */
KILN_QA __m256i kiln_qa_nibbles32(const uint8_t *p) {
    const __m128i t = _mm_loadu_si128((const __m128i *)p);
    const __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(t), _mm_srli_epi16(t, 4), 1);
    return _mm256_and_si256(b, _mm256_set1_epi8(0xF));
}

/* bits32: byte e = 0xFF if bit e of the 32-bit word at p is set, else 0. */
KILN_QA __m256i kiln_qa_bits32(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

/* dot16_s8: pairwise int16 sums of q·x for signed q (|q·x| pair sums fit int16). */
KILN_QA __m256i kiln_qa_dot16_s8(__m256i q, __m256i x) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
}

/* dot32_s8 / dot32_u8: 8 int32 lanes whose sum is Σ q·x (q signed / q unsigned 0..63). */
KILN_QA __m256i kiln_qa_dot32_s8(__m256i q, __m256i x) {
    return _mm256_madd_epi16(kiln_qa_dot16_s8(q, x), _mm256_set1_epi16(1));
}
KILN_QA __m256i kiln_qa_dot32_u8(__m256i q, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, x), _mm256_set1_epi16(1));
}

/* hsum8: one int32 per input vector, the sum of its lanes: lane t = Σ v[t]. */
KILN_QA __m256i kiln_qa_hsum8(const __m256i v[8]) {
    const __m256i s01 = _mm256_hadd_epi32(v[0], v[1]), s23 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i s45 = _mm256_hadd_epi32(v[4], v[5]), s67 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i a = _mm256_hadd_epi32(s01, s23), b = _mm256_hadd_epi32(s45, s67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* hsum: the sum of v's eight int32 lanes. */
KILN_QA int32_t kiln_qa_hsum(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* f16: one half to float, exactly (as kiln_fp16_to_fp32 for every finite value). */
KILN_QA float kiln_qa_f16(uint16_t h) { return _cvtsh_ss(h); }

/* kiln_qa_lanes_sum8 is the fixed sum of eight lane vectors, output by
 * output (kiln_qp_lanes_sum16's order, eight outputs a vector). */
KILN_QA __m256 kiln_qa_lanes_sum8(const __m256 l[8]) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),
                         _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7])));
}

/* lanes_sum: the fixed final sum (kiln_q_lanes_sum) of a vector of lanes. */
KILN_QA float kiln_qa_lanes_sum(__m256 acc) {
    float l[8];
    _mm256_storeu_ps(l, acc);
    return kiln_q_lanes_sum(l);
}

#endif /* KILN_X86 */
#endif /* KILN_QUANT_AVX2_H */
