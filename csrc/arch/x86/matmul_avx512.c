/* matmul_avx512.c — AVX-512 (F/BW/VL/DQ) register tiles for kiln_matmul
 * with float weights. Mirrors matmul_avx2.c with 16-lane accumulators.
 *
 * Per-output arithmetic (identical in every tile shape, see matmul.h):
 *  acc16 = fma(x[c:c+16], w[c:c+16], acc16) for c = 0, 16, ...; the last
 *  partial step uses masked (zero-filled) loads; y = hsum16(acc16).
 * Tiles: GEMM 4×4, GEMV 1×8, edges (MR,1), (1,1).
 * Q8_0 weights run matmul_q8_avx512.c / matmul_q8g_avx512.c with VNNI, the
 * AVX2 kernels without it (kernels_avx512.c). */
#include "matmul.h"

#if KILN_X86
#include <immintrin.h>

enum { WT_F32, WT_F16, WT_BF16 };
enum { TILE_MAXR = 4, TILE_MAXC = 8 }; /* largest tile: MR <= 4, NR <= 8 */

/* hsum16 is the one fixed horizontal-sum order: 256-bit halves, 128-bit
 * halves, then pairs, then lanes. */
KILN_TARGET_AVX512 KILN_INLINE float hsum16(__m512 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* loadw16 converts 16 weights at element c of a row to f32 (exact); lanes
 * outside mask are zero and are not read. */
KILN_TARGET_AVX512 KILN_INLINE __m512 loadw16(const int wt, const char *row, int64_t c, __mmask16 mask) {
    if (wt == WT_F16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + c));
    if (wt == WT_BF16)
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + c)), 16));
    return _mm512_maskz_loadu_ps(mask, (const float *)row + c);
}

// y[i0:i0+MR, j0:j0+NR] (+)= X[i0:i0+MR, c0:c1] · W[j0:j0+NR, c0:c1]ᵀ; W rows F32/F16/BF16.
KILN_TARGET_AVX512 KILN_INLINE void tile_float(const kiln_mm_tile *t, const int MR, const int NR,
                                               const int wt) {
    const kiln_mm *p = t->p;
    const float *x = p->x + t->i0 * p->k;
    const char *w = (const char *)p->w + (size_t)t->j0 * p->wstride;
    const size_t ldw = p->wstride;
    const int64_t ldx = p->k;
    const __mmask16 all = 0xffff;
    __m512 acc[TILE_MAXR][TILE_MAXC]; /* fixed sizes: a VLA would live in memory */
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++)
            acc[r][j] = t->first ? _mm512_setzero_ps()
                                 : _mm512_load_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL);
    int64_t c = t->c0;
    for (; c + 16 <= t->c1; c += 16) {
        __m512 xv[TILE_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = _mm512_loadu_ps(x + r * ldx + c);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m512 wv = loadw16(wt, w + j * ldw, c, all);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm512_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    if (!t->last) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) _mm512_store_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL, acc[r][j]);
        return;
    }
    if (c < p->k) { /* the one partial step: zero lanes past k on both sides */
        const __mmask16 mask = (__mmask16)((1u << (p->k - c)) - 1);
        __m512 xv[TILE_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = _mm512_maskz_loadu_ps(mask, x + r * ldx + c);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m512 wv = loadw16(wt, w + j * ldw, c, mask);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm512_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    float *y = p->y + t->i0 * p->n + t->j0;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) y[r * p->n + j] = hsum16(acc[r][j]);
}

#define FLOAT_SHAPES(wt)                                          \
    do {                                                          \
        if (mr == 4 && nr == 4) tile_float(t, 4, 4, wt);          \
        else if (mr == 4) tile_float(t, 4, 1, wt);                \
        else if (nr == 8) tile_float(t, 1, 8, wt);                \
        else tile_float(t, 1, 1, wt);                             \
    } while (0)

KILN_TARGET_AVX512 static void float_tiles(const kiln_mm_tile *t, int mr, int nr) {
    switch (t->p->wtype) {
    case KILN_TYPE_F16: FLOAT_SHAPES(WT_F16); break;
    case KILN_TYPE_BF16: FLOAT_SHAPES(WT_BF16); break;
    default: FLOAT_SHAPES(WT_F32); break;
    }
}

static const kiln_mm_tiles float_tiles_avx512 = {.mr = 4, .nr = 4, .nr1 = 8, .fn = float_tiles};

void kiln_mm_float_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &float_tiles_avx512, n0, n1, scratch);
}

#endif /* KILN_X86 */
