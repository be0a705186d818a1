/* kr16_scales.h — the scale and min planes that Q4_K_R16 and Q5_K_R16 share
 * (matmul_q4kr.c, matmul_q5kr.c: three 64-byte dword planes per super-block,
 * row j's 12 packed bytes at 4j of each), decoded for 16 rows at once by
 * both layouts' GEMVs (matmul_q4kr_avx512.c / _avx2.c, matmul_q5kr_*.c):
 * kiln_get_scale_min_k4 for every row, lane j = row j. */
#ifndef KILN_KR16_SCALES_H
#define KILN_KR16_SCALES_H

#include "../../kiln_internal.h"

#if KILN_X86
#include <immintrin.h>

/* AVX-512 VPSHUFB controls: byte s of every dword zero-extended to int32
 * (scale of sub-block s, s = 0..3 within its dword), and bytes 2t, 2t+1 of
 * every dword as an int16 pair (mins of sub-blocks 2t, 2t+1, t = 0..1). */
#define KILN_KR16_BYTE_CTL(s) _mm512_set4_epi32((int)(0x80808000u | (12 + (s))), (int)(0x80808000u | (8 + (s))), \
                                               (int)(0x80808000u | (4 + (s))), (int)(0x80808000u | (s)))
#define KILN_KR16_PAIR_CTL(t)                                                                      \
    _mm512_set4_epi32((int)(0x80008000u | (13 + 2 * (t)) << 16 | (12 + 2 * (t))),                  \
                      (int)(0x80008000u | (9 + 2 * (t)) << 16 | (8 + 2 * (t))),                    \
                      (int)(0x80008000u | (5 + 2 * (t)) << 16 | (4 + 2 * (t))),                    \
                      (int)(0x80008000u | (1 + 2 * (t)) << 16 | (2 * (t))))

/* kiln_kr16_decode_avx512 unpacks the 16 rows' scales and mins from the
 * planes at p: sc[0] bytes = scales 0..3, sc[1] = scales 4..7, mn[0], mn[1]
 * the mins alike. */
KILN_TARGET_AVX512VNNI KILN_INLINE void kiln_kr16_decode_avx512(const uint8_t *p, __m512i sc[2], __m512i mn[2]) {
    const __m512i u0 = _mm512_loadu_si512(p), u1 = _mm512_loadu_si512(p + 64), u2 = _mm512_loadu_si512(p + 128);
    const __m512i k3f = _mm512_set1_epi32(0x3f3f3f3f), k0f = _mm512_set1_epi32(0x0f0f0f0f),
                  k30 = _mm512_set1_epi32(0x30303030);
    sc[0] = _mm512_and_si512(u0, k3f);
    mn[0] = _mm512_and_si512(u1, k3f);
    /* scale 4+i: low 4 bits from byte 8+i, high 2 from the top of byte i; min 4+i: byte 8+i's high nibble, byte 4+i's top */
    sc[1] = _mm512_or_si512(_mm512_and_si512(u2, k0f), _mm512_and_si512(_mm512_srli_epi32(u0, 2), k30));
    mn[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u2, 4), k0f), _mm512_and_si512(_mm512_srli_epi32(u1, 2), k30));
}

/* AVX2 VPSHUFB controls (per 128-bit lane): byte s of every dword as the
 * int16 pair (b, b) (scale of sub-block s within its dword), and bytes 2t,
 * 2t+1 as an int16 pair (mins of sub-blocks 2t, 2t+1). */
#define KILN_KR16_SCALE_CTL2(s)                                                                             \
    _mm256_setr_epi8((s), -128, (s), -128, 4 + (s), -128, 4 + (s), -128, 8 + (s), -128, 8 + (s), -128,     \
                     12 + (s), -128, 12 + (s), -128, (s), -128, (s), -128, 4 + (s), -128, 4 + (s), -128,    \
                     8 + (s), -128, 8 + (s), -128, 12 + (s), -128, 12 + (s), -128)
#define KILN_KR16_PAIR_CTL2(t)                                                                              \
    _mm256_setr_epi8(2 * (t), -128, 2 * (t) + 1, -128, 4 + 2 * (t), -128, 5 + 2 * (t), -128, 8 + 2 * (t), \
                     -128, 9 + 2 * (t), -128, 12 + 2 * (t), -128, 13 + 2 * (t), -128, 2 * (t), -128,         \
                     2 * (t) + 1, -128, 4 + 2 * (t), -128, 5 + 2 * (t), -128, 8 + 2 * (t), -128,            \
                     9 + 2 * (t), -128, 12 + 2 * (t), -128, 13 + 2 * (t), -128)

/* kiln_kr16_decode_avx2 unpacks the scales and mins of rows 8h..8h+7 from
 * the planes at p (lane j = row 8h+j), as kiln_kr16_decode_avx512. */
KILN_TARGET_AVX2 KILN_INLINE void kiln_kr16_decode_avx2(const uint8_t *p, int h, __m256i sc[2], __m256i mn[2]) {
    const uint8_t *s = p + 32 * h;
    const __m256i u0 = _mm256_loadu_si256((const __m256i *)s), u1 = _mm256_loadu_si256((const __m256i *)(s + 64)),
                  u2 = _mm256_loadu_si256((const __m256i *)(s + 128));
    const __m256i k3f = _mm256_set1_epi32(0x3f3f3f3f), k0f = _mm256_set1_epi32(0x0f0f0f0f),
                  k30 = _mm256_set1_epi32(0x30303030);
    sc[0] = _mm256_and_si256(u0, k3f);
    mn[0] = _mm256_and_si256(u1, k3f);
    sc[1] = _mm256_or_si256(_mm256_and_si256(u2, k0f), _mm256_and_si256(_mm256_srli_epi32(u0, 2), k30));
    mn[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), k0f), _mm256_and_si256(_mm256_srli_epi32(u1, 2), k30));
}

#endif
#endif
