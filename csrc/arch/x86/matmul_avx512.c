/* matmul_avx512.c — AVX-512 (F/BW/VL/DQ, + VNNI when present) register tiles
 * for kiln_matmul. Mirrors matmul_avx2.c with 16-lane accumulators.
 *
 * Per-output arithmetic (identical in every tile shape, see matmul.h):
 *  float weights: acc16 = fma(x[c:c+16], w[c:c+16], acc16) for c = 0, 16, ...;
 *    the last partial step uses masked (zero-filled) loads; y = hsum16(acc16).
 *  Q8_0: two blocks per step: lanes 0-7 hold block b, lanes 8-15 block b+1;
 *    acc16 = fma(dx*dw per half, float(s16), acc16) where lane l of s16 is the
 *    exact int32 dot of 4 adjacent elements; an odd last block pairs with a
 *    zero block (scale 0). y = hsum16(acc16).
 *    The int32 lane sums are computed with VPDPBUSD when the CPU has VNNI
 *    ((x+128)·w − 128·Σw, exact) or with the maddubs sign trick otherwise;
 *    both give the same int32 lanes, so both give the same bits.
 * Tiles: GEMM 4×4 (float and Q8_0), GEMV 1×8, edges (MR,1), (1,1).
 * The quantizer is the AVX2 one (AVX-512 CPUs have AVX2; the bits are equal). */
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

/* dpbusd is VPDPBUSD (acc += u8·s8 in groups of 4) written as asm so the
 * shared tile template compiles for plain AVX-512; it runs only on the VNNI
 * path, which is chosen only when kiln_cpu_features() reports AVX512VNNI. */
KILN_TARGET_AVX512 KILN_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
    return acc;
}

/* load_wq2 loads blocks b and b+1 of a Q8_0 row (b+1 only if < nb; else zero
 * quants and scale 0) as 64 quants and a per-half scale vector. */
KILN_TARGET_AVX512 KILN_INLINE __m512i load_wq2(const block_q8_0 *row, int64_t b, int64_t nb, __m512 *dw) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)row[b].qs);
    const float d0 = _cvtsh_ss(row[b].d);
    __m256i hi = _mm256_setzero_si256();
    float d1 = 0.0f;
    if (b + 1 < nb) {
        hi = _mm256_loadu_si256((const __m256i *)row[b + 1].qs);
        d1 = _cvtsh_ss(row[b + 1].d);
    }
    *dw = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(d0)), _mm256_set1_ps(d1), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// y[i0:i0+MR, j0:j0+NR] (+)= X[i0:i0+MR, c0:c1] · W[j0:j0+NR, c0:c1]ᵀ;
// W rows are block_q8_0, X rows q8_0-quantized (xq int8 padded to 64, xd f32 scales).
KILN_TARGET_AVX512 KILN_INLINE void tile_q8(const kiln_mm_tile *t, const int MR, const int NR,
                                            const int vnni) {
    const kiln_mm *p = t->p;
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const int8_t *xq = p->xq + t->i0 * p->kpad;
    const float *xd = p->xd + t->i0 * nbpad;
    const char *w = (const char *)p->w + (size_t)t->j0 * p->wstride;
    const size_t ldw = p->wstride;
    const __m512i ones16 = _mm512_set1_epi16(1);
    const __m512i bias8 = _mm512_set1_epi8((char)0x80);
    __m512 acc[TILE_MAXR][TILE_MAXC]; /* fixed sizes: a VLA would live in memory */
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++)
            acc[r][j] = t->first ? _mm512_setzero_ps()
                                 : _mm512_load_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL);
    const int64_t b1 = (t->c1 + KILN_QK8_0 - 1) / KILN_QK8_0;
    for (int64_t b = t->c0 / KILN_QK8_0; b < b1; b += 2) {
        __m512i wq[TILE_MAXC], waux[TILE_MAXC];
        __m512 dw[TILE_MAXC];
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            wq[j] = load_wq2((const block_q8_0 *)(w + j * ldw), b, nb, &dw[j]);
            /* VNNI: −128·Σw per lane (start value of the biased dot); else |w| */
            waux[j] = vnni ? _mm512_sub_epi32(_mm512_setzero_si512(),
                                              dpbusd(_mm512_setzero_si512(), bias8, wq[j]))
                           : _mm512_abs_epi8(wq[j]);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m512i xv = _mm512_load_si512((const void *)(xq + r * p->kpad + b * KILN_QK8_0));
            const float *dxp = xd + r * nbpad + b;
            const __m512 dx = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(dxp[0])),
                                                 _mm256_set1_ps(dxp[1]), 1);
            const __m512i xu = _mm512_xor_si512(xv, bias8); /* x + 128 as u8 */
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) {
                __m512i s;
                if (vnni) {
                    s = dpbusd(waux[j], xu, wq[j]);
                } else { /* |w| · (x·sign(w)); AVX-512 has no vpsignb, negate under mask */
                    const __mmask64 neg = _mm512_movepi8_mask(wq[j]);
                    const __m512i xs = _mm512_mask_sub_epi8(xv, neg, _mm512_setzero_si512(), xv);
                    s = _mm512_madd_epi16(_mm512_maddubs_epi16(waux[j], xs), ones16);
                }
                acc[r][j] = _mm512_fmadd_ps(_mm512_mul_ps(dx, dw[j]), _mm512_cvtepi32_ps(s), acc[r][j]);
            }
        }
    }
    if (!t->last) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) _mm512_store_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL, acc[r][j]);
        return;
    }
    float *y = p->y + t->i0 * p->n + t->j0;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) y[r * p->n + j] = hsum16(acc[r][j]);
}

KILN_TARGET_AVX512 static void q8_tiles(const kiln_mm_tile *t, int mr, int nr) {
    if (mr == 4 && nr == 4) tile_q8(t, 4, 4, 0);
    else if (mr == 4) tile_q8(t, 4, 1, 0);
    else if (nr == 8) tile_q8(t, 1, 8, 0);
    else tile_q8(t, 1, 1, 0);
}

KILN_TARGET_AVX512 static void q8_tiles_vnni(const kiln_mm_tile *t, int mr, int nr) {
    if (mr == 4 && nr == 4) tile_q8(t, 4, 4, 1);
    else if (mr == 4) tile_q8(t, 4, 1, 1);
    else if (nr == 8) tile_q8(t, 1, 8, 1);
    else tile_q8(t, 1, 1, 1);
}

static const kiln_mm_tiles float_tiles_avx512 = {.mr = 4, .nr = 4, .nr1 = 8, .fn = float_tiles};
static const kiln_mm_tiles q8_tiles_avx512 = {.mr = 4, .nr = 4, .nr1 = 8, .fn = q8_tiles};
static const kiln_mm_tiles q8_tiles_avx512_vnni = {.mr = 4, .nr = 4, .nr1 = 8, .fn = q8_tiles_vnni};

void kiln_mm_float_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &float_tiles_avx512, n0, n1, scratch);
}

void kiln_mm_q8_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &q8_tiles_avx512, n0, n1, scratch);
}

void kiln_mm_q8_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &q8_tiles_avx512_vnni, n0, n1, scratch);
}

#endif /* KILN_X86 */
