/* r16_unpack_x86.c — repacked groups back to GGUF rows with AVX-512 and
 * AVX2: the same bytes as the formats' portable unpacks (matmul_q8r.c,
 * matmul_q4r.c, matmul_q6r.c); the 4-bit K-quant layouts are in
 * r16_unpack_k_x86.c.
 *
 * Why: prefill runs a repacked weight's GEMM on rows unpacked from the
 * repacked copy (repack.c's kiln_mm_r16_unpacked), every call, so a process
 * holds each weight once. The portable unpacks move a quad or a quant at a
 * time: for Q8_0 at most ~30% of an l1b pp128 prefill's time, for Q6_K
 * more than its AMX GEMM. Once in SIMD, what is left of an unpack is
 * mostly the wait for the weights from DRAM (its GEMM then reads the rows
 * from cache). Here the quads of a group (lane j = row j) are
 * transposed into rows with unpacks and lane permutes. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include <string.h>

#include "r16_transpose_x86.h"

enum { Q8R_BLOCK_QUANTS = 512 /* bytes of quants of one block of a group */ };

/* Q8_0_R16 (matmul_q8r.c): block b of a group has quad c (c = 0..7) of row j
 * at 64·c + 4·j of its 512 bytes, each byte w ^ 0x80, and row j's scale at
 * 2·j of the pair's 32-byte scale half. A block is a transpose of 8 quad
 * vectors into 16 rows of 32 bytes: 8 loads, 8 XORs, then the transpose
 * of r16_transpose_x86.h (16 unpacks, 8 lane permutes, a 32-byte store per
 * row). */

/* q8r_scales copies block b's 16 f16 scales to the rows' blocks. */
KILN_INLINE void q8r_scales(const uint8_t *pair, int64_t b, char *rows, size_t row_bytes) {
    const uint8_t *d = pair + (size_t)(b & 1) * 32;
    for (int j = 0; j < KILN_R16_ROWS; j++) memcpy(rows + (size_t)j * row_bytes + (size_t)b * sizeof(block_q8_0), d + 2 * j, 2);
}

KILN_TARGET_AVX512 void kiln_q8r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q8R_PAIR_BYTES;
        const uint8_t *q = pair + 64 + (size_t)(b & 1) * Q8R_BLOCK_QUANTS;
        q8r_scales(pair, b, rows, row_bytes);
        __m512i v[8];
        for (int c = 0; c < 8; c++) v[c] = _mm512_xor_si512(_mm512_loadu_si512(q + 64 * c), flip);
        rows16_from_quads_avx512(v, rows + (size_t)b * sizeof(block_q8_0) + offsetof(block_q8_0, qs), row_bytes);
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
        for (int half = 0; half < 2; half++) { /* rows 8·half .. 8·half+7 */
            __m256i v[8];
            for (int c = 0; c < 8; c++)
                v[c] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 64 * c + 32 * half)), flip);
            rows8_from_quads_avx2(v, qs + (size_t)(8 * half) * row_bytes, row_bytes);
        }
    }
}

/* Q4_0_R16 and IQ4_NL_R16 (matmul_q4r.c; their blocks' bytes are alike):
 * block b of a group is 4 quad vectors (dword j = qs[4u .. 4u + 3] of row
 * j) after the pair's scales, row j's d at 2·j of its 32-byte half. A
 * block is a 4×16 dword transpose into each row's 16 quant bytes; the
 * scales go as Q8_0_R16's. */

KILN_TARGET_AVX512 void kiln_q4r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q4R_PAIR_BYTES;
        const uint8_t *q = pair + 64 + (size_t)(b & 1) * KILN_Q4R_BLOCK_BYTES, *d = pair + (size_t)(b & 1) * 32;
        char *blk = rows + (size_t)b * sizeof(block_q4_0);
        for (int j = 0; j < KILN_R16_ROWS; j++) memcpy(blk + (size_t)j * row_bytes, d + 2 * j, 2);
        const __m512i v[4] = {_mm512_loadu_si512(q), _mm512_loadu_si512(q + 64), _mm512_loadu_si512(q + 128),
                              _mm512_loadu_si512(q + 192)};
        rows16_from_4quads_avx512(v, blk + offsetof(block_q4_0, qs), row_bytes);
    }
}

KILN_TARGET_AVX2 void kiln_q4r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q4R_PAIR_BYTES;
        const uint8_t *q = pair + 64 + (size_t)(b & 1) * KILN_Q4R_BLOCK_BYTES, *d = pair + (size_t)(b & 1) * 32;
        char *blk = rows + (size_t)b * sizeof(block_q4_0);
        for (int j = 0; j < KILN_R16_ROWS; j++) memcpy(blk + (size_t)j * row_bytes, d + 2 * j, 2);
        for (int half = 0; half < 2; half++) {
            const __m256i v[4] = {_mm256_loadu_si256((const __m256i *)(q + 32 * half)),
                                  _mm256_loadu_si256((const __m256i *)(q + 64 + 32 * half)),
                                  _mm256_loadu_si256((const __m256i *)(q + 128 + 32 * half)),
                                  _mm256_loadu_si256((const __m256i *)(q + 192 + 32 * half))};
            rows8_from_4quads_avx2(v, blk + offsetof(block_q4_0, qs) + (size_t)(8 * half) * row_bytes, row_bytes);
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

/* Q6_K_R16's scales: quarter c keeps, at 832·c + 16·i + j, the int8 scale
 * of sub-block t = 4c + i of row j; a row's block wants its 16 in t order.
 * A 16×16 byte transpose: unpacks of bytes and words pair quarters (dword
 * j of lane i: t = i, 4 + i, 8 + i, 12 + i), one dword permute gathers a
 * row's four lanes, one byte shuffle puts them in t order. */

/* Q6R_SCALE_ORDER: byte 4i + m holds t = 4m + i; output byte t takes it. */
#define Q6R_SCALE_ORDER 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15

/* q6r_scales_avx512 writes the 16 rows' scales of super-block sb, row j's at out + j·stride. */
KILN_TARGET_AVX512 KILN_INLINE void q6r_scales_avx512(const uint8_t *sb, char *out, size_t stride) {
    const __m512i gather = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i order = _mm512_broadcast_i32x4(_mm_setr_epi8(Q6R_SCALE_ORDER));
    __m512i q[4];
    for (int c = 0; c < 4; c++) q[c] = _mm512_loadu_si512(sb + KILN_Q6R_SCALES(4 * c)); /* lane i: t = 4c + i */
    const __m512i a = _mm512_unpacklo_epi8(q[0], q[1]), b = _mm512_unpackhi_epi8(q[0], q[1]); /* t = i, 4 + i */
    const __m512i c = _mm512_unpacklo_epi8(q[2], q[3]), d = _mm512_unpackhi_epi8(q[2], q[3]); /* t = 8 + i, 12 + i */
    const __m512i e[4] = {_mm512_unpacklo_epi16(a, c), _mm512_unpackhi_epi16(a, c), /* rows 0..3, 4..7 */
                          _mm512_unpacklo_epi16(b, d), _mm512_unpackhi_epi16(b, d)}; /* rows 8..11, 12..15 */
    for (int g = 0; g < 4; g++) {
        const __m512i r = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(gather, e[g]), order); /* lane l: row 4g + l */
        char *o = out + (size_t)(4 * g) * stride;
        _mm_storeu_si128((__m128i *)o, _mm512_castsi512_si128(r));
        _mm_storeu_si128((__m128i *)(o + stride), _mm512_extracti32x4_epi32(r, 1));
        _mm_storeu_si128((__m128i *)(o + 2 * stride), _mm512_extracti32x4_epi32(r, 2));
        _mm_storeu_si128((__m128i *)(o + 3 * stride), _mm512_extracti32x4_epi32(r, 3));
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
            memcpy(&b->d, sb + KILN_Q6R_D + 2 * j, 2);
        }
        q6r_scales_avx512(sb, rows + (size_t)s * sizeof(block_q6_K) + offsetof(block_q6_K, scales), row_bytes);
    }
}

/* Q6_K_R16 with AVX2: half of each 64-byte vector (rows 8·half ..) at a
 * time; two sub-blocks' 8 quad vectors are one 8×8 dword transpose into
 * u[16][256]; then each row is packed as above with 32-byte vectors. */

/* q6r_pair_quads_avx2 writes the 8 quad vectors of sub-blocks t, t+1 for
 * rows 8·half ..: vector 4i + v (sub-block t + i, quad v), dword r = row
 * 8·half + r's 4 quants (0..63). */
KILN_TARGET_AVX2 KILN_INLINE void q6r_pair_quads_avx2(const uint8_t *sb, int t, int half, __m256i q[8]) {
    const __m256i m6 = _mm256_set1_epi8(0x3F), b01 = _mm256_set1_epi8(0x03), b23 = _mm256_set1_epi8(0x0C),
                  b45 = _mm256_set1_epi8(0x30);
    for (int i = 0; i < 2; i++) {
        const uint8_t *v = sb + KILN_Q6R_QUANTS(t + i) + 32 * half;
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)v), v1 = _mm256_loadu_si256((const __m256i *)(v + 64)),
                      v2 = _mm256_loadu_si256((const __m256i *)(v + 128));
        q[4 * i + 0] = _mm256_and_si256(v0, m6);
        q[4 * i + 1] = _mm256_and_si256(v1, m6);
        q[4 * i + 2] = _mm256_and_si256(v2, m6);
        /* bits 6-7 of v0, v1, v2 to bits 0-1, 2-3, 4-5 */
        q[4 * i + 3] = _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v0, 6), b01),
                                                       _mm256_and_si256(_mm256_srli_epi16(v1, 4), b23)),
                                       _mm256_and_si256(_mm256_srli_epi16(v2, 2), b45));
    }
}

/* q6r_put_row_avx2 writes 256 quants (0..63) of one row as a block's ql and qh. */
KILN_TARGET_AVX2 KILN_INLINE void q6r_put_row_avx2(const uint8_t *u, block_q6_K *b) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F), hi4 = _mm256_set1_epi8((char)0xF0), b01 = _mm256_set1_epi8(0x03),
                  b23 = _mm256_set1_epi8(0x0C), b45 = _mm256_set1_epi8(0x30), b67 = _mm256_set1_epi8((char)0xC0);
    for (int h = 0; h < 2; h++) { /* elements 128h + l, + 32, + 64, + 96 (l < 32) */
        const uint8_t *e = u + 128 * h;
        const __m256i a0 = _mm256_load_si256((const __m256i *)e), a1 = _mm256_load_si256((const __m256i *)(e + 32));
        const __m256i c0 = _mm256_load_si256((const __m256i *)(e + 64)), c1 = _mm256_load_si256((const __m256i *)(e + 96));
        _mm256_storeu_si256((__m256i *)(b->ql + 64 * h),
                            _mm256_or_si256(_mm256_and_si256(a0, lo4), _mm256_and_si256(_mm256_slli_epi16(c0, 4), hi4)));
        _mm256_storeu_si256((__m256i *)(b->ql + 64 * h + 32),
                            _mm256_or_si256(_mm256_and_si256(a1, lo4), _mm256_and_si256(_mm256_slli_epi16(c1, 4), hi4)));
        const __m256i qh01 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a0, 4), b01), _mm256_and_si256(_mm256_srli_epi16(a1, 2), b23));
        const __m256i qh23 = _mm256_or_si256(_mm256_and_si256(c0, b45), _mm256_and_si256(_mm256_slli_epi16(c1, 2), b67));
        _mm256_storeu_si256((__m256i *)(b->qh + 32 * h), _mm256_or_si256(qh01, qh23));
    }
}

/* q6r_scales_avx2 is q6r_scales_avx512 with each quarter in two halves
 * (lanes i = 2h, 2h + 1 in half h): the same byte and word unpacks per
 * half; then dword unpacks across the halves and a qword permute gather a
 * row's dwords (in the order i = 0, 2, 1, 3), and the byte shuffle puts
 * them in t order. */
KILN_TARGET_AVX2 KILN_INLINE void q6r_scales_avx2(const uint8_t *sb, char *out, size_t stride) {
    /* byte 4·pos(i) + m holds t = 4m + i, pos = 0, 2, 1, 3 */
    const __m256i order = _mm256_setr_epi8(0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15,
                                           0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15);
    __m256i e[2][4]; /* e[h][g], lane l: dword j of rows 4g .. 4g + 3, t = i, 4 + i, 8 + i, 12 + i (i = 2h + l) */
    for (int h = 0; h < 2; h++) {
        __m256i q[4];
        for (int c = 0; c < 4; c++) q[c] = _mm256_loadu_si256((const __m256i *)(sb + KILN_Q6R_SCALES(4 * c) + 32 * h));
        const __m256i a = _mm256_unpacklo_epi8(q[0], q[1]), b = _mm256_unpackhi_epi8(q[0], q[1]);
        const __m256i c = _mm256_unpacklo_epi8(q[2], q[3]), d = _mm256_unpackhi_epi8(q[2], q[3]);
        e[h][0] = _mm256_unpacklo_epi16(a, c);
        e[h][1] = _mm256_unpackhi_epi16(a, c);
        e[h][2] = _mm256_unpacklo_epi16(b, d);
        e[h][3] = _mm256_unpackhi_epi16(b, d);
    }
    for (int g = 0; g < 4; g++) {
        /* lane l, qword p: row 4g + 2·(half) + p's dwords of i = l, 2 + l */
        const __m256i p = _mm256_unpacklo_epi32(e[0][g], e[1][g]), q = _mm256_unpackhi_epi32(e[0][g], e[1][g]);
        const __m256i r01 = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(p, 0xD8), order); /* rows 4g, 4g + 1 */
        const __m256i r23 = _mm256_shuffle_epi8(_mm256_permute4x64_epi64(q, 0xD8), order); /* rows 4g + 2, 4g + 3 */
        char *o = out + (size_t)(4 * g) * stride;
        _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(r01));
        _mm_storeu_si128((__m128i *)(o + stride), _mm256_extracti128_si256(r01, 1));
        _mm_storeu_si128((__m128i *)(o + 2 * stride), _mm256_castsi256_si128(r23));
        _mm_storeu_si128((__m128i *)(o + 3 * stride), _mm256_extracti128_si256(r23, 1));
    }
}

KILN_TARGET_AVX2 void kiln_q6r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t s = 0; s < nb; s++) {
        const uint8_t *sb = grp + (size_t)s * KILN_Q6R_SB_BYTES;
        _Alignas(32) uint8_t u[KILN_R16_ROWS][KILN_QK_K];
        for (int t = 0; t < 16; t += 2)
            for (int half = 0; half < 2; half++) {
                __m256i q[8];
                q6r_pair_quads_avx2(sb, t, half, q);
                rows8_from_quads_avx2(q, (char *)u[8 * half] + 16 * t, KILN_QK_K);
            }
        for (int j = 0; j < KILN_R16_ROWS; j++) {
            block_q6_K *b = (block_q6_K *)(rows + (size_t)j * row_bytes) + s;
            q6r_put_row_avx2(u[j], b);
            memcpy(&b->d, sb + KILN_Q6R_D + 2 * j, 2);
        }
        q6r_scales_avx2(sb, rows + (size_t)s * sizeof(block_q6_K) + offsetof(block_q6_K, scales), row_bytes);
    }
}

#else
typedef int kiln_r16_unpack_x86_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
