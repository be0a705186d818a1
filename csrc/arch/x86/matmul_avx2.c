/* matmul_avx2.c — AVX2+FMA+F16C register tiles for kiln_matmul and the
 * SIMD Q8_0 row quantizer.
 *
 * Per-output arithmetic (identical in every tile shape, see matmul.h):
 *  float weights: acc8 = fma(x[c:c+8], w[c:c+8], acc8) for c = 0, 8, ...; the
 *    last partial step loads zero-filled lanes; y = hsum8(acc8).
 *  Q8_0: per block b, acc = fma(dx_b*dw_b, float(exact int32 dot of the
 *    block), acc), one f32 accumulator per output (a lane of a vector that
 *    covers eight W rows); no horizontal float sum.
 * Tiles: GEMM 3×4 and GEMV 1×8 (float, blocked by the driver in matmul.c),
 * Q8_0 2×8 and 1×8 (q8_kernel, its own loop nest) for m < KILN_MM_Q8G_MIN_M;
 * larger Q8_0 batches run the int16 GEMM of matmul_q8_avx2.c (same rule). */
#include "matmul.h"

#if KILN_X86
#include <immintrin.h>

enum { WT_F32, WT_F16, WT_BF16 };
enum { TILE_MAXR = 4, TILE_MAXC = 8 }; /* largest tile: MR <= 4, NR <= 8 */

/* hsum8 is the one fixed horizontal-sum order: halves, then pairs, then lanes. */
KILN_TARGET_AVX2 KILN_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* tail_mask has lane l set for l < r (1 <= r < 8). */
KILN_TARGET_AVX2 KILN_INLINE __m256i tail_mask(int64_t r) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)r), idx);
}

/* loadw8 converts 8 weights at element c of a row to f32 (exact). */
KILN_TARGET_AVX2 KILN_INLINE __m256 loadw8(const int wt, const char *row, int64_t c) {
    if (wt == WT_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c)));
    if (wt == WT_BF16)
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c))), 16));
    return _mm256_loadu_ps((const float *)row + c);
}

/* loadw8_tail loads r < 8 weights at c with zero-filled lanes, never reading past the row. */
KILN_TARGET_AVX2 KILN_INLINE __m256 loadw8_tail(const int wt, const char *row, int64_t c, int64_t r) {
    if (wt == WT_F32) return _mm256_maskload_ps((const float *)row + c, tail_mask(r));
    uint16_t h[8] = {0};
    memcpy(h, (const uint16_t *)row + c, (size_t)r * 2);
    return loadw8(wt, (const char *)h, 0);
}

// y[i0:i0+MR, j0:j0+NR] (+)= X[i0:i0+MR, c0:c1] · W[j0:j0+NR, c0:c1]ᵀ; W rows F32/F16/BF16.
KILN_TARGET_AVX2 KILN_INLINE void tile_float(const kiln_mm_tile *t, const int MR, const int NR,
                                             const int wt) {
    const kiln_mm *p = t->p;
    const float *x = p->x + t->i0 * p->k;
    const char *w = (const char *)p->w + (size_t)t->j0 * p->wstride;
    const size_t ldw = p->wstride;
    const int64_t ldx = p->k;
    __m256 acc[TILE_MAXR][TILE_MAXC]; /* fixed sizes: a VLA would live in memory */
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++)
            acc[r][j] = t->first ? _mm256_setzero_ps()
                                 : _mm256_load_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL);
    /* GEMV (one X row, eight W rows read once): prefetch the rows two tiles
     * ahead, a step's worth of bytes per step, as the Q8_0 GEMV does. */
    const int gemv = MR == 1 && NR == 8;
    const size_t step_bytes = 8 * (wt == WT_F32 ? 4 : 2) * (size_t)NR;
    const char *pf = w + 2 * (size_t)NR * ldw + (size_t)(t->c0 / 8) * step_bytes, *pf_to = pf;
    int64_t c = t->c0;
    for (; c + 8 <= t->c1; c += 8) {
        if (gemv)
            for (pf_to += step_bytes; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        __m256 xv[TILE_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = _mm256_loadu_ps(x + r * ldx + c);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m256 wv = loadw8(wt, w + j * ldw, c);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm256_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    if (!t->last) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
            for (int j = 0; j < NR; j++) _mm256_store_ps(t->acc + r * t->acc_ld + j * KILN_MM_MAXVL, acc[r][j]);
        return;
    }
    if (c < p->k) { /* the one partial step: zero lanes past k on both sides */
        const int64_t rem = p->k - c;
        const __m256i mask = tail_mask(rem);
        __m256 xv[TILE_MAXR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) xv[r] = _mm256_maskload_ps(x + r * ldx + c, mask);
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) {
            const __m256 wv = loadw8_tail(wt, w + j * ldw, c, rem);
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) acc[r][j] = _mm256_fmadd_ps(xv[r], wv, acc[r][j]);
        }
    }
    float *y = p->y + t->i0 * p->n + t->j0;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
        for (int j = 0; j < NR; j++) y[r * p->n + j] = hsum8(acc[r][j]);
}

/* float_tiles instantiates tile_float for the shapes of kiln_mm_tiler_avx2. */
#define FLOAT_SHAPES(wt)                                          \
    do {                                                          \
        if (mr == 3 && nr == 4) tile_float(t, 3, 4, wt);          \
        else if (mr == 3) tile_float(t, 3, 1, wt);                \
        else if (nr == 8) tile_float(t, 1, 8, wt);                \
        else tile_float(t, 1, 1, wt);                             \
    } while (0)

KILN_TARGET_AVX2 static void float_tiles(const kiln_mm_tile *t, int mr, int nr) {
    switch (t->p->wtype) {
    case KILN_TYPE_F16: FLOAT_SHAPES(WT_F16); break;
    case KILN_TYPE_BF16: FLOAT_SHAPES(WT_BF16); break;
    default: FLOAT_SHAPES(WT_F32); break;
    }
}

/* ---- Q8_0: eight W rows per step, reduced across rows ------------------ */
/* Per block the int8 products of one X row with eight W rows are summed
 * exactly in int32 and reduced *across* the eight rows into one vector
 * (lane l = W row j0+l), so the block scale, the int->float conversion and
 * the fma are paid once per eight outputs instead of once per output: the
 * multiply ports, the bottleneck of the int8 path on AVX2, then do little
 * more than maddubs + madd. */

/* dot_q8 is the exact int32 dot of x and w per 4-element lane group:
 * |w| · (x·sign(w)) = x·w; |w| <= 128, |x| <= 127, so maddubs never saturates. */
KILN_TARGET_AVX2 KILN_INLINE __m256i dot_q8(__m256i x, __m256i w, __m256i wabs) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, _mm256_sign_epi8(x, w)), _mm256_set1_epi16(1));
}

/* pair_sum(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | the same for lanes 4..7];
 * quad_sum(pair_sum(v0,v1), pair_sum(v2,v3)) = [4-lane sums of v0..v3 | of their high halves]. */
KILN_TARGET_AVX2 KILN_INLINE __m256i pair_sum(__m256i a, __m256i b) { return _mm256_hadd_epi32(a, b); }
KILN_TARGET_AVX2 KILN_INLINE __m256i quad_sum(__m256i ab, __m256i cd) { return _mm256_hadd_epi32(ab, cd); }

/* reduce_rows turns quad_sum of v0..v3 and of v4..v7 into [sum v0, ..., sum v7]:
 * each lane the full 8-lane sum of one row. */
KILN_TARGET_AVX2 KILN_INLINE __m256i reduce_rows(__m256i h0123, __m256i h4567) {
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0123, h4567, 0x20),
                            _mm256_permute2x128_si256(h0123, h4567, 0x31));
}

/* How many 8-row tiles ahead a GEMV prefetches W. */
#ifndef Q8_PREFETCH
#define Q8_PREFETCH 2
#endif

// y[i0:i0+MR, j0:j0+8] = X[i0:i0+MR, :] · W[j0:j0+8, :]ᵀ; W rows are block_q8_0,
// X rows q8_0-quantized. W rows past nvalid alias the last valid one (their
// results are discarded), so edge tiles run the very same arithmetic:
// acc[j] = fma(dx_b * dw_jb, float(int32 dot_jb), acc[j]) over blocks b in order.
KILN_TARGET_AVX2 KILN_INLINE void tile_q8x8(const kiln_mm *p, int64_t i0, int64_t j0, int nvalid,
                                           const int MR) {
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const block_q8_0 *wr[8];
    for (int l = 0; l < 8; l++)
        wr[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
    const int8_t *xq = p->xq + i0 * p->kpad;
    const float *xd = p->xd + i0 * nbpad;
    /* W rows of a GEMV are read once, in runs of only k/32*34 bytes (2 KB at
     * k = 2048): too short for the hardware prefetcher to ramp up on, so the
     * rows Q8_PREFETCH tiles ahead (contiguous) are requested a few lines per block. */
    const char *pf = (const char *)wr[0] + (size_t)Q8_PREFETCH * 8 * p->wstride, *pf_to = pf;
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        /* A later tile's 8 rows (8 blocks' worth of bytes) per block. Two-row
         * tiles (decode of 2-3 sequences) need it as much as GEMV: without it
         * m = 2 ran at 9-15% of the int8 peak, waiting on DRAM. */
        if (MR <= 2) {
            for (pf_to += 8 * sizeof(block_q8_0); pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_setr_epi16(
            (short)wr[0][b].d, (short)wr[1][b].d, (short)wr[2][b].d, (short)wr[3][b].d,
            (short)wr[4][b].d, (short)wr[5][b].d, (short)wr[6][b].d, (short)wr[7][b].d));
        __m256i xv[4], lo[4], hi[4];
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) xv[r] = _mm256_load_si256((const __m256i *)(xq + r * p->kpad + b * KILN_QK8_0));
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) { /* rows 2q, 2q+1 */
            const __m256i wa = _mm256_loadu_si256((const __m256i *)wr[2 * q][b].qs);
            const __m256i wb = _mm256_loadu_si256((const __m256i *)wr[2 * q + 1][b].qs);
            const __m256i aa = _mm256_abs_epi8(wa), ab = _mm256_abs_epi8(wb);
#pragma GCC unroll 4
            for (int r = 0; r < MR; r++) {
                const __m256i h = pair_sum(dot_q8(xv[r], wa, aa), dot_q8(xv[r], wb, ab));
                if (q == 0) lo[r] = h;
                else if (q == 1) lo[r] = quad_sum(lo[r], h);
                else if (q == 2) hi[r] = h;
                else hi[r] = quad_sum(hi[r], h);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < MR; r++) {
            const __m256 scale = _mm256_mul_ps(_mm256_broadcast_ss(xd + r * nbpad + b), dw);
            acc[r] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(reduce_rows(lo[r], hi[r])), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < MR; r++) {
        float *y = p->y + (i0 + r) * p->n + j0;
        if (nvalid == 8) _mm256_storeu_ps(y, acc[r]);
        else _mm256_maskstore_ps(y, tail_mask(nvalid), acc[r]);
    }
}

/* Q8_0 X rows per GEMM tile: 2 rows share each loaded, |w|-converted W block
 * while the tile's live vectors still fit in the 16 ymm registers. */
enum { Q8_MR = 2 };

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0. W groups of 8 rows
// (17 KB at k = 2048) stay in L1 while every X row streams past them.
// Batches of KILN_MM_Q8G_MIN_M rows and more go to the GEMM of matmul_q8_avx2.c.
KILN_TARGET_AVX2 void kiln_mm_q8_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    for (int64_t j0 = n0; j0 < n1; j0 += 8) {
        const int nvalid = n1 - j0 >= 8 ? 8 : (int)(n1 - j0);
        int64_t i0 = 0;
        for (; i0 + Q8_MR <= p->m; i0 += Q8_MR) tile_q8x8(p, i0, j0, nvalid, Q8_MR);
        for (; i0 < p->m; i0++) tile_q8x8(p, i0, j0, nvalid, 1);
    }
}

/* ---- Q8_0 row quantizer ---------------------------------------------------- */
/* round_away rounds to nearest, ties away from zero, exactly as roundf:
 * t = trunc(v); v - t is exact, so |v - t| >= 0.5 decides the step. */
KILN_TARGET_AVX2 KILN_INLINE __m256 round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    const __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
    const __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                      _mm256_or_ps(sign, _mm256_set1_ps(1.0f)));
    return _mm256_add_ps(t, step);
}

// xq[r0:r1, 0:kpad], xd[r0:r1, 0:kpad/32] = q8_0(x[r0:r1, 0:k]); bit-identical to the reference.
KILN_TARGET_AVX2 void kiln_mm_quantize_rows_avx2(const float *x, int8_t *xq, float *xd, int64_t k,
                                                 int64_t kpad, int64_t r0, int64_t r1) {
    const int64_t nb = k / KILN_QK8_0, nbpad = kpad / KILN_QK8_0;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = r0; i < r1; i++) {
        for (int64_t b = 0; b < nbpad; b++) {
            int8_t *q = xq + i * kpad + b * KILN_QK8_0;
            if (b >= nb) {
                _mm256_storeu_si256((__m256i *)q, _mm256_setzero_si256());
                xd[i * nbpad + b] = 0.0f;
                continue;
            }
            const float *src = x + i * k + b * KILN_QK8_0;
            __m256 v[4];
            for (int u = 0; u < 4; u++) v[u] = _mm256_loadu_ps(src + 8 * u);
            __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v[0], absmask), _mm256_and_ps(v[1], absmask)),
                                      _mm256_max_ps(_mm256_and_ps(v[2], absmask), _mm256_and_ps(v[3], absmask)));
            __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float amax = _mm_cvtss_f32(m4);
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            xd[i * nbpad + b] = kiln_fp16_to_fp32(kiln_fp32_to_fp16(d));
            const __m256 idv = _mm256_set1_ps(id);
            __m256i qi[4];
            for (int u = 0; u < 4; u++) qi[u] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[u], idv)));
            const __m256i s01 = _mm256_packs_epi32(qi[0], qi[1]);
            const __m256i s23 = _mm256_packs_epi32(qi[2], qi[3]);
            const __m256i b8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(s01, s23), perm);
            _mm256_storeu_si256((__m256i *)q, b8);
        }
    }
}

static const kiln_mm_tiles float_tiles_avx2 = {.mr = 3, .nr = 4, .nr1 = 8, .fn = float_tiles};

void kiln_mm_float_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    kiln_mm_blocked(p, &float_tiles_avx2, n0, n1, scratch);
}

#endif /* KILN_X86 */
