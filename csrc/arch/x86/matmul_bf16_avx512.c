/* matmul_bf16_avx512.c — BF16 weights on AVX512_BF16 (VDPBF16PS): X rows
 * are rounded to bfloat16 on the fly and every instruction does 32
 * bf16·bf16 products into 16 f32 lanes, twice the products of an f32 FMA,
 * and W is used as stored (no widening).
 *
 * Per-output arithmetic (the "bf16 pair-dot" rule, identical in every tile
 * shape, GEMV and GEMM alike, so decode ≡ prefill; kiln_mm_bf16_dot_ref in
 * matmul_ref.c is its scalar definition):
 *  - x is rounded to bf16 by VCVTNE2PS2BF16 (nearest even; subnormals to ±0);
 *  - lane l of step s (elements c = 32s + 2l, 32s + 2l + 1, zero past k)
 *    does acc_l = (acc_l + x[c+1]·w[c+1]) + x[c]·w[c] with each product
 *    exact, subnormal inputs read as ±0 and subnormal results flushed to ±0
 *    (the instruction's DAZ/FTZ), round to nearest even;
 *  - y = hsum16(acc), the fixed order of matmul_avx512.c.
 * The bits differ from the f32-FMA rule of the other variants (x keeps 8
 * bits of mantissa, as llama.cpp's BF16 dot product does).
 * Tiles: GEMM 4×4, GEMV 1×8, edges (MR,1), (1,1), over the blocked driver. */
#include "matmul.h"

#if KILN_X86
#include <immintrin.h>

#define KILN_TARGET_AVX512BF16 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

enum { BF_MAXR = 4, BF_MAXC = 8 }; /* largest tile: MR <= 4, NR <= 8 */

/* hsum16 as in matmul_avx512.c: 256-bit halves, 128-bit halves, pairs, lanes. */
KILN_TARGET_AVX512BF16 KILN_INLINE float bf_hsum16(__m512 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* loadx32 rounds x[c : c+32] to bf16 (lanes past mask are zero). */
KILN_TARGET_AVX512BF16 KILN_INLINE __m512bh loadx32(const float *x, int64_t c, __mmask32 mask) {
    const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)mask, x + c);
    const __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(mask >> 16), x + c + 16);
    return _mm512_cvtne2ps_pbh(hi, lo);
}

KILN_TARGET_AVX512BF16 KILN_INLINE __m512bh loadw32(const char *row, int64_t c, __mmask32 mask) {
    return (__m512bh)_mm512_maskz_loadu_epi16(mask, (const uint16_t *)row + c);
}

// y[i0:i0+MR, j0:j0+NR] (+)= X[i0:i0+MR, c0:c1] · W[j0:j0+NR, c0:c1]ᵀ; W rows BF16.
KILN_TARGET_AVX512BF16 KILN_INLINE void tile_bf16(const kiln_mm_tile *t, const int MR, const int NR) {
    const kiln_mm *p = t->p;
    const float *x = p->x + t->i0 * p->k;
    const char *w = (const char *)p->w + (size_t)t->j0 * p->wstride;
    const size_t ldw = p->wstride;
    const int64_t ldx = p->k;
    const __mmask32 all = 0xffffffffu;
    __m512 acc[BF_MAXR][BF_MAXC];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++)
            acc[r][j] = t->first ? _mm512_setzero_ps()
                                 : _mm512_load_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL);
    int64_t c = t->c0;
    for (; c + 32 <= t->c1; c += 32) {
        __m512bh xv[BF_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = loadx32(x + r * ldx, c, all);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m512bh wv = loadw32(w + j * ldw, c, all);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], xv[r], wv);
        }
    }
    if (!t->last) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) _mm512_store_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL, acc[r][j]);
        return;
    }
    if (c < p->k) { /* the one partial step: zero elements past k on both sides */
        const __mmask32 mask = (__mmask32)((1ull << (p->k - c)) - 1);
        __m512bh xv[BF_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = loadx32(x + r * ldx, c, mask);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m512bh wv = loadw32(w + j * ldw, c, mask);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], xv[r], wv);
        }
    }
    float *y = p->y + t->i0 * p->n + t->j0;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) y[r * p->n + j] = bf_hsum16(acc[r][j]);
}

KILN_TARGET_AVX512BF16 static void bf16_tiles(const kiln_mm_tile *t, int mr, int nr) {
    if (mr == 4 && nr == 4) tile_bf16(t, 4, 4);
    else if (mr == 4) tile_bf16(t, 4, 1);
    else if (nr == 8) tile_bf16(t, 1, 8);
    else tile_bf16(t, 1, 1);
}

static const kiln_mm_tiles bf16_tiles_avx512 = {.mr = 4, .nr = 4, .nr1 = 8, .fn = bf16_tiles};

void kiln_mm_bf16_avx512bf16(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &bf16_tiles_avx512, n0, n1, scratch);
}

#else
typedef int kiln_matmul_bf16_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
