/* matmul_iq4xsr_avx2.c — AVX2 GEMV over repacked IQ4_XS weights
 * (KILN_TYPE_IQ4_XS_R16, layout in matmul_iq4xsr.c), for CPUs without
 * VNNI: only AVX2, FMA and F16C instructions.
 *
 * Per-output arithmetic: the IQ4_XS rule of quant.h, as in the AVX-512 VNNI
 * kernel (matmul_iq4xsr_avx512.c): exact int32 sumi per super-block,
 *     lane[b % 8] = lane[b % 8] + (d·dx)·float(sumi)
 * and the fixed lane sum, so the bits of the IQ4_XS dot, GEMV and GEMM.
 *
 * Every 64-byte quant vector holds 4 bytes of each of the 16 rows; its low
 * 32 bytes are rows 0-7 (one row per 32-bit lane), its high 32 rows 8-15.
 * Per half and vector: VPSHUFB looks the low and the high nibbles' values
 * up (int8), VPSIGNB moves their signs onto the X quads (broadcast), and
 * VPMADDUBSW of |value| (at most 127) by ±x (at most 128) gives pairs of
 * at most 32512 (exact, never saturated); one VPMADDWD by the sub-block's
 * scale ls − 32 as an int16 pair widens each to sc·dot in int32 lanes. The
 * scales of the 16 rows are decoded once per super-block from the
 * scales_l dwords and scales_h words. Up to 2 X rows share each loaded W
 * vector. A sub-block (256 bytes) is taken a half at a time (rows 0-7, then
 * 8-15); the sub-blocks are read front to back. The loops are unrolled, the
 * sums kept as asm add chains (IQ4XSR2_ADD32) and the X broadcasts emitted
 * where used (IQ4XSR2_XQUAD): as plain intrinsics GCC spilled them to the
 * stack (callgrind, 512x2048, m = 1: 23.6 -> 19.6 instructions per 32
 * weight bytes). */
#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_avx2.h"
#include "r16_prefetch.h"

enum { IQ4XSR2_MAXR = 2, IQ4XSR2_ROWS = 16 /* W rows per group */ };

/* IQ4XSR2_XQUAD is X quants qs[off..off+3] broadcast to every 32-bit lane,
 * as one VPBROADCASTD from memory where it is used (else GCC may keep
 * broadcasts in stack slots). */
#define IQ4XSR2_XQUAD(qs, off)                                                                           \
    __extension__({                                                                                      \
        __m256i xq_;                                                                                     \
        __asm__ volatile("vpbroadcastd %1, %0" : "=x"(xq_) : "m"(*(const int32_t *)((qs) + (off))));     \
        xq_;                                                                                             \
    })

/* IQ4XSR2_ADD32(acc, v): acc += v in int32 lanes, as one VPADDD the
 * optimiser cannot see into, so the sums stay one chain of adds in
 * registers with the loops fully unrolled (as plain intrinsics GCC
 * reassociates them and spills the products to the stack). */
#define IQ4XSR2_ADD32(acc, v) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(v))

/* iq4xsr2_scale is the scale ls − 32 of sub-block s of rows 8h..8h+7 as an
 * int16 pair (sc, sc) per dword lane, from their scales_l dwords sl and
 * zero-extended scales_h words shw: ls (0..63) assembled in the low byte of
 * each dword, copied into both int16 halves by one shuffle, then − 32. */
KILN_TARGET_AVX2 KILN_INLINE __m256i iq4xsr2_scale(__m256i sl, __m256i shw, const int s) {
    const __m256i pair = _mm256_setr_epi8(0, -1, 0, -1, 4, -1, 4, -1, 8, -1, 8, -1, 12, -1, 12, -1, /* (byte 0, byte 0) */
                                          0, -1, 0, -1, 4, -1, 4, -1, 8, -1, 8, -1, 12, -1, 12, -1);
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi32(sl, 4 * s), _mm256_set1_epi32(0x0F));
    const __m256i hi = s <= 2 ? _mm256_slli_epi32(shw, 4 - 2 * s) : _mm256_srli_epi32(shw, 2 * s - 4);
    const __m256i ls = _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi32(0x30)));
    return _mm256_sub_epi16(_mm256_shuffle_epi8(ls, pair), _mm256_set1_epi16(32));
}

// lanes[r][h] (float lane b % 8 of rows 8h..8h+7) += super-block sb for X rows x[0..MR-1].
KILN_TARGET_AVX2 KILN_INLINE void iq4xsr2_superblock(const uint8_t *sb, const block_q8_K *const x[IQ4XSR2_MAXR],
                                                     __m256 *lanes[IQ4XSR2_MAXR][2], const __m256i table, const int MR,
                                                     const int PF) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int l = 0; l < KILN_IQ4XSR_QUANTS / 64; l++) KILN_R16_PREFETCH(sb + 64 * l, PF); /* d and scales */
    __m256i sl[2], shw[2];
    for (int h = 0; h < 2; h++) {
        sl[h] = _mm256_loadu_si256((const __m256i *)(sb + KILN_IQ4XSR_SCALES_L + 32 * h));
        shw[h] = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(sb + KILN_IQ4XSR_SCALES_H + 16 * h)));
    }
    __m256i sumi[IQ4XSR2_MAXR][2]; /* set by sub-block 0's first vector */
#pragma GCC unroll 8 /* constant shifts and offsets */
    for (int s = 0; s < 8; s++) {
        const uint8_t *q = sb + KILN_IQ4XSR_QUANTS + 256 * s;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) { /* rows 8h..8h+7: the X quads are broadcast again per half */
            const __m256i sc = iq4xsr2_scale(sl[h], shw[h], s);
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                if (h == 0) KILN_R16_PREFETCH(q + 64 * u, PF);
                const __m256i w = _mm256_loadu_si256((const __m256i *)(q + 64 * u + 32 * h));
                const __m256i vl = _mm256_shuffle_epi8(table, _mm256_and_si256(w, low4));
                const __m256i vh = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(w, 4), low4));
                const __m256i al = _mm256_abs_epi8(vl), ah = _mm256_abs_epi8(vh);
                for (int r = 0; r < MR; r++) {
                    const __m256i xl = IQ4XSR2_XQUAD(x[r]->qs, 32 * s + 4 * u), xh = IQ4XSR2_XQUAD(x[r]->qs, 32 * s + 16 + 4 * u);
                    const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(al, _mm256_sign_epi8(xl, vl)), sc);
                    const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(ah, _mm256_sign_epi8(xh, vh)), sc);
                    if (s == 0 && u == 0) sumi[r][h] = pl;
                    else IQ4XSR2_ADD32(sumi[r][h], pl);
                    IQ4XSR2_ADD32(sumi[r][h], ph);
                }
            }
        }
    }
    for (int h = 0; h < 2; h++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + 16 * h)));
        for (int r = 0; r < MR; r++) {
            const __m256 dx = _mm256_set1_ps(x[r]->d);
            *lanes[r][h] = _mm256_add_ps(*lanes[r][h], _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(sumi[r][h])));
        }
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16.
KILN_TARGET_AVX2 KILN_INLINE void iq4xsr2_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR,
                                               const int PF) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nbk * KILN_IQ4XSR_SB_BYTES;
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values));
    for (int64_t j0 = n0; j0 < n1; j0 += IQ4XSR2_ROWS) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / IQ4XSR2_ROWS) * gbytes;
        __m256 acc[IQ4XSR2_MAXR][8][2];
        for (int r = 0; r < MR; r++)
            for (int l = 0; l < 8; l++) acc[r][l][0] = acc[r][l][1] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nbk; b++) {
            const block_q8_K *x[IQ4XSR2_MAXR];
            __m256 *lanes[IQ4XSR2_MAXR][2];
            for (int r = 0; r < MR; r++) {
                x[r] = (const block_q8_K *)p->xk + (i0 + r) * nbk + b;
                lanes[r][0] = &acc[r][b % 8][0];
                lanes[r][1] = &acc[r][b % 8][1];
            }
            iq4xsr2_superblock(grp + (size_t)b * KILN_IQ4XSR_SB_BYTES, x, lanes, table, MR, PF);
        }
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                __m256 l[8];
                for (int i = 0; i < 8; i++) l[i] = acc[r][i][h];
                _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0 + 8 * h, kiln_qa_lanes_sum8(l));
            }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W IQ4_XS_R16 (n0, n1 multiples of 16), X as Q8_K (p->xk).
KILN_TARGET_AVX2 KILN_INLINE void iq4xsr2_gemv(const kiln_mm *p, int64_t n0, int64_t n1, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 2 <= p->m; i0 += 2) iq4xsr2_rows(p, i0, n0, n1, 2, PF);
    if (i0 < p->m) iq4xsr2_rows(p, i0, n0, n1, 1, PF);
}

KILN_TARGET_AVX2 void kiln_mm_iq4xsr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    if (kiln_r16_prefetch_wanted()) iq4xsr2_gemv(p, n0, n1, 1);
    else iq4xsr2_gemv(p, n0, n1, 0);
}

#else
typedef int kiln_matmul_iq4xsr_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
