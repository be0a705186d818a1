/* matmul_q8g_avx512.c — AVX-512 VNNI Q8_0 GEMM (m >= KILN_MM_Q8G_MIN_M): an
 * int8 outer-product microkernel on VPDPBUSD.
 *
 * Per-output arithmetic: the AVX2 Q8_0 rule of matmul.h, exactly as the
 * AVX2 kernels and the VNNI GEMV (matmul_q8_avx512.c) compute it:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 * so a row's bits do not depend on the batch it lands in, nor on the ISA.
 *
 * int32 dots: VPDPBUSD multiplies u8 by s8 in groups of 4. W quants are
 * biased to u8 when packed (w ^ 0x80 = w + 128) and X stays s8, so a block
 * gives Σw·x + 128·Σx; the integer accumulator starts at −128·Σx of the X
 * block (stored with the X layout), so after the block's 8 steps it holds
 * the exact int32 dot (|Σ(w+128)·x| <= 32·255·128 < 2^31).
 *
 * Data: X rows are quantized once per call, then laid out by
 * kiln_mm_q8v_layout_avx512 in tiles of Q8V_MR rows (matmul.c runs it on
 * whole tiles, rows claimed by threads): in kiln_mm.xp the int8 quads
 * (4 consecutive k of one row as one int32), quad Q of row r at Q*mr + r,
 * followed (after m*kpad/4 quads) by the −128·Σx of block b of row r at
 * i0*nbpad + b*mr + r; in kiln_mm.xdp the scales alike. W is packed per
 * thread, a panel of 16 W rows (output columns) × Q8V_KCB blocks at a time:
 *     pw[b][q][j] = quad q of block b of W row j, biased     one 32-bit lane per column
 *     pd[b][j]    = float(d of W row j, block b)
 * by a 16×8 dword transpose per block (two rows per zmm, unpacks and a
 * cross-lane permute), so one zmm holds quad q of the 16 columns.
 * W rows past the valid ones alias the last valid row (results discarded).
 *
 * Microkernels: 6 X rows × 32 columns (two packed halves) while more than
 * 16 columns are left, else 12 rows × 16. Per quad, the panel loads and one
 * VPDPBUSD per row and half, the X quad broadcast from memory; per block,
 * convert + multiply + fma per row and half into f32 accumulators held in
 * registers for the k block (6×2 int32 + 6×2 f32 + panel + scales).
 *
 * Ceiling of that rule (measured on AMD Zen 5, kiln-bench --ports):
 * VPDPBUSD, VMULPS and VFMADD share the same two pipes, VCVTDQ2PS, adds,
 * logic and loads do not. A block costs 8 VPDPBUSD + 1 multiply + 1 fma per
 * 16 outputs, so the tile can reach 8/10 of the int8 peak; in isolation
 * (L1-resident data) it runs at 78.7%, 89% with the multiply removed, 100%
 * with the float steps reduced to convert + add. The multiply (dx·dw, exact
 * in f32 since both are f16 values) cannot move to another pipe: every
 * integer or float multiply on this core uses those two.
 *
 * Loop nest per thread over its columns [n0, n1): panel -> m block of Q8V_MB
 * rows -> k block of Q8V_KCB blocks (pack, then every tile of the m block
 * over it; the tiles fetch the next pack's W into L2 a line per block) -> y
 * straight from the tiles' registers in the last k block. */
#include "../../matmul.h"
#include "matmul_q8_ahead.h"

#if KILN_X86
#include <immintrin.h>

#ifndef Q8V_KCB
#define Q8V_KCB 16 /* blocks per k block: an 8 KB packed chunk */
#endif
#ifndef Q8V_MB_ROWS
#define Q8V_MB_ROWS 516 /* X rows per m block: a 512-token prefill packs each W panel once */
#endif
enum {
    Q8V_NR = 16,  /* columns per panel: one zmm of int32 lanes */
    Q8V_MR = 12,  /* X rows per microkernel tile (the switch below has 1..12) */
    Q8V_MB = Q8V_MB_ROWS, /* X rows per m block (multiple of MR) */
    Q8V_QUADS = KILN_QK8_0 / 4,
    Q8V_MR2 = 6,  /* X rows per 32-column tile (two per layout tile of Q8V_MR rows) */
};

#define Q8V_PW_BYTES ((size_t)Q8V_KCB * Q8V_QUADS * Q8V_NR * 4)
#define Q8V_PD_ELEMS ((size_t)Q8V_KCB * Q8V_NR)
#define Q8V_ACC_ELEMS ((size_t)Q8V_MB * Q8V_NR)
_Static_assert(2 * Q8V_PW_BYTES + (2 * Q8V_PD_ELEMS + 2 * Q8V_ACC_ELEMS) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "Q8_0 VNNI GEMM scratch (two panels, 32-column accumulators) must fit the per-thread scratch");
_Static_assert(Q8V_MB % Q8V_MR == 0, "m blocks hold whole tiles");
_Static_assert(KILN_MM_Q8V_MR == Q8V_MR, "the layout's tile height is the microkernel's");

/* q8v_out says where a tile's f32 accumulators come from and go: in (NULL:
 * start from +0) holds row r at in + r*cols (the per-thread buffer); out
 * receives row r at out + r*ld, lanes kept by keep[half] (y, or the buffer
 * again when more k blocks follow). */
typedef struct {
    const float *in;
    float *out;
    int64_t ld;
    __mmask16 keep[2];
} q8v_out;

/* pack_block transposes block b of 16 W rows into pw[q][j] (q = 0..7), biased. */
KILN_TARGET_AVX512VNNI KILN_INLINE void pack_block(const block_q8_0 *const *rows, int64_t b, int32_t *pw) {
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) /* row r in the low half, row r + 8 in the high half */
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)rows[r][b].qs)),
                                  _mm256_loadu_si256((const __m256i *)rows[r + 8][b].qs), 1);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3 (and 8-11), rows 4-7 (and 12-15) */
        u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    /* u[i] 128-bit lane L holds quad (L & 1 ? 4 : 0) + i of rows 0-3 (L < 2) or 8-11,
     * u[4+i] the same of rows 4-7 / 12-15: gather [u[i].L, u[4+i].L] for L = 0, 2 (quad i)
     * and L = 1, 3 (quad i + 4) into rows 0..15 order. */
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; i++) {
        _mm512_store_si512((__m512i *)(pw + i * Q8V_NR),
                           _mm512_xor_si512(_mm512_permutex2var_epi64(u[i], lo, u[4 + i]), bias));
        _mm512_store_si512((__m512i *)(pw + (i + 4) * Q8V_NR),
                           _mm512_xor_si512(_mm512_permutex2var_epi64(u[i], hi, u[4 + i]), bias));
    }
}

// pw, pd = packed W[rows 0:16, blocks b0:b1] (layout in the header comment).
KILN_TARGET_AVX512VNNI static void pack_panel(const block_q8_0 *const *rows, int64_t b0, int64_t b1, int32_t *pw,
                                              float *pd) {
    for (int64_t b = b0; b < b1; b++) {
        pack_block(rows, b, pw + (b - b0) * Q8V_QUADS * Q8V_NR);
        /* the 16 f16 scales, four to a general register: no narrow stores
         * that a vector load would have to wait on */
        uint64_t d[4];
        for (int g = 0; g < 4; g++)
            d[g] = (uint64_t)rows[4 * g][b].d | (uint64_t)rows[4 * g + 1][b].d << 16 |
                   (uint64_t)rows[4 * g + 2][b].d << 32 | (uint64_t)rows[4 * g + 3][b].d << 48;
        const __m256i d16 = _mm256_set_epi64x((long long)d[3], (long long)d[2], (long long)d[1], (long long)d[0]);
        _mm512_store_ps(pd + (b - b0) * Q8V_NR, _mm512_cvtph_ps(d16));
    }
}

// acc[r, 0:16] = fma(dx[r,b]*dw[0:16,b], float(X[r, block b] · W[0:16, block b]), acc[r, 0:16])
// for r < MR, blocks b = 0 .. nblk-1 in order. xq: the tile's quads at the k
// block's start (quad Q of row r at Q*MR + r); xc: its −128·Σx (block b of
// row r at b*MR + r); xd: its scales alike; acc: from o->in (or +0) to o->out.
KILN_TARGET_AVX512VNNI KILN_INLINE void q8v_tile(const int32_t *xq, const int32_t *xc, const float *xd,
                                                 const int32_t *pw, const float *pd, int64_t nblk, const q8v_out *o,
                                                 w_ahead *ahead, const int MR) {
    __m512 f[Q8V_MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) f[r] = o->in ? _mm512_load_ps(o->in + r * Q8V_NR) : _mm512_setzero_ps();
    for (int64_t b = 0; b < nblk; b++) {
        ahead_lines(ahead, 1);
        const int32_t *wb = pw + b * Q8V_QUADS * Q8V_NR;
        const int32_t *xb = xq + b * Q8V_QUADS * MR;
        __m512i s[Q8V_MR];
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) s[r] = _mm512_set1_epi32(xc[b * MR + r]);
#pragma GCC unroll 8
        for (int q = 0; q < Q8V_QUADS; q++) {
            const __m512i w = _mm512_load_si512((const __m512i *)(wb + q * Q8V_NR));
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) s[r] = _mm512_dpbusd_epi32(s[r], w, _mm512_set1_epi32(xb[q * MR + r]));
        }
        const __m512 dw = _mm512_load_ps(pd + b * Q8V_NR);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
            f[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(xd[b * MR + r]), dw), _mm512_cvtepi32_ps(s[r]), f[r]);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) _mm512_mask_storeu_ps(o->out + r * o->ld, o->keep[0], f[r]);
}

/* keep_pointer makes the compiler step one X pointer per quad (and block)
 * instead of precomputing the address of every quad of every row of the
 * unrolled loop (the layout's row stride LM is a run-time value): those 48
 * addresses did not fit the general registers, and reloading them from the
 * stack put a second load beside every X broadcast, which made the tile
 * load-bound (2 loads per cycle). */
KILN_INLINE void keep_pointer(const int32_t **p) { __asm__("" : "+r"(*p)); }
KILN_INLINE void keep_pointer_f(const float **p) { __asm__("" : "+r"(*p)); }

// The same over 32 columns (two packed panels pw0/pd0, pw1/pd1) for R <= 6
// X rows of a layout tile of LM rows (quad Q of row r at Q*LM + r): per
// quad two panel loads serve R broadcasts and 2R VPDPBUSD, so the loads per
// VPDPBUSD drop from 13/12 to 8/12 (the 12x16 tile was load-bound).
KILN_TARGET_AVX512VNNI KILN_INLINE void q8v_tile32(const int32_t *xq, const int32_t *xc, const float *xd,
                                                   const int64_t LM, const int32_t *pw0, const int32_t *pw1,
                                                   const float *pd0, const float *pd1, int64_t nblk,
                                                   const q8v_out *o, w_ahead *ahead, const int R) {
    __m512 f[Q8V_MR2][2];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        f[r][0] = o->in ? _mm512_load_ps(o->in + r * 2 * Q8V_NR) : _mm512_setzero_ps();
        f[r][1] = o->in ? _mm512_load_ps(o->in + r * 2 * Q8V_NR + Q8V_NR) : _mm512_setzero_ps();
    }
    const int32_t *xb = xq, *xcb = xc;
    const float *xdb = xd;
    for (int64_t b = 0; b < nblk; b++) {
        const int32_t *wb0 = pw0 + b * Q8V_QUADS * Q8V_NR, *wb1 = pw1 + b * Q8V_QUADS * Q8V_NR;
        ahead_lines(ahead, 1); /* spread between the blocks' arithmetic */
        __m512i s[Q8V_MR2][2];
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) s[r][0] = s[r][1] = _mm512_set1_epi32(xcb[r]);
#pragma GCC unroll 8
        for (int q = 0; q < Q8V_QUADS; q++) {
            const __m512i w0 = _mm512_load_si512((const __m512i *)(wb0 + q * Q8V_NR));
            const __m512i w1 = _mm512_load_si512((const __m512i *)(wb1 + q * Q8V_NR));
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) {
                const __m512i xv = _mm512_set1_epi32(xb[r]);
                s[r][0] = _mm512_dpbusd_epi32(s[r][0], w0, xv);
                s[r][1] = _mm512_dpbusd_epi32(s[r][1], w1, xv);
            }
            xb += LM;
            keep_pointer(&xb);
        }
        const __m512 dw0 = _mm512_load_ps(pd0 + b * Q8V_NR), dw1 = _mm512_load_ps(pd1 + b * Q8V_NR);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            const __m512 dx = _mm512_set1_ps(xdb[r]);
            f[r][0] = _mm512_fmadd_ps(_mm512_mul_ps(dx, dw0), _mm512_cvtepi32_ps(s[r][0]), f[r][0]);
            f[r][1] = _mm512_fmadd_ps(_mm512_mul_ps(dx, dw1), _mm512_cvtepi32_ps(s[r][1]), f[r][1]);
        }
        xcb += LM;
        xdb += LM;
        keep_pointer(&xcb);
        keep_pointer_f(&xdb);
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(o->out + r * o->ld, o->keep[0], f[r][0]);
        _mm512_mask_storeu_ps(o->out + r * o->ld + Q8V_NR, o->keep[1], f[r][1]);
    }
}

/* x_corr is where the −128·Σx of the tile of row i0 start (after every quad). */
static inline int32_t *x_corr(const kiln_mm *p, int64_t i0) {
    return (int32_t *)p->xp + p->m * (p->kpad / 4) + i0 * (p->kpad / KILN_QK8_0);
}

// xp, xdp[tiles of rows r0:r1] = quads, corrections and scales of xq, xd by tiles (header comment).
KILN_TARGET_AVX512VNNI void kiln_mm_q8v_layout_avx512(const kiln_mm *p, int64_t r0, int64_t r1) {
    const int64_t nq = p->kpad / 4, nbpad = p->kpad / KILN_QK8_0;
    for (int64_t i0 = r0; i0 < r1; i0 += Q8V_MR) {
        const int64_t mr = p->m - i0 < Q8V_MR ? p->m - i0 : Q8V_MR;
        int32_t *xq = (int32_t *)p->xp + i0 * nq, *xc = x_corr(p, i0);
        float *xd = (float *)p->xdp + i0 * nbpad;
        for (int64_t r = 0; r < mr; r++) {
            const int8_t *row = p->xq + (i0 + r) * p->kpad;
            for (int64_t q = 0; q < nq; q++) memcpy(xq + q * mr + r, row + 4 * q, 4);
            for (int64_t b = 0; b < nbpad; b++) {
                int32_t sum = 0;
                for (int c = 0; c < KILN_QK8_0; c++) sum += row[b * KILN_QK8_0 + c];
                xc[b * mr + r] = -128 * sum;
                xd[b * mr + r] = p->xd[(i0 + r) * nbpad + b];
            }
        }
    }
}

/* tile32_rows runs the R-row 32-column tile for R = 1..6. */
KILN_TARGET_AVX512VNNI static void tile32_rows(const int32_t *xq, const int32_t *xc, const float *xd, int64_t LM,
                                              const int32_t *pw, const float *pd, int64_t nblk, const q8v_out *o,
                                              w_ahead *ahead, int R) {
    const int32_t *pw1 = (const int32_t *)((const char *)pw + Q8V_PW_BYTES);
    const float *pd1 = pd + Q8V_PD_ELEMS;
    switch (R) {
    case 6: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 6); break;
    case 5: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 5); break;
    case 4: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 4); break;
    case 3: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 3); break;
    case 2: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 2); break;
    default: q8v_tile32(xq, xc, xd, LM, pw, pw1, pd, pd1, nblk, o, ahead, 1); break;
    }
}

/* tile16_rows runs the MR-row 16-column tile for MR = 1..12. */
KILN_TARGET_AVX512VNNI static void tile16_rows(const int32_t *xq, const int32_t *xc, const float *xd,
                                              const int32_t *pw, const float *pd, int64_t nblk, const q8v_out *o,
                                              w_ahead *ahead, int64_t mr) {
    switch (mr) {
    case 12: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 12); break;
    case 11: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 11); break;
    case 10: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 10); break;
    case 9: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 9); break;
    case 8: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 8); break;
    case 7: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 7); break;
    case 6: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 6); break;
    case 5: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 5); break;
    case 4: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 4); break;
    case 3: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 3); break;
    case 2: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 2); break;
    default: q8v_tile(xq, xc, xd, pw, pd, nblk, o, ahead, 1); break;
    }
}

/* keep_mask keeps the first v (0..16) lanes. */
static inline __mmask16 keep_mask(int v) {
    return v >= Q8V_NR ? (__mmask16)0xffff : v <= 0 ? (__mmask16)0 : (__mmask16)((1u << v) - 1);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0, X laid out by tiles (p->xp, p->xdp).
// Panels of 32 columns (two packed 16-column halves, 6-row tiles) while more
// than 16 columns are left, then one of 16 (12-row tiles); the per-output
// arithmetic is the same in both. A tile's f32 accumulators start from +0 in
// the first k block, pass through the per-thread buffer between k blocks and
// go to y from registers in the last (no buffer at all when k fits one block).
KILN_TARGET_AVX512VNNI void kiln_mm_q8v_gemm_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pw = (int32_t *)scratch; /* 64-byte aligned; two panels */
    float *pd = (float *)((char *)pw + 2 * Q8V_PW_BYTES);
    float *acc = pd + 2 * Q8V_PD_ELEMS;
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0, nq = p->kpad / 4;
    const block_q8_0 *rows[2 * Q8V_NR], *next[2 * Q8V_NR];
    w_ahead ahead = {.rows = 0};
    for (int64_t j0 = n0; j0 < n1;) {
        const int wide = n1 - j0 > Q8V_NR;          /* a 32-column panel */
        const int cols = wide ? 2 * Q8V_NR : Q8V_NR; /* accumulator row length */
        const int nvalid = n1 - j0 >= cols ? cols : (int)(n1 - j0);
        for (int l = 0; l < cols; l++)
            rows[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
        /* the next panel's rows (for the prefetch after this panel's last pack) */
        const int64_t jn = j0 + nvalid;
        const int ncols = n1 - jn > Q8V_NR ? 2 * Q8V_NR : n1 - jn > 0 ? Q8V_NR : 0;
        const int nnext = n1 - jn >= ncols ? ncols : (int)(n1 - jn);
        for (int l = 0; l < nnext; l++) next[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(jn + l) * p->wstride);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += Q8V_MB) {
            const int64_t mb1 = mb0 + Q8V_MB < p->m ? mb0 + Q8V_MB : p->m;
            const int64_t ntiles = (mb1 - mb0 + Q8V_MR - 1) / Q8V_MR * (wide ? Q8V_MR / Q8V_MR2 : 1);
            for (int64_t kb0 = 0; kb0 < nb; kb0 += Q8V_KCB) {
                const int64_t kb1 = kb0 + Q8V_KCB < nb ? kb0 + Q8V_KCB : nb, nblk = kb1 - kb0;
                pack_panel(rows, kb0, kb1, pw, pd);
                if (wide) pack_panel(rows + Q8V_NR, kb0, kb1, (int32_t *)((char *)pw + Q8V_PW_BYTES), pd + Q8V_PD_ELEMS);
                /* what the next pack reads: this panel's next k block, its first again
                 * (next m block), or the next panel's first */
                if (kb1 < nb)
                    ahead_set(&ahead, rows, cols, kb1, kb1 + Q8V_KCB < nb ? kb1 + Q8V_KCB : nb, ntiles);
                else if (mb1 < p->m)
                    ahead_set(&ahead, rows, cols, 0, Q8V_KCB < nb ? Q8V_KCB : nb, ntiles);
                else
                    ahead_set(&ahead, next, nnext, 0, Q8V_KCB < nb ? Q8V_KCB : nb, ntiles);
                for (int64_t i0 = mb0; i0 < mb1; i0 += Q8V_MR) {
                    const int64_t mr = p->m - i0 < Q8V_MR ? p->m - i0 : Q8V_MR;
                    const int32_t *xq = p->xp + i0 * nq + kb0 * Q8V_QUADS * mr;
                    const int32_t *xc = x_corr(p, i0) + kb0 * mr;
                    const float *xd = p->xdp + i0 * nbpad + kb0 * mr;
                    for (int64_t h = 0; h < mr; h += wide ? Q8V_MR2 : Q8V_MR) { /* rows h.. of the layout tile */
                        float *a = acc + (i0 + h - mb0) * cols;
                        q8v_out o = {.in = kb0 ? a : NULL, .out = a, .ld = cols,
                                     .keep = {(__mmask16)0xffff, (__mmask16)0xffff}};
                        if (kb1 == nb) { /* the last k block: into y */
                            o.out = p->y + (i0 + h) * p->n + j0;
                            o.ld = p->n;
                            o.keep[0] = keep_mask(nvalid);
                            o.keep[1] = keep_mask(nvalid - Q8V_NR);
                        }
                        if (wide)
                            tile32_rows(xq + h, xc + h, xd + h, mr, pw, pd, nblk, &o, &ahead,
                                        (int)(mr - h < Q8V_MR2 ? mr - h : Q8V_MR2));
                        else
                            tile16_rows(xq, xc, xd, pw, pd, nblk, &o, &ahead, mr);
                        ahead_lines(&ahead, ahead.per_tile - nblk); /* the tile took one per block */
                    }
                }
            }
        }
        j0 += nvalid;
    }
}

#else
typedef int kiln_matmul_q8g_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
