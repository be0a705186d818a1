/* matmul_q8r_avx2.c — AVX2 GEMV over repacked Q8_0 weights
 * (KILN_TYPE_Q8_0_R16, layout in matmul_q8r.c), for CPUs without VNNI
 * (AVX2-only EPYCs): only AVX2, FMA and F16C instructions.
 *
 * Per-output arithmetic: the Q8_0 rule of matmul.h, exactly as the AVX2
 * Q8_0 GEMV and GEMM compute it:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 *
 * A block of a group is 8 quad vectors of 64 bytes; its low 32 bytes hold
 * quad u of rows 0-7 (one row per 32-bit lane), the high 32 of rows 8-15.
 * Per half and quad: the stored w ^ 0x80 flipped back to w, then the sign
 * trick (VPMADDUBSW of |w| as u8 with x carrying w's sign: pairs of at most
 * 2·128·127 < 2^15, never saturated) and VPMADDWD by ones, so lane j gets
 * row j's exact dot of the 4 quants; 8 such adds give the block's int32
 * dot with no horizontal sum. Then one convert, one multiply of the scales
 * and one fma per 8 outputs. Up to 2 X rows share each loaded, sign-ready W
 * vector; the group is read front to back as one sequential stream, a
 * block pair at a time by pointer, the dots kept as one asm add chain
 * (Q8R2_ADD32): callgrind, 512x2048, m = 1 without prefetch, 8.0 -> 6.7
 * instructions per 32 weight bytes. */
#include "../../matmul.h"

#if KILN_X86
#include <immintrin.h>
#include "r16_prefetch.h"

enum { Q8R2_MAXR = 2, Q8R2_QUADS = 8 };

/* Q8R2_ADD32(acc, v): acc += v in int32 lanes, as one VPADDD the optimiser
 * cannot see into. The block dots then stay one chain of adds in registers
 * with the quad loop fully unrolled; as plain intrinsics GCC reassociates
 * them into trees and spills the products to the stack. */
#define Q8R2_ADD32(acc, v) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(v))

// acc[r][h] (rows 8h..8h+7 of one group) over every block, X rows i0..i0+MR-1.
// The group is walked a block pair at a time by pointer (no per-block offset
// arithmetic); the pair's two blocks are unrolled.
KILN_TARGET_AVX2 KILN_INLINE void q8r2_group(const kiln_mm *p, int64_t i0, const uint8_t *grp, __m256 acc[][2],
                                             const int MR, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    const int8_t *xq[Q8R2_MAXR];
    const float *xd[Q8R2_MAXR];
    for (int r = 0; r < MR; r++) {
        xq[r] = p->xq + (i0 + r) * p->kpad;
        xd[r] = p->xd + (i0 + r) * nbpad;
    }
    const uint8_t *pair = grp;
    for (int64_t b = 0; b < nb; b += 2, pair += KILN_Q8R_PAIR_BYTES) { /* k % 64 == 0: whole pairs */
        KILN_R16_PREFETCH(pair, PF);
#pragma GCC unroll 2
        for (int e = 0; e < 2; e++) {
            const uint8_t *q = pair + 64 + 512 * e;
            __m256i dot[Q8R2_MAXR][2]; /* set by quad 0 */
#pragma GCC unroll 8
            for (int u = 0; u < Q8R2_QUADS; u++) {
                KILN_R16_PREFETCH(q + 64 * u, PF);
                __m256i xv[Q8R2_MAXR];
                for (int r = 0; r < MR; r++) {
                    int32_t xq4;
                    memcpy(&xq4, xq[r] + (b + e) * KILN_QK8_0 + 4 * u, 4);
                    xv[r] = _mm256_set1_epi32(xq4);
                }
                for (int h = 0; h < 2; h++) {
                    const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 64 * u + 32 * h)), flip);
                    const __m256i aw = _mm256_abs_epi8(w);
                    for (int r = 0; r < MR; r++) {
                        const __m256i d4 = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv[r], w)), ones);
                        if (u == 0) dot[r][h] = d4;
                        else Q8R2_ADD32(dot[r][h], d4);
                    }
                }
            }
            for (int h = 0; h < 2; h++) { /* the scales after the quads, as in the AVX-512 kernel */
                const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pair + 32 * e + 16 * h)));
                for (int r = 0; r < MR; r++) {
                    const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(xd[r][b + e]), dw);
                    acc[r][h] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot[r][h]), acc[r][h]);
                }
            }
        }
    }
}

KILN_TARGET_AVX2 KILN_INLINE void q8r2_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR,
                                            const int PF) {
    const size_t gbytes = (size_t)(p->k / 64) * KILN_Q8R_PAIR_BYTES;
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_Q8R_ROWS) {
        __m256 acc[Q8R2_MAXR][2];
        for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        q8r2_group(p, i0, (const uint8_t *)p->w + (size_t)(j0 / KILN_Q8R_ROWS) * gbytes, acc, MR, PF);
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0, acc[r][0]);
            _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0 + 8, acc[r][1]);
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q8_0_R16 (n0, n1 multiples of 16), X q8_0-quantized (p->xq, p->xd).
KILN_TARGET_AVX2 KILN_INLINE void q8r2_gemv(const kiln_mm *p, int64_t n0, int64_t n1, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 2 <= p->m; i0 += 2) q8r2_rows(p, i0, n0, n1, 2, PF);
    if (i0 < p->m) q8r2_rows(p, i0, n0, n1, 1, PF);
}

KILN_TARGET_AVX2 void kiln_mm_q8r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    if (kiln_r16_prefetch_wanted()) q8r2_gemv(p, n0, n1, 1);
    else q8r2_gemv(p, n0, n1, 0);
}

#else
typedef int kiln_matmul_q8r_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
