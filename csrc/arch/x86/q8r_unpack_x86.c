/* q8r_unpack_x86.c — Q8_0_R16 groups back to GGUF Q8_0 rows with AVX-512
 * and AVX2 (the portable kiln_q8r_unpack of matmul_q8r.c, same bytes).
 *
 * Why: prefill runs a repacked weight's GEMM on rows unpacked from the
 * repacked copy (repack.c's kiln_mm_r16_unpacked), every call, so a process
 * holds each weight once. For Q8_0 the portable unpack moves one 4-byte quad
 * at a time (128 loads and stores per 512-byte block, at most ~30% of an
 * l1b pp128 prefill's time); here a block is a transpose of 8 quad vectors
 * (lane j = row j) into 16 rows of 32 bytes: 8 loads, 8 XORs, 16 unpacks and
 * 8 lane permutes, then one 32-byte store per row.
 *
 * Block b of a group: quad c (c = 0..7) of row j at 64·c + 4·j of its
 * 512 bytes, each byte w ^ 0x80; row j's scale at 2·j of the pair's
 * 32-byte scale half (matmul_q8r.c). */
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include <string.h>

enum { Q8R_BLOCK_QUANTS = 512 /* bytes of quants of one block of a group */ };

/* q8r_scales copies block b's 16 f16 scales to the rows' blocks. */
KILN_INLINE void q8r_scales(const uint8_t *pair, int64_t b, char *rows, size_t row_bytes) {
    const uint8_t *d = pair + (size_t)(b & 1) * 32;
    for (int j = 0; j < KILN_R16_ROWS; j++) memcpy(rows + (size_t)j * row_bytes + (size_t)b * sizeof(block_q8_0), d + 2 * j, 2);
}

KILN_TARGET_AVX512 void kiln_q8r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    /* 64-bit lane picks: rows 4L+i of two u vectors (quads 0-3 in a, 4-7 in b) for L = 0,1 and L = 2,3 */
    const __m512i lo_rows = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi_rows = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q8R_PAIR_BYTES;
        const uint8_t *q = pair + 64 + (size_t)(b & 1) * Q8R_BLOCK_QUANTS;
        q8r_scales(pair, b, rows, row_bytes);
        __m512i v[8], t[8], u[8];
        for (int c = 0; c < 8; c++) v[c] = _mm512_xor_si512(_mm512_loadu_si512(q + 64 * c), flip);
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
        char *qs = rows + (size_t)b * sizeof(block_q8_0) + offsetof(block_q8_0, qs);
        for (int i = 0; i < 4; i++) {
            const __m512i r01 = _mm512_permutex2var_epi64(u[i], lo_rows, u[4 + i]); /* rows i, 4+i */
            const __m512i r23 = _mm512_permutex2var_epi64(u[i], hi_rows, u[4 + i]); /* rows 8+i, 12+i */
            _mm256_storeu_si256((__m256i *)(qs + (size_t)i * row_bytes), _mm512_castsi512_si256(r01));
            _mm256_storeu_si256((__m256i *)(qs + (size_t)(4 + i) * row_bytes), _mm512_extracti64x4_epi64(r01, 1));
            _mm256_storeu_si256((__m256i *)(qs + (size_t)(8 + i) * row_bytes), _mm512_castsi512_si256(r23));
            _mm256_storeu_si256((__m256i *)(qs + (size_t)(12 + i) * row_bytes), _mm512_extracti64x4_epi64(r23, 1));
        }
    }
}

KILN_TARGET_AVX2 void kiln_q8r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q8R_PAIR_BYTES;
        const uint8_t *q = pair + 64 + (size_t)(b & 1) * Q8R_BLOCK_QUANTS;
        q8r_scales(pair, b, rows, row_bytes);
        char *qs = rows + (size_t)b * sizeof(block_q8_0) + offsetof(block_q8_0, qs);
        for (int half = 0; half < 2; half++) { /* rows 8·half .. 8·half+7: an 8×8 transpose of quads */
            __m256i v[8], t[8], u[8];
            for (int c = 0; c < 8; c++)
                v[c] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 64 * c + 32 * half)), flip);
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
            char *out = qs + (size_t)(8 * half) * row_bytes;
            for (int i = 0; i < 4; i++) { /* row i: lane 0 of u[i], u[4+i]; row 4+i: lane 1 */
                _mm256_storeu_si256((__m256i *)(out + (size_t)i * row_bytes), _mm256_permute2x128_si256(u[i], u[4 + i], 0x20));
                _mm256_storeu_si256((__m256i *)(out + (size_t)(4 + i) * row_bytes),
                                    _mm256_permute2x128_si256(u[i], u[4 + i], 0x31));
            }
        }
    }
}

#else
typedef int kiln_q8r_unpack_x86_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
