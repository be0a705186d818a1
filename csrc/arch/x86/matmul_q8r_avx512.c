/* matmul_q8r_avx512.c — AVX-512 VNNI GEMV over repacked Q8_0 weights
 * (KILN_TYPE_Q8_0_R16, layout in matmul_q8r.c): decode's matmul.
 *
 * Per-output arithmetic: the Q8_0 rule of matmul.h, exactly as the Q8_0
 * GEMV and GEMM compute it:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 * so its bits equal theirs on GGUF-layout weights (decode ≡ prefill).
 *
 * One step is one block of a 16-row group: its 8 quad vectors (lane j =
 * 4 quants of row j, biased to u8 by the repack) each meet the matching X
 * quad broadcast from memory in one VPDPBUSD, so lane j accumulates row j's
 * Σ(w+128)·x with no add tree; two accumulator chains of 4, one add. The
 * integer accumulator starts at −128·Σx of the X block (computed once per
 * call for up to XC_BLOCKS blocks), so it ends at the exact int32 dot
 * (|Σ(w+128)·x| <= 32·255·128 < 2^31). Then one convert, one multiply of
 * the scales (dx broadcast × 16 dw from the group's f16 scales) and one fma
 * for 16 outputs. Up to 3 X rows share each quad vector.
 *
 * Memory: a group is read once, front to back (17 lines per block pair);
 * a call's groups are read as two runs side by side, one block pair of
 * each in turn (r16_streams.h); on Intel each line loaded also prefetches
 * one further on, on AMD Zen 5 that measured slower (r16_prefetch.h).
 * The scales are loaded after the block's quads: loading them first ran at
 * 42.5 GB/s instead of 47.8 (8192x2048, 1 thread, same run). */
#include "../../matmul.h"

#if KILN_X86
#include <immintrin.h>
#include "r16_prefetch.h"
#include "r16_streams.h"

enum {
    Q8R_MAXR = 3,       /* X rows per tile */
    Q8R_QUADS = 8,      /* 4-byte quads per block */
    XC_BLOCKS = 1024,   /* −128·Σx kept per X row and call: k up to 32768 computed once */
};

/* xc_fill writes −128·Σ(32 quants) of blocks [b0, b1) of X row xq (s8) into xc. */
KILN_TARGET_AVX512VNNI static void xc_fill(const int8_t *xq, int64_t b0, int64_t b1, int32_t *xc) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t b = b0; b < b1; b++) {
        const __m256i x = _mm256_load_si256((const __m256i *)(xq + b * KILN_QK8_0));
        __m256i c = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, x); /* 8 sums of 4 */
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        xc[b - b0] = -128 * _mm_cvtsi128_si32(h);
    }
}

// acc[r] (16 outputs of one group) += block b of the group at grp for X rows
// i0..i0+MR-1; xcb[r * XC_BLOCKS]: −128·Σx of block b of row i0+r.
KILN_TARGET_AVX512VNNI KILN_INLINE void q8r_block(const kiln_mm *p, int64_t i0, const uint8_t *grp, int64_t b,
                                                  const int32_t *xcb, __m512 acc[Q8R_MAXR], const int MR,
                                                  const int PF) {
    const int64_t nbpad = p->kpad / KILN_QK8_0;
    const uint8_t *pair = grp + (size_t)(b >> 1) * KILN_Q8R_PAIR_BYTES;
    const __m512i *q = (const __m512i *)(pair + 64 + (size_t)(b & 1) * 512);
    __m512i s0[Q8R_MAXR], s1[Q8R_MAXR];
    const int32_t *xb[Q8R_MAXR];
    for (int r = 0; r < MR; r++) {
        s0[r] = _mm512_set1_epi32(xcb[r * XC_BLOCKS]);
        s1[r] = _mm512_setzero_si512();
        xb[r] = (const int32_t *)(p->xq + (i0 + r) * p->kpad + b * KILN_QK8_0);
    }
    if (!(b & 1)) KILN_R16_PREFETCH(pair, PF);
    for (int u = 0; u < Q8R_QUADS; u += 2) {
        KILN_R16_PREFETCH(q + u, PF);
        KILN_R16_PREFETCH(q + u + 1, PF);
        const __m512i w0 = _mm512_loadu_si512(q + u), w1 = _mm512_loadu_si512(q + u + 1);
        for (int r = 0; r < MR; r++) {
            s0[r] = _mm512_dpbusd_epi32(s0[r], w0, _mm512_set1_epi32(xb[r][u]));
            s1[r] = _mm512_dpbusd_epi32(s1[r], w1, _mm512_set1_epi32(xb[r][u + 1]));
        }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pair + (size_t)(b & 1) * 32)));
    for (int r = 0; r < MR; r++) { /* after the quads: see the header */
        const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(p->xd[(i0 + r) * nbpad + b]), dw);
        acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_add_epi32(s0[r], s1[r])), acc[r]);
    }
}

// y[i0:i0+MR, j0[g]:j0[g]+16] for the NS groups starting at rows j0[0..NS-1], read side by side:
// a block pair of each in turn (NS sequential streams), each group's blocks in order into its own acc.
KILN_TARGET_AVX512VNNI KILN_INLINE void q8r_groups(const kiln_mm *p, int64_t i0, const int64_t *j0, int32_t *xc,
                                                   const int once, const int MR, const int NS, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0;
    const size_t gbytes = (size_t)(nb / 2) * KILN_Q8R_PAIR_BYTES;
    const uint8_t *grp[KILN_R16_STREAMS];
    __m512 acc[KILN_R16_STREAMS][Q8R_MAXR];
    for (int g = 0; g < NS; g++) {
        grp[g] = (const uint8_t *)p->w + (size_t)(j0[g] / KILN_Q8R_ROWS) * gbytes;
        for (int r = 0; r < MR; r++) acc[g][r] = _mm512_setzero_ps();
    }
    for (int64_t b0 = 0; b0 < nb; b0 += XC_BLOCKS) {
        const int64_t b1 = b0 + XC_BLOCKS < nb ? b0 + XC_BLOCKS : nb;
        if (!once)
            for (int r = 0; r < MR; r++) xc_fill(p->xq + (i0 + r) * p->kpad, b0, b1, xc + r * XC_BLOCKS);
        for (int64_t b = b0; b < b1; b += 2) /* nb is even: groups are whole block pairs */
            for (int g = 0; g < NS; g++) {
                q8r_block(p, i0, grp[g], b, xc + (b - b0), acc[g], MR, PF);
                q8r_block(p, i0, grp[g], b + 1, xc + (b + 1 - b0), acc[g], MR, PF);
            }
    }
    for (int g = 0; g < NS; g++)
        for (int r = 0; r < MR; r++) _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0[g], acc[g][r]);
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16. The groups are walked as
// KILN_R16_STREAMS runs side by side (r16_streams.h).
KILN_TARGET_AVX512VNNI KILN_INLINE void q8r_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, int32_t *xc,
                                                 const int MR, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0;
    const int once = nb <= XC_BLOCKS; /* else recomputed per step and k chunk */
    if (once)
        for (int r = 0; r < MR; r++) xc_fill(p->xq + (i0 + r) * p->kpad, 0, nb, xc + r * XC_BLOCKS);
    const kiln_r16_walk walk = kiln_r16_walk_of(n0, n1);
    int64_t j0[KILN_R16_STREAMS];
    for (int64_t step = 0; step < walk.steps; step++) {
        const int n = kiln_r16_walk_step(&walk, step, j0);
        if (n == KILN_R16_STREAMS) q8r_groups(p, i0, j0, xc, once, MR, KILN_R16_STREAMS, PF);
        else
            for (int g = 0; g < n; g++) q8r_groups(p, i0, j0 + g, xc, once, MR, 1, PF);
    }
}

KILN_TARGET_AVX512VNNI KILN_INLINE void q8r_gemv(const kiln_mm *p, int64_t n0, int64_t n1, int32_t *xc, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) q8r_rows(p, i0, n0, n1, xc, 3, PF);
    if (p->m - i0 == 2) q8r_rows(p, i0, n0, n1, xc, 2, PF);
    else if (p->m - i0 == 1) q8r_rows(p, i0, n0, n1, xc, 1, PF);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q8_0_R16 (n0, n1 multiples of 16), X q8_0-quantized (p->xq, p->xd).
KILN_TARGET_AVX512VNNI void kiln_mm_q8r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    _Static_assert(Q8R_MAXR * XC_BLOCKS <= KILN_MM_SCRATCH_FLOATS, "the X corrections fit the kernel scratch");
    int32_t *xc = (int32_t *)scratch;
    if (kiln_r16_prefetch_wanted()) q8r_gemv(p, n0, n1, xc, 1);
    else q8r_gemv(p, n0, n1, xc, 0);
}

#else
typedef int kiln_matmul_q8r_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
