/* r16_unpack_x86.c — repacked groups back to GGUF rows with AVX-512 and
 * AVX2: the same bytes as the formats' portable unpacks (matmul_q8r.c,
 * matmul_q6r.c), for the types whose portable unpack costs prefill most.
 *
 * Why: prefill runs a repacked weight's GEMM on rows unpacked from the
 * repacked copy (repack.c's kiln_mm_r16_unpacked), every call, so a process
 * holds each weight once. The portable unpacks move a quad or a quant at a
 * time: for Q8_0 at most ~30% of an l1b pp128 prefill's time, for Q6_K
 * more than its AMX GEMM. Here the quads of a group (lane j = row j) are
 * transposed into rows with unpacks and lane permutes. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include <string.h>

enum { Q8R_BLOCK_QUANTS = 512 /* bytes of quants of one block of a group */ };

/* Q8_0_R16 (matmul_q8r.c): block b of a group has quad c (c = 0..7) of row j
 * at 64·c + 4·j of its 512 bytes, each byte w ^ 0x80, and row j's scale at
 * 2·j of the pair's 32-byte scale half. A block is a transpose of 8 quad
 * vectors into 16 rows of 32 bytes: 8 loads, 8 XORs, 16 unpacks and 8 lane
 * permutes, then one 32-byte store per row. */

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

/* Q6_K_R16 (matmul_q6r.c): sub-block t of a super-block is three vectors
 * V0..V2 whose byte 4j + e holds, in bits 0-5, u (= q + 32) of element
 * 16t + 4v + e of row j, and in bits 6-7 bits 2v, 2v+1 of u of element
 * 16t + 12 + e. A quarter (4 sub-blocks, 64 elements) gives 16 quad vectors
 * (lane j = row j); a 16×16 transpose of dwords turns them into the 16
 * rows' 64 quants each, kept in u[16][256] until the super-block is whole;
 * then each row is packed as GGUF's ql (low nibbles of elements l and
 * l + 64 of a half) and qh (the top 2 bits of elements l, l+32, l+64, l+96). */

/* q6r_quarter_quads writes the 16 quad vectors of quarter c: vector 4i + v
 * (sub-block 4c + i, quad v), lane j = row j's 4 quants (0..63). */
KILN_TARGET_AVX512 KILN_INLINE void q6r_quarter_quads(const uint8_t *sb, int c, __m512i q[16]) {
    const __m512i m6 = _mm512_set1_epi8(0x3F), sel2 = _mm512_set1_epi8(0x03), sel4 = _mm512_set1_epi8(0x0F);
    for (int i = 0; i < 4; i++) {
        const uint8_t *v = sb + KILN_Q6R_QUANTS(4 * c + i);
        const __m512i v0 = _mm512_loadu_si512(v), v1 = _mm512_loadu_si512(v + 64), v2 = _mm512_loadu_si512(v + 128);
        q[4 * i + 0] = _mm512_and_si512(v0, m6);
        q[4 * i + 1] = _mm512_and_si512(v1, m6);
        q[4 * i + 2] = _mm512_and_si512(v2, m6);
        /* bits 6-7 of v0, v1, v2 to bits 0-1, 2-3, 4-5 (0xE4: c ? a : b, per bit) */
        const __m512i t = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v0, 6), _mm512_srli_epi16(v1, 4), sel2, 0xE4);
        q[4 * i + 3] = _mm512_and_si512(_mm512_ternarylogic_epi32(t, _mm512_srli_epi16(v2, 2), sel4, 0xE4), m6);
    }
}

/* transpose16 turns q (vector d, lane j) into r (vector j, lane d), dwords. */
KILN_TARGET_AVX512 KILN_INLINE void transpose16(const __m512i q[16], __m512i r[16]) {
    __m512i t[16], u[16];
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_epi32(q[k], q[k + 1]);
        t[k + 1] = _mm512_unpackhi_epi32(q[k], q[k + 1]);
    }
    for (int k = 0; k < 16; k += 4) { /* u[k + i], 128-bit lane L: dwords k..k+3 of row 4L + i */
        u[k + 0] = _mm512_unpacklo_epi64(t[k], t[k + 2]);
        u[k + 1] = _mm512_unpackhi_epi64(t[k], t[k + 2]);
        u[k + 2] = _mm512_unpacklo_epi64(t[k + 1], t[k + 3]);
        u[k + 3] = _mm512_unpackhi_epi64(t[k + 1], t[k + 3]);
    }
    for (int i = 0; i < 4; i++) {
        const __m512i v0 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0x88), v1 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0xDD);
        const __m512i w0 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0x88), w1 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0xDD);
        r[i] = _mm512_shuffle_i32x4(v0, w0, 0x88);
        r[8 + i] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
        r[4 + i] = _mm512_shuffle_i32x4(v1, w1, 0x88);
        r[12 + i] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
    }
}

/* q6r_put_row writes 256 quants (0..63) of one row as a block's ql and qh. */
KILN_TARGET_AVX512 KILN_INLINE void q6r_put_row(const uint8_t *u, block_q6_K *b) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F), two = _mm512_set1_epi8(0x03), top = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; h++) {
        const __m512i a = _mm512_loadu_si512(u + 128 * h), c = _mm512_loadu_si512(u + 128 * h + 64);
        /* ql byte l: element l's low nibble | element l + 64's << 4 (l < 64) */
        _mm512_storeu_si512(b->ql + 64 * h, _mm512_ternarylogic_epi32(a, _mm512_slli_epi16(c, 4), lo4, 0xE4));
        /* t byte l: bits 4-5 of element l in bits 0-1, of element l + 64 in bits 4-5 */
        const __m512i t = _mm512_ternarylogic_epi32(_mm512_srli_epi16(a, 4), _mm512_and_si512(c, top), two, 0xE4);
        const __m256i qh = _mm256_or_si256(_mm512_castsi512_si256(t), _mm256_slli_epi16(_mm512_extracti64x4_epi64(t, 1), 2));
        _mm256_storeu_si256((__m256i *)(b->qh + 32 * h), qh);
    }
}

KILN_TARGET_AVX512 void kiln_q6r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t s = 0; s < nb; s++) {
        const uint8_t *sb = grp + (size_t)s * KILN_Q6R_SB_BYTES;
        _Alignas(64) uint8_t u[KILN_R16_ROWS][KILN_QK_K];
        for (int c = 0; c < 4; c++) {
            __m512i q[16], r[16];
            q6r_quarter_quads(sb, c, q);
            transpose16(q, r);
            for (int j = 0; j < KILN_R16_ROWS; j++) _mm512_store_si512(u[j] + 64 * c, r[j]);
        }
        for (int j = 0; j < KILN_R16_ROWS; j++) {
            block_q6_K *b = (block_q6_K *)(rows + (size_t)j * row_bytes) + s;
            q6r_put_row(u[j], b);
            for (int t = 0; t < 16; t++) b->scales[t] = (int8_t)sb[KILN_Q6R_SCALES(t) + j];
            memcpy(&b->d, sb + KILN_Q6R_D + 2 * j, 2);
        }
    }
}

#else
typedef int kiln_r16_unpack_x86_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
