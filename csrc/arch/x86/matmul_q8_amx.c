/* matmul_q8_amx.c — AMX-INT8 Q8_0 GEMM (m >= KILN_MM_Q8G_MIN_M): the int32
 * block dots by TDPBSSD on tiles, the float steps by AVX-512.
 *
 * Per-output arithmetic: the Q8_0 rule of matmul.h, as the AVX2 and VNNI
 * kernels compute it:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 * TDPBSSD multiplies s8 by s8 and sums into int32 exactly, so with the
 * K dimension of one tile product = one block (32 quants) the C tile holds
 * the exact dot of each (X row, W row) pair for that block, and the bits
 * are the VNNI GEMM's and the GEMVs' (decode ≡ prefill across tiers).
 *
 * Tiles (palette 1, configured at entry, released before return):
 *   tmm0..3  C: 2×2 tiles of 16 X rows × 16 W rows, int32
 *   tmm4, 5  A: X rows i0..i0+15 / +16..+31 of block b, 16 rows × 32 bytes,
 *               read in place from p->xq (row stride kpad; no X layout)
 *   tmm6, 7  B: W rows j0..j0+15 / +16..+31 of block b in the VNNI form,
 *               8 rows (quads of k) × 64 bytes (16 W rows × 4 quants)
 * An m tail (< 32 rows) reloads the configuration with fewer rows in the A
 * and C tiles; an n tail of 16 columns or fewer drops tmm7 and its C tiles.
 *
 * Data: W is packed per thread, a panel of 32 W rows × AQ_KCB blocks at a
 * time: pw[half][b][q][j] = quad q of block b of W row 16·half + j (a 16×8
 * dword transpose per block), pd[half][b][j] = float(d). W rows past the
 * valid ones alias the last valid row (results discarded). The f32
 * accumulators of an m block (AQ_MB rows × 32 columns) live in the
 * per-thread scratch: per block the four C tiles are stored (4 KB), then
 * per row and tile acc = fma(dx·dw, cvt(c), acc) in 16-lane vectors.
 *
 * Costs: amx_blockdot.h.
 */
#include "../../matmul.h"
#include "amx_blockdot.h"

#if KILN_X86

enum {
    AQ_NR = KILN_ABD_NR,
    AQ_MR = KILN_ABD_MR,
    AQ_QUADS = KILN_ABD_QUADS,
    AQ_KCB = 32,              /* blocks per packed k block: 32 KB of W quants */
    AQ_MB = 512,              /* X rows per m block (accumulators: 64 KB) */
    AQ_COLS = 2 * AQ_NR,      /* columns per panel and accumulator row */
};
#define AQ_PW_BYTES ((size_t)AQ_KCB * AQ_QUADS * AQ_NR * 4) /* one half's packed quants */
#define AQ_PD_FLOATS ((size_t)AQ_KCB * AQ_NR)               /* one half's scales */
_Static_assert((2 * AQ_PW_BYTES + (2 * AQ_PD_FLOATS + (size_t)AQ_MB * AQ_COLS + 4 * 256) * 4) <=
                   KILN_MM_SCRATCH_FLOATS * 4,
               "the AMX Q8_0 GEMM's panel, accumulators and C buffer must fit the per-thread scratch");
_Static_assert(AQ_MB % (2 * AQ_MR) == 0, "m blocks hold whole 32-row tiles");

/* pack_block writes block b of the 16 W rows as a B tile: pw[q*16 + j] =
 * quad q of row j (unbiased: TDPBSSD takes signed W). */
KILN_TARGET_AMX KILN_INLINE void pack_block(const block_q8_0 *const *rows, int64_t b, int32_t *pw) {
    const int8_t *q[KILN_ABD_NR];
    for (int j = 0; j < KILN_ABD_NR; j++) q[j] = rows[j][b].qs;
    kiln_abd_transpose(q, pw);
}

/* pack_half packs blocks b0..b1-1 of 16 W rows: quants into pw, scales into pd. */
KILN_TARGET_AMX static void pack_half(const block_q8_0 *const *rows, int64_t b0, int64_t b1, int32_t *pw, float *pd) {
    for (int64_t b = b0; b < b1; b++) {
        pack_block(rows, b, pw + (b - b0) * AQ_QUADS * AQ_NR);
        uint64_t d[4];
        for (int g = 0; g < 4; g++)
            d[g] = (uint64_t)rows[4 * g][b].d | (uint64_t)rows[4 * g + 1][b].d << 16 |
                   (uint64_t)rows[4 * g + 2][b].d << 32 | (uint64_t)rows[4 * g + 3][b].d << 48;
        const __m256i d16 = _mm256_set_epi64x((long long)d[3], (long long)d[2], (long long)d[1], (long long)d[0]);
        _mm512_store_ps(pd + (b - b0) * AQ_NR, _mm512_cvtph_ps(d16));
    }
}

/* float_step: acc[r][0:16] = fma(dx[r]·dw, float(c[r][0:16]), acc[r][0:16])
 * for rows r < ROWS of one stored C tile (dx of row r at xd + r*ldx). */
KILN_TARGET_AMX KILN_INLINE void float_step(const int32_t *c, const float *xd, int64_t ldx, const float *pd,
                                             float *acc, const int ROWS) {
    const __m512 dw = _mm512_load_ps(pd);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) {
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(xd[r * ldx]), dw);
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512((const __m512i *)(c + r * AQ_NR)));
        _mm512_store_ps(acc + r * AQ_COLS, _mm512_fmadd_ps(s, dot, _mm512_load_ps(acc + r * AQ_COLS)));
    }
}

/* tile_blocks runs blocks s < nblk of one m tile over the packed panel:
 * per block the tiles' dots (TWO_M: rows 16..31 too, TWO_N: columns
 * 16..31 too), stored to cbuf, then their float steps into acc (the
 * tile's first row, 32 floats a row). R0/R1: rows of the two row halves
 * (16 or 0 when fixed, -1: r0/r1 at run time). */
KILN_TARGET_AMX KILN_INLINE void tile_blocks(const int8_t *xa, int64_t kpad, const float *xd, int64_t ldx,
                                              const int32_t *pw, const float *pd, int64_t nblk, float *acc,
                                              int32_t *cbuf, int r0, int r1, kiln_abd_ahead *ahead,
                                              const int TWO_M, const int TWO_N, const int FULL) {
    const int32_t *pw1 = (const int32_t *)((const char *)pw + AQ_PW_BYTES);
    const float *pd1 = pd + AQ_PD_FLOATS;
    for (int64_t s = 0; s < nblk; s++) {
        kiln_abd_ahead_step(ahead);
        kiln_abd_step(xa + s * KILN_QK8_0, kpad, pw + s * AQ_QUADS * AQ_NR, pw1 + s * AQ_QUADS * AQ_NR, cbuf, TWO_M,
                      TWO_N);
        const float *x1 = xd + AQ_MR * ldx;
        if (FULL) {
            float_step(cbuf, xd + s, ldx, pd + s * AQ_NR, acc, AQ_MR);
            float_step(cbuf + 256, xd + s, ldx, pd1 + s * AQ_NR, acc + AQ_NR, AQ_MR);
            float_step(cbuf + 512, x1 + s, ldx, pd + s * AQ_NR, acc + AQ_MR * AQ_COLS, AQ_MR);
            float_step(cbuf + 768, x1 + s, ldx, pd1 + s * AQ_NR, acc + AQ_MR * AQ_COLS + AQ_NR, AQ_MR);
        } else {
            for (int r = 0; r < r0; r++) { /* tails: row by row */
                float_step(cbuf + r * AQ_NR, xd + r * ldx + s, ldx, pd + s * AQ_NR, acc + r * AQ_COLS, 1);
                if (TWO_N) float_step(cbuf + 256 + r * AQ_NR, xd + r * ldx + s, ldx, pd1 + s * AQ_NR, acc + r * AQ_COLS + AQ_NR, 1);
            }
            for (int r = 0; TWO_M && r < r1; r++) {
                float *a = acc + (AQ_MR + r) * AQ_COLS;
                float_step(cbuf + 512 + r * AQ_NR, x1 + r * ldx + s, ldx, pd + s * AQ_NR, a, 1);
                if (TWO_N) float_step(cbuf + 768 + r * AQ_NR, x1 + r * ldx + s, ldx, pd1 + s * AQ_NR, a + AQ_NR, 1);
            }
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0, X as p->xq / p->xd (kiln_mm_quantize_rows_*).
// Panels of 32 columns (16 in an n tail); per k block of AQ_KCB blocks the
// panel is packed once, then every 32-row m tile runs over it (2×2 C
// tiles: 4 TDPBSSD per two A and two B tile loads) with its f32
// accumulators in the per-thread buffer (L1-resident over the k block).
KILN_TARGET_AMX void kiln_mm_q8_gemm_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (p->m < KILN_MM_Q8_AMX_MIN_M) { /* few rows: the VNNI GEMM is faster (X is laid out for it) */
        kiln_mm_q8v_gemm_avx512(p, n0, n1, scratch);
        return;
    }
    int32_t *pw = (int32_t *)scratch; /* 64-byte aligned: two halves of packed quants */
    float *pd = (float *)((char *)pw + 2 * AQ_PW_BYTES);
    float *acc = pd + 2 * AQ_PD_FLOATS;
    int32_t *cbuf = (int32_t *)(acc + (size_t)AQ_MB * AQ_COLS);
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const block_q8_0 *rows[AQ_COLS];
    int cfg_rows = 2 * AQ_MR;
    kiln_abd_ahead ahead = {.total = 0};
    kiln_abd_configure(cfg_rows);
    for (int64_t j0 = n0; j0 < n1; j0 += AQ_COLS) {
        const int nvalid = n1 - j0 >= AQ_COLS ? AQ_COLS : (int)(n1 - j0);
        const int two_n = nvalid > AQ_NR;
        for (int l = 0; l < AQ_COLS; l++)
            rows[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += AQ_MB) {
            const int64_t mb1 = mb0 + AQ_MB < p->m ? mb0 + AQ_MB : p->m;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * AQ_COLS); /* acc = +0 */
            for (int64_t kb0 = 0; kb0 < nb; kb0 += AQ_KCB) {
                const int64_t nblk = nb - kb0 < AQ_KCB ? nb - kb0 : AQ_KCB;
                pack_half(rows, kb0, kb0 + nblk, pw, pd);
                if (two_n) pack_half(rows + AQ_NR, kb0, kb0 + nblk, (int32_t *)((char *)pw + AQ_PW_BYTES), pd + AQ_PD_FLOATS);
                { /* what the next pack reads: this panel's next k block, its first again
                   * (next m block), or the next panel's first */
                    const int64_t steps = (mb1 - mb0 + 2 * AQ_MR - 1) / (2 * AQ_MR) * nblk, kb1 = kb0 + nblk;
                    const uint8_t *w0 = (const uint8_t *)p->w + (size_t)j0 * p->wstride;
                    if (kb1 < nb)
                        kiln_abd_ahead_set(&ahead, w0, p->wstride, nvalid, (size_t)kb1 * sizeof(block_q8_0),
                                           (size_t)(nb - kb1 < AQ_KCB ? nb - kb1 : AQ_KCB) * sizeof(block_q8_0), steps);
                    else if (mb1 < p->m || j0 + AQ_COLS < n1)
                        kiln_abd_ahead_set(&ahead, mb1 < p->m ? w0 : w0 + (size_t)AQ_COLS * p->wstride, p->wstride,
                                           mb1 < p->m ? nvalid : (int)(n1 - j0 - AQ_COLS < AQ_COLS ? n1 - j0 - AQ_COLS : AQ_COLS),
                                           0, (size_t)(nb < AQ_KCB ? nb : AQ_KCB) * sizeof(block_q8_0), steps);
                    else
                        ahead.total = 0;
                }
                for (int64_t i0 = mb0; i0 < mb1; i0 += 2 * AQ_MR) {
                    const int mt = mb1 - i0 < 2 * AQ_MR ? (int)(mb1 - i0) : 2 * AQ_MR;
                    if (mt != cfg_rows) kiln_abd_configure(cfg_rows = mt);
                    const int r0 = mt < AQ_MR ? mt : AQ_MR, r1 = mt - r0;
                    float *a = acc + (i0 - mb0) * AQ_COLS;
                    const int8_t *xa = p->xq + i0 * p->kpad + kb0 * KILN_QK8_0;
                    const float *xd = p->xd + i0 * nbpad + kb0;
                    if (mt == 2 * AQ_MR && two_n)
                        tile_blocks(xa, p->kpad, xd, nbpad, pw, pd, nblk, a, cbuf, r0, r1, &ahead, 1, 1, 1);
                    else if (mt > AQ_MR)
                        if (two_n) tile_blocks(xa, p->kpad, xd, nbpad, pw, pd, nblk, a, cbuf, r0, r1, &ahead, 1, 1, 0);
                        else tile_blocks(xa, p->kpad, xd, nbpad, pw, pd, nblk, a, cbuf, r0, r1, &ahead, 1, 0, 0);
                    else if (two_n)
                        tile_blocks(xa, p->kpad, xd, nbpad, pw, pd, nblk, a, cbuf, r0, r1, &ahead, 0, 1, 0);
                    else
                        tile_blocks(xa, p->kpad, xd, nbpad, pw, pd, nblk, a, cbuf, r0, r1, &ahead, 0, 0, 0);
                }
            }
            const __mmask16 k0 = kiln_abd_keep(nvalid), k1 = kiln_abd_keep(nvalid - AQ_NR);
            for (int64_t i = mb0; i < mb1; i++) {
                float *yr = p->y + i * p->n + j0;
                const float *ar = acc + (i - mb0) * AQ_COLS;
                _mm512_mask_storeu_ps(yr, k0, _mm512_load_ps(ar));
                if (two_n) _mm512_mask_storeu_ps(yr + AQ_NR, k1, _mm512_load_ps(ar + AQ_NR));
            }
        }
    }
    kiln_amx_end();
}

#else
typedef int kiln_matmul_q8_amx_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
