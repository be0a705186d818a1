/* matmul_q8_avx2.c — AVX2 Q8_0 GEMM (m >= KILN_MM_Q8G_MIN_M): a packed-int16
 * outer-product microkernel.
 *
 * Per-output arithmetic: the AVX2 Q8_0 rule of matmul.h, exactly as the
 * dot-product kernel of matmul_avx2.c (which keeps m < KILN_MM_Q8G_MIN_M):
 *     acc = +0; for blocks b = 0 .. k/32-1 in order:
 *         acc = fma(dx_b * dw_b, float(exact int32 dot of block b), acc)
 * with dx_b * dw_b one f32 multiply (_mm256_mul_ps(broadcast dx, dw)) and
 * dw_b the block's f16 scale converted exactly. Only how the int32 dot is
 * summed differs (here 16 int16 pair products per block, vpmaddwd + vpaddd),
 * and int32 sums are exact (|x·w| <= 127·128, 32 terms), so the bits are the
 * same whatever the path, the tile, the split or the batch.
 *
 * Data: X rows are quantized once per call, then laid out in tiles of MR
 * rows by kiln_mm_q8_layout_avx2 (matmul.c runs it right after the
 * quantizer, split over threads by whole tiles): kiln_mm.xp holds int16
 * pairs, pair P of row r at P*mr + r, and kiln_mm.xdp the block scales
 * alike, so a tile's broadcasts all come from one sequential stream. W is
 * packed per thread, a panel of 16 W rows (output columns) × 8 blocks at a
 * time, into int16 with the k pairs of each column side by side:
 *     pw[b][p][j] = (w[j, 32b+2p], w[j, 32b+2p+1])   one 32-bit lane per column j
 * so one ymm holds pair p of 8 columns, and the f32 block scales beside it:
 *     pd[b][j] = float(d of W row j, block b).
 * W rows past the valid ones alias the last valid row (results discarded).
 *
 * Microkernel (MR <= 6 X rows × 16 columns): per k pair, 2 panel loads, one
 * vpbroadcastd of each row's X pair, 2·MR vpmaddwd + vpaddd into 2·MR int32
 * accumulators (12 + 2 + 1 + 1 temporary = 16 ymm at MR = 6); at the end of
 * each block the int32 sums go to the f32 accumulators of the tile, kept in
 * an L1-resident per-thread buffer (load, fma, store once per block) and the
 * int32 accumulators restart (the block's first pair writes them).
 * Cost per 8 outputs and block: 16 vpmaddwd + 15 vpaddd, then 1 vcvtdq2ps,
 * 1 vmulps, 1 vfmadd. vpmaddwd, vmulps and vfmadd share the two multiply
 * pipes (measured on the AMD EPYC dev machines; broadcasts and loads take no
 * ALU slot), so the ceiling is ~16/18 of the vpmaddwd+vpaddd rate that
 * kiln_probe_int8_peak reports: ~1.5x the f32 FMA peak, where the
 * dot-product kernel (sign, maddubs, madd and horizontal sums per W row)
 * stays near 0.8x.
 *
 * Loop nest, per thread, over its columns [n0, n1) (matmul.c's split):
 *     for each panel of 16 columns:                       W rows, read once per m block
 *       for each m block of Q8G_MB rows:                  bounds the f32 buffer
 *         f32 buffer = 0
 *         for each k block of Q8G_KCB blocks:             packed chunk stays in L1
 *           pack W[panel, k block] -> pw, pd (the tiles fetch the next pack's W)
 *           for each tile of MR rows (the last: m % MR):  X rows stream from L2
 *             microkernel over the k block
 *         y[m block, panel] = f32 buffer
 */
#include "matmul.h"
#include "arch/x86/matmul_q8_ahead.h"

#if KILN_X86
#include <immintrin.h>

#ifndef Q8G_KCB
#define Q8G_KCB 8 /* blocks per k block: a 8.5 KB packed chunk (4..32 measure alike) */
#endif
enum {
    Q8G_NR = 16,  /* columns per panel (two ymm of 8 int32 lanes) */
    Q8G_MR = KILN_MM_Q8G_MR, /* X rows per microkernel tile (the switch below has 1..6) */
    Q8G_MB = 516, /* X rows per m block: a 512-token prefill packs each W panel once (33 KB f32 buffer) */
    Q8G_PAIRS = KILN_QK8_0 / 2,
};

/* The packed chunk and the f32 buffer live in the per-thread scratch. */
#define Q8G_PW_ELEMS ((size_t)Q8G_KCB * Q8G_PAIRS * Q8G_NR * 2) /* int16 */
#define Q8G_PD_ELEMS ((size_t)Q8G_KCB * Q8G_NR)                 /* float */
#define Q8G_ACC_ELEMS ((size_t)Q8G_MB * Q8G_NR)                 /* float */
_Static_assert(Q8G_PW_ELEMS * 2 + (Q8G_PD_ELEMS + Q8G_ACC_ELEMS) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "Q8_0 GEMM scratch must fit the per-thread scratch");
_Static_assert(Q8G_MB % Q8G_MR == 0, "m blocks hold whole tiles");
_Static_assert(Q8G_MR >= 1 && Q8G_MR <= 6, "the tile switch covers 1..6 rows");

/* quad_pairs interleaves the int8 pairs (16-bit units) of block b of 4 W
 * rows with unpacks inside each 128-bit lane: out[u] holds pairs 2u, 2u+1
 * (low lane) and 2u+8, 2u+9 (high lane), each pair as 4 rows × 2 bytes. */
KILN_TARGET_AVX2 KILN_INLINE void quad_pairs(const block_q8_0 *const *rows, int64_t b, __m256i out[4]) {
    const __m256i r0 = _mm256_loadu_si256((const __m256i *)rows[0][b].qs);
    const __m256i r1 = _mm256_loadu_si256((const __m256i *)rows[1][b].qs);
    const __m256i r2 = _mm256_loadu_si256((const __m256i *)rows[2][b].qs);
    const __m256i r3 = _mm256_loadu_si256((const __m256i *)rows[3][b].qs);
    const __m256i a0 = _mm256_unpacklo_epi16(r0, r1), a1 = _mm256_unpackhi_epi16(r0, r1);
    const __m256i a2 = _mm256_unpacklo_epi16(r2, r3), a3 = _mm256_unpackhi_epi16(r2, r3);
    out[0] = _mm256_unpacklo_epi32(a0, a2); /* pairs 0,1 (low lane), 8,9 (high lane) */
    out[1] = _mm256_unpackhi_epi32(a0, a2); /* pairs 2,3 | 10,11 */
    out[2] = _mm256_unpacklo_epi32(a1, a3); /* pairs 4,5 | 12,13 */
    out[3] = _mm256_unpackhi_epi32(a1, a3); /* pairs 6,7 | 14,15 */
}

/* pack_half transposes block b of 8 W rows into pair-interleaved int16:
 * out[p*32 + l*2 + {0,1}] = w[l][2p], w[l][2p+1] (l = 0..7), stride 32 int16
 * per pair (the other half of the panel fills the other 16). The 16-bit
 * units (one int8 pair) of the 8 rows are transposed with unpacks inside
 * each 128-bit lane (pairs 0-7 low, 8-15 high), then widened to int16. */
KILN_TARGET_AVX2 KILN_INLINE void pack_half(const block_q8_0 *const *rows, int64_t b, int16_t *out) {
    __m256i lo[4], hi[4]; /* rows 0-3 and 4-7 */
    quad_pairs(rows, b, lo);
    quad_pairs(rows + 4, b, hi);
    for (int u = 0; u < 4; u++) {
        /* pair 2u (and 2u+8) of rows 0-7, then pair 2u+1 (and 2u+9) */
        const __m256i e = _mm256_unpacklo_epi64(lo[u], hi[u]), o = _mm256_unpackhi_epi64(lo[u], hi[u]);
        _mm256_store_si256((__m256i *)(out + (2 * u) * 32), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(e)));
        _mm256_store_si256((__m256i *)(out + (2 * u + 8) * 32), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(e, 1)));
        _mm256_store_si256((__m256i *)(out + (2 * u + 1) * 32), _mm256_cvtepi8_epi16(_mm256_castsi256_si128(o)));
        _mm256_store_si256((__m256i *)(out + (2 * u + 9) * 32), _mm256_cvtepi8_epi16(_mm256_extracti128_si256(o, 1)));
    }
}

// pw, pd = packed W[rows 0:16, blocks b0:b1] (layout in the header comment).
KILN_TARGET_AVX2 static void pack_panel(const block_q8_0 *const *rows, int64_t b0, int64_t b1, int16_t *pw,
                                        float *pd) {
    for (int64_t b = b0; b < b1; b++) {
        int16_t *o = pw + (b - b0) * (Q8G_PAIRS * Q8G_NR * 2);
        pack_half(rows, b, o);
        pack_half(rows + 8, b, o + 16);
        uint16_t d[Q8G_NR];
        for (int j = 0; j < Q8G_NR; j++) d[j] = rows[j][b].d;
        float *od = pd + (b - b0) * Q8G_NR;
        _mm256_store_ps(od, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)));
        _mm256_store_ps(od + 8, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d + 8))));
    }
}

/* keep_in_order pins an int32 accumulator to a register after each step:
 * without it the compiler reassociates the 16 adds of a block into a tree,
 * computes all products first and spills them (32 live vectors). */
KILN_TARGET_AVX2 KILN_INLINE void keep_in_order(__m256i *v) { __asm__("" : "+x"(*v)); }

// acc[r, 0:16] = fma(dx[r,b]*dw[0:16,b], float(X[r, block b] · pw[b]), acc[r, 0:16])
// for r < MR, blocks b = 0 .. nblk-1 in order. xp: the tile's int16 pairs at
// the k block's start (pair P of row r at P*MR + r); xdp: its scales (block b
// of row r at b*MR + r); acc: MR rows of Q8G_NR floats.
KILN_TARGET_AVX2 KILN_INLINE void q8g_tile(const int32_t *xp, const float *xdp, const int16_t *pw,
                                          const float *pd, int64_t nblk, float *acc, w_ahead *ahead, const int MR) {
    for (int64_t b = 0; b < nblk; b++) {
        ahead_lines(ahead, 1); /* the next pack's W (matmul_q8_ahead.h) */
        const int16_t *wb = pw + b * (Q8G_PAIRS * Q8G_NR * 2);
        const int32_t *xb = xp + b * Q8G_PAIRS * MR;
        __m256i s[Q8G_MR][2];
#pragma GCC unroll 16
        for (int q = 0; q < Q8G_PAIRS; q++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(wb + q * 32));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(wb + q * 32 + 16));
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                const __m256i xv = _mm256_set1_epi32(xb[q * MR + r]);
                const __m256i t0 = _mm256_madd_epi16(xv, w0), t1 = _mm256_madd_epi16(xv, w1);
                s[r][0] = q ? _mm256_add_epi32(s[r][0], t0) : t0;
                s[r][1] = q ? _mm256_add_epi32(s[r][1], t1) : t1;
                keep_in_order(&s[r][0]);
                keep_in_order(&s[r][1]);
            }
        }
        const __m256 d0 = _mm256_load_ps(pd + b * Q8G_NR), d1 = _mm256_load_ps(pd + b * Q8G_NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const __m256 dx = _mm256_broadcast_ss(xdp + b * MR + r);
            float *a = acc + r * Q8G_NR;
            _mm256_store_ps(a, _mm256_fmadd_ps(_mm256_mul_ps(dx, d0), _mm256_cvtepi32_ps(s[r][0]), _mm256_load_ps(a)));
            _mm256_store_ps(a + 8,
                            _mm256_fmadd_ps(_mm256_mul_ps(dx, d1), _mm256_cvtepi32_ps(s[r][1]), _mm256_load_ps(a + 8)));
        }
    }
}

/* transpose8 transposes 8 vectors of 8 int32 lanes: out[p] lane r = in[r] lane p. */
KILN_TARGET_AVX2 KILN_INLINE void transpose8(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(in[2 * i], in[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(in[2 * i], in[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3, rows 4-7 */
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);     /* lanes 0 | 4 */
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);     /* lanes 1 | 5 */
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]); /* lanes 2 | 6 */
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]); /* lanes 3 | 7 */
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x20);
        out[i + 4] = _mm256_permute2x128_si256(u[i], u[4 + i], 0x31);
    }
}

// xp, xdp[tiles of rows r0:r1] = tiled int16 pairs and scales of xq, xd (layout: matmul.h, kiln_mm).
// Per tile and 8 pairs: the rows widened (8 pairs each, as int32 lanes), an
// 8x8 transpose, then pair P's mr lanes stored at P*mr, in order: an 8-lane
// store runs past its mr lanes into the next pairs', which later stores
// rewrite; the tile's last pairs are stored lane by lane instead, so no store
// leaves the tile (the next tile may belong to another thread).
KILN_TARGET_AVX2 void kiln_mm_q8_layout_avx2(const kiln_mm *p, int64_t r0, int64_t r1) {
    const int64_t np = p->kpad / 2, nbpad = p->kpad / KILN_QK8_0; /* np % 32 == 0 */
    for (int64_t i0 = r0; i0 < r1; i0 += Q8G_MR) {
        const int64_t mr = p->m - i0 < Q8G_MR ? p->m - i0 : Q8G_MR;
        int32_t *xp = (int32_t *)p->xp + i0 * np;
        float *xdp = (float *)p->xdp + i0 * nbpad;
        const int8_t *q = p->xq + i0 * p->kpad;
        for (int64_t c = 0; c < np; c += 8) {
            __m256i rows[8], pairs[8];
            for (int r = 0; r < 8; r++)
                rows[r] = r < mr ? _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(q + r * p->kpad + 2 * c)))
                                 : _mm256_setzero_si256();
            transpose8(rows, pairs);
            for (int u = 0; u < 8; u++) {
                int32_t *o = xp + (c + u) * mr;
                if ((c + u) * mr + 8 <= np * mr) { /* stays inside the tile */
                    _mm256_storeu_si256((__m256i *)o, pairs[u]);
                } else {
                    int32_t lanes[8];
                    _mm256_storeu_si256((__m256i *)lanes, pairs[u]);
                    memcpy(o, lanes, sizeof(int32_t) * (size_t)mr);
                }
            }
        }
        for (int64_t b = 0; b < nbpad; b++)
            for (int64_t r = 0; r < mr; r++) xdp[b * mr + r] = p->xd[(i0 + r) * nbpad + b];
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0, X quantized and tiled (p->xp, p->xdp).
KILN_TARGET_AVX2 void kiln_mm_q8_gemm_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int16_t *pw = (int16_t *)scratch; /* 64-byte aligned */
    float *pd = (float *)(pw + Q8G_PW_ELEMS);
    float *acc = pd + Q8G_PD_ELEMS;
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0, np = p->kpad / 2;
    w_ahead ahead = {.rows = 0};
    for (int64_t j0 = n0; j0 < n1; j0 += Q8G_NR) {
        const int nvalid = n1 - j0 >= Q8G_NR ? Q8G_NR : (int)(n1 - j0);
        const block_q8_0 *rows[Q8G_NR], *next[Q8G_NR];
        for (int l = 0; l < Q8G_NR; l++)
            rows[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
        const int nnext = n1 - (j0 + Q8G_NR) >= Q8G_NR ? Q8G_NR : n1 - (j0 + Q8G_NR) > 0 ? (int)(n1 - j0 - Q8G_NR) : 0;
        for (int l = 0; l < nnext; l++) next[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + Q8G_NR + l) * p->wstride);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += Q8G_MB) {
            const int64_t mb1 = mb0 + Q8G_MB < p->m ? mb0 + Q8G_MB : p->m;
            const int64_t ntiles = (mb1 - mb0 + Q8G_MR - 1) / Q8G_MR;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * Q8G_NR);
            for (int64_t kb0 = 0; kb0 < nb; kb0 += Q8G_KCB) {
                const int64_t kb1 = kb0 + Q8G_KCB < nb ? kb0 + Q8G_KCB : nb, nblk = kb1 - kb0;
                pack_panel(rows, kb0, kb1, pw, pd);
                /* what the next pack reads: this panel's next k block, its
                 * first again (next m block), or the next panel's first */
                if (kb1 < nb)
                    ahead_set(&ahead, rows, nvalid, kb1, kb1 + Q8G_KCB < nb ? kb1 + Q8G_KCB : nb, ntiles);
                else if (mb1 < p->m)
                    ahead_set(&ahead, rows, nvalid, 0, Q8G_KCB < nb ? Q8G_KCB : nb, ntiles);
                else
                    ahead_set(&ahead, next, nnext, 0, Q8G_KCB < nb ? Q8G_KCB : nb, ntiles);
                for (int64_t i0 = mb0; i0 < mb1; i0 += Q8G_MR) {
                    const int64_t mr = p->m - i0 < Q8G_MR ? p->m - i0 : Q8G_MR;
                    const int32_t *xp = p->xp + i0 * np + kb0 * Q8G_PAIRS * mr;
                    const float *xdp = p->xdp + i0 * nbpad + kb0 * mr;
                    float *a = acc + (i0 - mb0) * Q8G_NR;
                    switch (mr) {
                    case 6: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 6); break;
                    case 5: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 5); break;
                    case 4: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 4); break;
                    case 3: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 3); break;
                    case 2: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 2); break;
                    default: q8g_tile(xp, xdp, pw, pd, nblk, a, &ahead, 1); break;
                    }
                    ahead_lines(&ahead, ahead.per_tile - nblk); /* the tile took one per block */
                }
            }
            for (int64_t i = mb0; i < mb1; i++) {
                const float *a = acc + (i - mb0) * Q8G_NR;
                float *y = p->y + i * p->n + j0;
                if (nvalid == Q8G_NR) {
                    _mm256_storeu_ps(y, _mm256_load_ps(a));
                    _mm256_storeu_ps(y + 8, _mm256_load_ps(a + 8));
                } else {
                    memcpy(y, a, sizeof(float) * (size_t)nvalid);
                }
            }
        }
    }
}

#endif /* KILN_X86 */
