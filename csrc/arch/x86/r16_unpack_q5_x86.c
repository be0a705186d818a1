/* r16_unpack_q5_x86.c — the 16-row groups of Q5_0_R16, Q4_1_R16 and
 * Q5_1_R16 back to GGUF rows with AVX-512 and AVX2: the same bytes as the
 * formats' portable unpacks (matmul_q5r.c, matmul_q41r.c).
 *
 * Why: prefill runs a repacked weight's GEMM on rows unpacked from the
 * repacked copy (repack.c's kiln_mm_r16_unpacked), every call. The portable
 * Q5_0 unpack gathers each row's fifth bits one bit at a time (32 shifts
 * per row and block): in an s135 Q4_K_M pp128 prefill, whose 576-wide
 * rows fall back to Q5_0, it took about five times the samples of the AMX
 * Q4_K GEMM.
 *
 * All three layouts are Q4_0_R16's quant vectors (vector u, dword j =
 * qs[4u .. 4u + 3] of row j: a 4×16 dword transpose, r16_transpose_x86.h)
 * behind a block head: the pair's f16 d (and, for the _1 types, m) per
 * row, and for the 5-bit types eight mask words of fifth bits. A block
 * head becomes each row's first 8 bytes (d, m, qh; or d, qh and two
 * bytes the quants then overwrite) in one 2×16 dword transpose.
 *
 * The fifth bits: mask word 2u + h (u < 4, h = 0 low, 1 high) has, in bit
 * 4j + c, the bit of element 4u + c + 16h of row j, which a row keeps in
 * bit 4u + c + 16h of its qh. So row j's qh is nibble j of each of the
 * eight words, in the order u0 u1 u2 u3 of the low words, then of the high
 * ones: a transpose of nibbles (masks_to_qh), done by pairing the words of
 * u and u + 1 into bytes, then an 8×4 byte transpose with unpacks. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include <stddef.h>

#include "r16_transpose_x86.h"

/* masks_to_qh turns a block's 64 bytes of mask words into the 16 rows'
 * qh, as dwords: qh[0] holds rows 0..7, qh[1] rows 8..15. AVX2 only, so
 * both unpacks inline it. */
KILN_TARGET_AVX2 KILN_INLINE void masks_to_qh(const uint8_t *m, __m256i qh[2]) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F), hi4 = _mm256_set1_epi8((char)0xF0);
    /* 128-bit lanes of the two loads: u0, u1 | u2, u3; each lane's low 8
     * bytes are word 2u (h = 0), its high 8 word 2u + 1; byte B holds rows
     * 2B (bits 0-3) and 2B + 1 (bits 4-7) */
    const __m256i m01 = _mm256_loadu_si256((const __m256i *)m), m23 = _mm256_loadu_si256((const __m256i *)(m + 32));
    const __m256i ev = _mm256_permute2x128_si256(m01, m23, 0x20); /* u0 | u2 */
    const __m256i od = _mm256_permute2x128_si256(m01, m23, 0x31); /* u1 | u3 */
    /* byte 8h + B of lane L: qh byte 2h + L of row 2B (even) or 2B + 1 (odd) */
    const __m256i even = _mm256_or_si256(_mm256_and_si256(ev, lo4), _mm256_and_si256(_mm256_slli_epi16(od, 4), hi4));
    const __m256i odd = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ev, 4), lo4), _mm256_and_si256(od, hi4));
    const __m256i a = _mm256_permute2x128_si256(even, odd, 0x20); /* qh bytes 0 | 2 of rows 2B; then of 2B + 1 */
    const __m256i b = _mm256_permute2x128_si256(even, odd, 0x31); /* qh bytes 1 | 3 */
    const __m256i w01 = _mm256_unpacklo_epi8(a, b), w23 = _mm256_unpackhi_epi8(a, b); /* words: bytes 0,1 | 2,3 */
    const __m256i d0 = _mm256_unpacklo_epi16(w01, w23); /* rows 0, 2, 4, 6 | 1, 3, 5, 7 */
    const __m256i d1 = _mm256_unpackhi_epi16(w01, w23); /* rows 8, 10, 12, 14 | 9, 11, 13, 15 */
    const __m256i x = _mm256_permute2x128_si256(d0, d1, 0x20), y = _mm256_permute2x128_si256(d0, d1, 0x31);
    const __m256i r0 = _mm256_unpacklo_epi32(x, y); /* rows 0..3 | 8..11 */
    const __m256i r1 = _mm256_unpackhi_epi32(x, y); /* rows 4..7 | 12..15 */
    qh[0] = _mm256_permute2x128_si256(r0, r1, 0x20);
    qh[1] = _mm256_permute2x128_si256(r0, r1, 0x31);
}

/* q41r_block is where block b of a Q4_1_R16 (five = 0) or Q5_1_R16 group
 * (matmul_q41r.c) keeps its parts, and where it goes in the unpacked rows. */
typedef struct {
    const uint8_t *d, *m; /* the 16 rows' f16 d and m */
    const uint8_t *masks; /* Q5_1: the eight mask words of fifth bits */
    const uint8_t *q;     /* the 4 quant vectors */
    size_t out;           /* the block's offset in every unpacked row */
    size_t qs_off;        /* its quants' offset within the block */
} q41r_block;

KILN_INLINE q41r_block q41r_block_of(const uint8_t *grp, int64_t b, const int five) {
    const uint8_t *pair = grp + (size_t)(b / 2) * (five ? KILN_Q51R_PAIR_BYTES : KILN_Q41R_PAIR_BYTES);
    const uint8_t *blk = pair + 128 + (size_t)(b & 1) * (five ? KILN_Q5R_BLOCK_BYTES : KILN_Q4R_BLOCK_BYTES);
    q41r_block B = {
        .d = pair + (size_t)(b & 1) * 32,
        .m = pair + 64 + (size_t)(b & 1) * 32,
        .masks = blk,
        .q = blk + (five ? 64 : 0),
        .out = (size_t)b * (five ? sizeof(block_q5_1) : sizeof(block_q4_1)),
        .qs_off = five ? offsetof(block_q5_1, qs) : offsetof(block_q4_1, qs),
    };
    return B;
}

/* ---- AVX-512 -------------------------------------------------------------- */

/* quads4_rows_avx512 writes a block's 4 quant vectors at q as the 16 rows' qs. */
KILN_TARGET_AVX512 KILN_INLINE void quads4_rows_avx512(const uint8_t *q, char *out, size_t stride) {
    const __m512i v[4] = {_mm512_loadu_si512(q), _mm512_loadu_si512(q + 64), _mm512_loadu_si512(q + 128),
                          _mm512_loadu_si512(q + 192)};
    rows16_from_4quads_avx512(v, out, stride);
}

/* qh16_avx512 is masks_to_qh as one vector, dword j = row j's qh. */
KILN_TARGET_AVX512 KILN_INLINE __m512i qh16_avx512(const uint8_t *m) {
    __m256i qh[2];
    masks_to_qh(m, qh);
    return _mm512_inserti64x4(_mm512_castsi256_si512(qh[0]), qh[1], 1);
}

KILN_TARGET_AVX512 void kiln_q5r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q5R_PAIR_BYTES;
        const uint8_t *blk = pair + 64 + (size_t)(b & 1) * KILN_Q5R_BLOCK_BYTES;
        char *out = rows + (size_t)b * sizeof(block_q5_0);
        const __m512i qh = qh16_avx512(blk);
        const __m512i d = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(pair + (size_t)(b & 1) * 32)));
        /* d, qh, then two zero bytes that the quants overwrite */
        rows16_heads8_avx512(_mm512_or_si512(d, _mm512_slli_epi32(qh, 16)), _mm512_srli_epi32(qh, 16), out, row_bytes);
        quads4_rows_avx512(blk + 64, out + offsetof(block_q5_0, qs), row_bytes);
    }
}

/* q41r_unpack_avx512 is the Q4_1_R16 (five = 0) or Q5_1_R16 unpack: the two
 * layouts differ only by the mask words ahead of the quants (matmul_q41r.c). */
KILN_TARGET_AVX512 KILN_INLINE void q41r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes,
                                                       const int five) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const q41r_block B = q41r_block_of(grp, b, five);
        char *out = rows + B.out;
        /* d, m, then qh (Q5_1) or qs[0..3] (Q4_1, which the quants overwrite with the same bytes) */
        rows16_heads8_avx512(pairs16_avx512(B.d, B.m), five ? qh16_avx512(B.masks) : _mm512_loadu_si512(B.q), out,
                             row_bytes);
        quads4_rows_avx512(B.q, out + B.qs_off, row_bytes);
    }
}

KILN_TARGET_AVX512 void kiln_q41r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    q41r_unpack_avx512(grp, k, rows, row_bytes, 0);
}

KILN_TARGET_AVX512 void kiln_q51r_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    q41r_unpack_avx512(grp, k, rows, row_bytes, 1);
}

/* ---- AVX2: the same, 8 rows (one half of every vector) at a time ----------- */

/* quads4_rows_avx2 is quads4_rows_avx512 for rows 8·half .. 8·half + 7. */
KILN_TARGET_AVX2 KILN_INLINE void quads4_rows_avx2(const uint8_t *q, int half, char *out, size_t stride) {
    const __m256i v[4] = {_mm256_loadu_si256((const __m256i *)(q + 32 * half)),
                          _mm256_loadu_si256((const __m256i *)(q + 64 + 32 * half)),
                          _mm256_loadu_si256((const __m256i *)(q + 128 + 32 * half)),
                          _mm256_loadu_si256((const __m256i *)(q + 192 + 32 * half))};
    rows8_from_4quads_avx2(v, out + (size_t)(8 * half) * stride, stride);
}

KILN_TARGET_AVX2 void kiln_q5r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * KILN_Q5R_PAIR_BYTES;
        const uint8_t *blk = pair + 64 + (size_t)(b & 1) * KILN_Q5R_BLOCK_BYTES, *d = pair + (size_t)(b & 1) * 32;
        char *out = rows + (size_t)b * sizeof(block_q5_0);
        __m256i qh[2];
        masks_to_qh(blk, qh);
        for (int half = 0; half < 2; half++) {
            const __m256i dh = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(d + 16 * half)));
            rows8_heads8_avx2(_mm256_or_si256(dh, _mm256_slli_epi32(qh[half], 16)), _mm256_srli_epi32(qh[half], 16),
                              out + (size_t)(8 * half) * row_bytes, row_bytes);
            quads4_rows_avx2(blk + 64, half, out + offsetof(block_q5_0, qs), row_bytes);
        }
    }
}

/* q41r_unpack_avx2 is q41r_unpack_avx512, 8 rows (one half) at a time. */
KILN_TARGET_AVX2 KILN_INLINE void q41r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes,
                                                   const int five) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const q41r_block B = q41r_block_of(grp, b, five);
        char *out = rows + B.out;
        __m256i qh[2];
        if (five) masks_to_qh(B.masks, qh);
        for (int half = 0; half < 2; half++) {
            const __m256i dm = pairs8_avx2(B.d, B.m, half);
            const __m256i tail = five ? qh[half] : _mm256_loadu_si256((const __m256i *)(B.q + 32 * half));
            rows8_heads8_avx2(dm, tail, out + (size_t)(8 * half) * row_bytes, row_bytes);
            quads4_rows_avx2(B.q, half, out + B.qs_off, row_bytes);
        }
    }
}

KILN_TARGET_AVX2 void kiln_q41r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    q41r_unpack_avx2(grp, k, rows, row_bytes, 0);
}

KILN_TARGET_AVX2 void kiln_q51r_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    q41r_unpack_avx2(grp, k, rows, row_bytes, 1);
}

#else
typedef int kiln_r16_unpack_q5_x86_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
