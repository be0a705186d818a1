/* r16_transpose_x86.h — the dword transposes every 16-row group unpack is
 * made of (r16_unpack_x86.c, r16_unpack_k_x86.c, r16_unpack_q5_x86.c).
 *
 * Why one place: the repacked layouts keep a group's quants as vectors whose
 * dword j is 4 bytes of row j; 8 such vectors in a row are 32 bytes of each
 * of the 16 rows. Q8_0_R16, Q4_K_R16, Q5_K_R16, IQ4_XS_R16 and (after its
 * bit shuffles) Q6_K_R16 all go back to rows through this one transpose:
 * unpacks of dwords and qwords, then lane permutes, then one 32-byte store
 * per row. A block's head (f16 scales and the like, which the layouts keep
 * as 16 rows' halfwords or dwords in a row) goes back by the smaller
 * transposes at the end. Include only from x86 units, after immintrin.h. */
#ifndef KILN_R16_TRANSPOSE_X86_H
#define KILN_R16_TRANSPOSE_X86_H

/* rows16_from_quads_avx512 writes v (vector c, dword j = bytes 4c..4c+3 of
 * row j) as 32 bytes of each of 16 rows, row j at out + j·stride. */
KILN_TARGET_AVX512 KILN_INLINE void rows16_from_quads_avx512(const __m512i v[8], char *out, size_t stride) {
    /* 64-bit lane picks: rows 4L+i of two u vectors (quads 0-3 in a, 4-7 in b) for L = 0,1 and L = 2,3 */
    const __m512i lo_rows = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi_rows = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512i t[8], u[8];
    for (int c = 0; c < 8; c += 2) { /* per 128-bit lane L: rows 4L, 4L+1 (t[c]); 4L+2, 4L+3 (t[c+1]) of quads c, c+1 */
        t[c] = _mm512_unpacklo_epi32(v[c], v[c + 1]);
        t[c + 1] = _mm512_unpackhi_epi32(v[c], v[c + 1]);
    }
    for (int h = 0; h < 8; h += 4) { /* u[h + i], lane L: quads h..h+3 of row 4L+i */
        u[h + 0] = _mm512_unpacklo_epi64(t[h], t[h + 2]);
        u[h + 1] = _mm512_unpackhi_epi64(t[h], t[h + 2]);
        u[h + 2] = _mm512_unpacklo_epi64(t[h + 1], t[h + 3]);
        u[h + 3] = _mm512_unpackhi_epi64(t[h + 1], t[h + 3]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512i r01 = _mm512_permutex2var_epi64(u[i], lo_rows, u[4 + i]); /* rows i, 4+i */
        const __m512i r23 = _mm512_permutex2var_epi64(u[i], hi_rows, u[4 + i]); /* rows 8+i, 12+i */
        _mm256_storeu_si256((__m256i *)(out + (size_t)i * stride), _mm512_castsi512_si256(r01));
        _mm256_storeu_si256((__m256i *)(out + (size_t)(4 + i) * stride), _mm512_extracti64x4_epi64(r01, 1));
        _mm256_storeu_si256((__m256i *)(out + (size_t)(8 + i) * stride), _mm512_castsi512_si256(r23));
        _mm256_storeu_si256((__m256i *)(out + (size_t)(12 + i) * stride), _mm512_extracti64x4_epi64(r23, 1));
    }
}

/* rows8_from_quads_avx2 writes v (vector c, dword r = bytes 4c..4c+3 of
 * row r) as 32 bytes of each of 8 rows, row r at out + r·stride: half of a
 * group, as AVX2 holds half of each 64-byte vector. */
KILN_TARGET_AVX2 KILN_INLINE void rows8_from_quads_avx2(const __m256i v[8], char *out, size_t stride) {
    __m256i t[8], u[8];
    for (int c = 0; c < 8; c += 2) {
        t[c] = _mm256_unpacklo_epi32(v[c], v[c + 1]);
        t[c + 1] = _mm256_unpackhi_epi32(v[c], v[c + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        u[h + 0] = _mm256_unpacklo_epi64(t[h], t[h + 2]);
        u[h + 1] = _mm256_unpackhi_epi64(t[h], t[h + 2]);
        u[h + 2] = _mm256_unpacklo_epi64(t[h + 1], t[h + 3]);
        u[h + 3] = _mm256_unpackhi_epi64(t[h + 1], t[h + 3]);
    }
    for (int i = 0; i < 4; i++) { /* row i: lane 0 of u[i], u[4+i]; row 4+i: lane 1 */
        _mm256_storeu_si256((__m256i *)(out + (size_t)i * stride), _mm256_permute2x128_si256(u[i], u[4 + i], 0x20));
        _mm256_storeu_si256((__m256i *)(out + (size_t)(4 + i) * stride), _mm256_permute2x128_si256(u[i], u[4 + i], 0x31));
    }
}

/* rows16_from_4quads_avx512 writes v (vector c < 4, dword j = bytes
 * 4c..4c+3 of row j) as 16 bytes of each of 16 rows, row j at out + j·stride. */
KILN_TARGET_AVX512 KILN_INLINE void rows16_from_4quads_avx512(const __m512i v[4], char *out, size_t stride) {
    const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    const __m512i r[4] = {_mm512_unpacklo_epi64(t0, t2), _mm512_unpackhi_epi64(t0, t2), /* lane L: row 4L + i */
                          _mm512_unpacklo_epi64(t1, t3), _mm512_unpackhi_epi64(t1, t3)};
    for (int i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(out + (size_t)i * stride), _mm512_castsi512_si128(r[i]));
        _mm_storeu_si128((__m128i *)(out + (size_t)(4 + i) * stride), _mm512_extracti32x4_epi32(r[i], 1));
        _mm_storeu_si128((__m128i *)(out + (size_t)(8 + i) * stride), _mm512_extracti32x4_epi32(r[i], 2));
        _mm_storeu_si128((__m128i *)(out + (size_t)(12 + i) * stride), _mm512_extracti32x4_epi32(r[i], 3));
    }
}

/* rows8_from_4quads_avx2 is rows16_from_4quads_avx512 for 8 rows. */
KILN_TARGET_AVX2 KILN_INLINE void rows8_from_4quads_avx2(const __m256i v[4], char *out, size_t stride) {
    const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i r[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2), /* lane L: row 4L + i */
                          _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    for (int i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *)(out + (size_t)i * stride), _mm256_castsi256_si128(r[i]));
        _mm_storeu_si128((__m128i *)(out + (size_t)(4 + i) * stride), _mm256_extracti128_si256(r[i], 1));
    }
}

/* put_qwords writes the two rows' 8 bytes in x: row r at out, row r + 1 at out + stride. */
KILN_INLINE void put_qwords(__m128i x, char *out, size_t stride) {
    _mm_storel_epi64((__m128i *)out, x);
    _mm_storeh_pd((double *)(out + stride), _mm_castsi128_pd(x));
}

/* pairs16_avx512 is dword j = the f16 at a + 2j | the one at b + 2j << 16:
 * a block's two leading f16s (d and dmin or m, IQ4_XS's d and scales_h)
 * as the layouts keep them, 16 rows' of each in a row. */
KILN_TARGET_AVX512 KILN_INLINE __m512i pairs16_avx512(const uint8_t *a, const uint8_t *b) {
    const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)a));
    const __m512i hi = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)b));
    return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

/* pairs8_avx2 is pairs16_avx512 for rows 8·half .. 8·half + 7. */
KILN_TARGET_AVX2 KILN_INLINE __m256i pairs8_avx2(const uint8_t *a, const uint8_t *b, int half) {
    const __m256i lo = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(a + 16 * half)));
    const __m256i hi = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(b + 16 * half)));
    return _mm256_or_si256(lo, _mm256_slli_epi32(hi, 16));
}

/* rows16_heads8_avx512 writes 8 bytes at the start of each of 16 rows: row
 * j's are dword j of a, then dword j of c (a 2×16 dword transpose). */
KILN_TARGET_AVX512 KILN_INLINE void rows16_heads8_avx512(__m512i a, __m512i c, char *out, size_t stride) {
    const __m512i lo = _mm512_unpacklo_epi32(a, c), hi = _mm512_unpackhi_epi32(a, c); /* lane L: rows 4L, 4L+1 | 4L+2, 4L+3 */
    put_qwords(_mm512_castsi512_si128(lo), out, stride);
    put_qwords(_mm512_castsi512_si128(hi), out + 2 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(lo, 1), out + 4 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(hi, 1), out + 6 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(lo, 2), out + 8 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(hi, 2), out + 10 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(lo, 3), out + 12 * stride, stride);
    put_qwords(_mm512_extracti32x4_epi32(hi, 3), out + 14 * stride, stride);
}

/* rows8_heads8_avx2 is rows16_heads8_avx512 for 8 rows. */
KILN_TARGET_AVX2 KILN_INLINE void rows8_heads8_avx2(__m256i a, __m256i c, char *out, size_t stride) {
    const __m256i lo = _mm256_unpacklo_epi32(a, c), hi = _mm256_unpackhi_epi32(a, c);
    put_qwords(_mm256_castsi256_si128(lo), out, stride);
    put_qwords(_mm256_castsi256_si128(hi), out + 2 * stride, stride);
    put_qwords(_mm256_extracti128_si256(lo, 1), out + 4 * stride, stride);
    put_qwords(_mm256_extracti128_si256(hi, 1), out + 6 * stride, stride);
}

#endif
