/* r16_unpack_k_x86.c — the 16-row groups of the 4-bit K-quant layouts
 * (Q4_K_R16, Q5_K_R16, IQ4_XS_R16) back to GGUF rows with AVX-512 and AVX2:
 * the same bytes as the formats' portable unpacks (matmul_q4kr.c,
 * matmul_q5kr.c, matmul_iq4xsr.c).
 *
 * Why: prefill runs a repacked weight's GEMM on rows unpacked from the
 * repacked copy (repack.c's kiln_mm_r16_unpacked), every call. The portable
 * unpacks copy a quad (4 bytes) at a time, row by row: for Q4_K_R16 about
 * 15% of the AMX Q4_K GEMM's time in an l1b pp128 prefill, more on AVX2.
 *
 * All three layouts keep GGUF's bytes, only moved: the quants of a group
 * are runs of 64-byte vectors whose dword j is 4 bytes of row j, and
 * 8 consecutive vectors are 32 consecutive bytes of every row (Q4_K and
 * Q5_K: one chunk of qs, or Q5_K's qh; IQ4_XS: two sub-blocks of qs). So
 * every quant byte goes through one 8×16 dword transpose
 * (r16_transpose_x86.h), the one the Q8_0_R16 unpack uses without its sign
 * flip. The block headers (f16 pairs and scale planes, also in dword
 * lanes) are small transposes of their own. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include <stddef.h>

#include "r16_transpose_x86.h"

/* ---- AVX-512 -------------------------------------------------------------- */

/* quads8_rows_avx512 writes the 8 vectors at q as 32 bytes of each of 16
 * rows, row j at out + j·stride. */
KILN_TARGET_AVX512 KILN_INLINE void quads8_rows_avx512(const uint8_t *q, char *out, size_t stride) {
    __m512i v[8];
    for (int c = 0; c < 8; c++) v[c] = _mm512_loadu_si512(q + 64 * c);
    rows16_from_quads_avx512(v, out, stride);
}

/* kq_head_avx512 writes the 16-byte head of each row's block (d, dmin,
 * scales[12]) from a Q4_K_R16 / Q5_K_R16 super-block: the pair vector and
 * the three scale planes, a 4×16 dword transpose. */
KILN_TARGET_AVX512 KILN_INLINE void kq_head_avx512(const uint8_t *sb, char *out, size_t stride) {
    const __m512i v[4] = {pairs16_avx512(sb, sb + 32), _mm512_loadu_si512(sb + 64), _mm512_loadu_si512(sb + 128),
                          _mm512_loadu_si512(sb + 192)};
    rows16_from_4quads_avx512(v, out, stride);
}

/* iq4xs_head_avx512 writes the 8-byte head of each row's block (d,
 * scales_h, scales_l[4]) from an IQ4_XS_R16 super-block: a 2×16 transpose. */
KILN_TARGET_AVX512 KILN_INLINE void iq4xs_head_avx512(const uint8_t *sb, char *out, size_t stride) {
    rows16_heads8_avx512(pairs16_avx512(sb, sb + KILN_IQ4XSR_SCALES_H), _mm512_loadu_si512(sb + KILN_IQ4XSR_SCALES_L), out,
                         stride);
}

KILN_TARGET_AVX512 void kiln_q4kr_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_Q4KR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_q4_K);
        kq_head_avx512(sb, out, row_bytes);
        for (int c = 0; c < 4; c++)
            quads8_rows_avx512(sb + KILN_Q4KR_QUANTS + 512 * c, out + offsetof(block_q4_K, qs) + 32 * c, row_bytes);
    }
}

KILN_TARGET_AVX512 void kiln_q5kr_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_Q5KR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_q5_K);
        kq_head_avx512(sb, out, row_bytes);
        quads8_rows_avx512(sb + KILN_Q5KR_QH, out + offsetof(block_q5_K, qh), row_bytes);
        for (int c = 0; c < 4; c++)
            quads8_rows_avx512(sb + KILN_Q5KR_QUANTS + 512 * c, out + offsetof(block_q5_K, qs) + 32 * c, row_bytes);
    }
}

KILN_TARGET_AVX512 void kiln_iq4xsr_unpack_avx512(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_IQ4XSR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_iq4_xs);
        iq4xs_head_avx512(sb, out, row_bytes);
        for (int p = 0; p < 4; p++) /* sub-blocks 2p, 2p+1: qs[32p .. 32p + 32) */
            quads8_rows_avx512(sb + KILN_IQ4XSR_QUANTS + 512 * p, out + offsetof(block_iq4_xs, qs) + 32 * p, row_bytes);
    }
}

/* ---- AVX2: the same, 8 rows (one half of every vector) at a time ----------- */

/* quads8_rows_avx2 is quads8_rows_avx512 in two halves of 8 rows. */
KILN_TARGET_AVX2 KILN_INLINE void quads8_rows_avx2(const uint8_t *q, char *out, size_t stride) {
    for (int half = 0; half < 2; half++) {
        __m256i v[8];
        for (int c = 0; c < 8; c++) v[c] = _mm256_loadu_si256((const __m256i *)(q + 64 * c + 32 * half));
        rows8_from_quads_avx2(v, out + (size_t)(8 * half) * stride, stride);
    }
}

/* kq_head_avx2 is kq_head_avx512 in two halves of 8 rows. */
KILN_TARGET_AVX2 KILN_INLINE void kq_head_avx2(const uint8_t *sb, char *out, size_t stride) {
    for (int half = 0; half < 2; half++) {
        const __m256i v[4] = {pairs8_avx2(sb, sb + 32, half), _mm256_loadu_si256((const __m256i *)(sb + 64 + 32 * half)),
                              _mm256_loadu_si256((const __m256i *)(sb + 128 + 32 * half)),
                              _mm256_loadu_si256((const __m256i *)(sb + 192 + 32 * half))};
        rows8_from_4quads_avx2(v, out + (size_t)(8 * half) * stride, stride);
    }
}

/* iq4xs_head_avx2 is iq4xs_head_avx512 in two halves of 8 rows. */
KILN_TARGET_AVX2 KILN_INLINE void iq4xs_head_avx2(const uint8_t *sb, char *out, size_t stride) {
    for (int half = 0; half < 2; half++)
        rows8_heads8_avx2(pairs8_avx2(sb, sb + KILN_IQ4XSR_SCALES_H, half),
                          _mm256_loadu_si256((const __m256i *)(sb + KILN_IQ4XSR_SCALES_L + 32 * half)),
                          out + (size_t)(8 * half) * stride, stride);
}

KILN_TARGET_AVX2 void kiln_q4kr_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_Q4KR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_q4_K);
        kq_head_avx2(sb, out, row_bytes);
        for (int c = 0; c < 4; c++)
            quads8_rows_avx2(sb + KILN_Q4KR_QUANTS + 512 * c, out + offsetof(block_q4_K, qs) + 32 * c, row_bytes);
    }
}

KILN_TARGET_AVX2 void kiln_q5kr_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_Q5KR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_q5_K);
        kq_head_avx2(sb, out, row_bytes);
        quads8_rows_avx2(sb + KILN_Q5KR_QH, out + offsetof(block_q5_K, qh), row_bytes);
        for (int c = 0; c < 4; c++)
            quads8_rows_avx2(sb + KILN_Q5KR_QUANTS + 512 * c, out + offsetof(block_q5_K, qs) + 32 * c, row_bytes);
    }
}

KILN_TARGET_AVX2 void kiln_iq4xsr_unpack_avx2(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *sb = grp + (size_t)b * KILN_IQ4XSR_SB_BYTES;
        char *out = rows + (size_t)b * sizeof(block_iq4_xs);
        iq4xs_head_avx2(sb, out, row_bytes);
        for (int p = 0; p < 4; p++)
            quads8_rows_avx2(sb + KILN_IQ4XSR_QUANTS + 512 * p, out + offsetof(block_iq4_xs, qs) + 32 * p, row_bytes);
    }
}

#else
typedef int kiln_r16_unpack_k_x86_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
