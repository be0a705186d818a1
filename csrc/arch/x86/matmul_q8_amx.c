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
 * per-thread scratch across k blocks: per block, each C tile is stored
 * (1 KB), then per row acc = fma(dx·dw, cvt(c), acc) in 16-lane vectors.
 *
 * That float step is the limit, as in every int8-tile Q8_0 GEMM: per 16
 * outputs and block one convert, one multiply and one fma on the two
 * 512-bit pipes, against 1/16 of a TDPBSSD (16×16 outputs × 32 quants). */
#include "../../matmul.h"
#include "amx.h"

#if KILN_X86

enum {
    AQ_NR = 16,               /* W rows per B tile */
    AQ_MR = 16,               /* X rows per A tile */
    AQ_QUADS = KILN_QK8_0 / 4, /* B tile rows: quads of one block */
    AQ_KCB = 32,              /* blocks per packed k block: 32 KB of W quants */
    AQ_MB = 1024,             /* X rows per m block (accumulators: 64 KB) */
};
#define AQ_PW_BYTES ((size_t)AQ_KCB * AQ_QUADS * AQ_NR * 4) /* one half's packed quants */
#define AQ_PD_FLOATS ((size_t)AQ_KCB * AQ_NR)               /* one half's scales */
_Static_assert((AQ_PW_BYTES + (AQ_PD_FLOATS + (size_t)AQ_MB * AQ_NR + 2 * 256) * 4) <=
                   KILN_MM_SCRATCH_FLOATS * 4,
               "the AMX Q8_0 GEMM's panel, accumulators and C buffer must fit the per-thread scratch");
_Static_assert(AQ_MB % AQ_MR == 0, "m blocks hold whole 16-row tiles");

/* pack_block writes block b of the 16 W rows as a B tile: pw[q*16 + j] =
 * quad q of row j (the 16×8 dword transpose of matmul_q8g_avx512.c,
 * unbiased: TDPBSSD takes signed W). */
KILN_TARGET_AMX KILN_INLINE void pack_block(const block_q8_0 *const *rows, int64_t b, int32_t *pw) {
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) /* row r in the low half, row r + 8 in the high half */
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)rows[r][b].qs)),
                                  _mm256_loadu_si256((const __m256i *)rows[r + 8][b].qs), 1);
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm512_unpacklo_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 1] = _mm512_unpackhi_epi64(t[4 * h], t[4 * h + 2]);
        u[4 * h + 2] = _mm512_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]);
        u[4 * h + 3] = _mm512_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]);
    }
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; i++) {
        _mm512_store_si512((__m512i *)(pw + i * AQ_NR), _mm512_permutex2var_epi64(u[i], lo, u[4 + i]));
        _mm512_store_si512((__m512i *)(pw + (i + 4) * AQ_NR), _mm512_permutex2var_epi64(u[i], hi, u[4 + i]));
    }
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

/* configure loads the tile shapes for m tiles of mt rows (1..16):
 * tmm0, 1 C (mt × 16 int32), tmm2, 3 A (mt × 32 bytes), tmm4, 5 B (8 quads × 64 bytes). */
KILN_TARGET_AMX static void configure(int mt) {
    kiln_amx_tilecfg c;
    kiln_amx_cfg_init(&c);
    for (int t = 0; t < 2; t++) {
        kiln_amx_cfg_tile(&c, t, mt, AQ_NR * 4);
        kiln_amx_cfg_tile(&c, 2 + t, mt, KILN_QK8_0);
        kiln_amx_cfg_tile(&c, 4 + t, AQ_QUADS, AQ_NR * 4);
    }
    kiln_amx_begin(&c);
}

/* block_dots: C = the int32 dots of one block, X rows at xa (row stride
 * kpad), W as a packed B tile at pw; tile set `par` (0 or 1), so the next
 * block's dots run in the tile unit while the float steps read this one's.
 * block_store writes C out (mt rows × 16 int32): TILESTORED waits for
 * TDPBSSD and holds up what follows it, so it goes after the float steps
 * of the block before. */
KILN_TARGET_AMX KILN_INLINE void block_dots(int par, const int8_t *xa, int64_t kpad, const int32_t *pw) {
    if (par) {
        KILN_TILE_ZERO(1);
        KILN_TILE_LOADD(3, xa, kpad);
        KILN_TILE_LOADD(5, pw, AQ_NR * 4);
        KILN_TILE_DPBSSD(1, 3, 5);
    } else {
        KILN_TILE_ZERO(0);
        KILN_TILE_LOADD(2, xa, kpad);
        KILN_TILE_LOADD(4, pw, AQ_NR * 4);
        KILN_TILE_DPBSSD(0, 2, 4);
    }
}
KILN_TARGET_AMX KILN_INLINE void block_store(int par, int32_t *c) {
    if (par) KILN_TILE_STORED(1, c, AQ_NR * 4);
    else KILN_TILE_STORED(0, c, AQ_NR * 4);
}

/* tile_run: for the ROWS X rows of one m tile and blocks s < nblk in order,
 * f[r] = fma(dx[r][s]·dw[s], float(dot[r][s]), f[r]) with the 16-column
 * accumulators f in registers: from acc_in (NULL: +0), to out (row r at
 * out + r*ld, lanes kept by keep). xa/xd: the tile's first row at the k
 * block's first block; pw/pd: the packed half. */
KILN_TARGET_AMX KILN_INLINE void tile_run(const int8_t *xa, int64_t kpad, const float *xd, int64_t ldx,
                                           const int32_t *pw, const float *pd, int64_t nblk, int32_t *cbuf,
                                           const float *acc_in, float *out, int64_t ld, __mmask16 keep,
                                           const int ROWS) {
    __m512 f[AQ_MR];
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) f[r] = acc_in ? _mm512_load_ps(acc_in + r * AQ_NR) : _mm512_setzero_ps();
    block_dots(0, xa, kpad, pw);
    block_store(0, cbuf);
    for (int64_t s = 0; s < nblk; s++) {
        const int more = s + 1 < nblk, par = (int)((s + 1) & 1);
        if (more) block_dots(par, xa + (s + 1) * KILN_QK8_0, kpad, pw + (s + 1) * AQ_QUADS * AQ_NR);
        const int32_t *c = cbuf + (s & 1) * 256;
        const __m512 dw = _mm512_load_ps(pd + s * AQ_NR);
#pragma GCC unroll 16
        for (int r = 0; r < ROWS; r++) {
            const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512((const __m512i *)(c + r * AQ_NR)));
            f[r] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(xd[r * ldx + s]), dw), dot, f[r]);
        }
        if (more) block_store(par, cbuf + par * 256);
    }
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) _mm512_mask_storeu_ps(out + r * ld, keep, f[r]);
}

KILN_TARGET_AMX static void tile_run_rows(const int8_t *xa, int64_t kpad, const float *xd, int64_t ldx,
                                          const int32_t *pw, const float *pd, int64_t nblk, int32_t *cbuf,
                                          const float *acc_in, float *out, int64_t ld, __mmask16 keep, int rows) {
    switch (rows) {
#define AQ_CASE(R) case R: tile_run(xa, kpad, xd, ldx, pw, pd, nblk, cbuf, acc_in, out, ld, keep, R); break;
    AQ_CASE(1) AQ_CASE(2) AQ_CASE(3) AQ_CASE(4) AQ_CASE(5) AQ_CASE(6) AQ_CASE(7) AQ_CASE(8)
    AQ_CASE(9) AQ_CASE(10) AQ_CASE(11) AQ_CASE(12) AQ_CASE(13) AQ_CASE(14) AQ_CASE(15)
#undef AQ_CASE
    default: tile_run(xa, kpad, xd, ldx, pw, pd, nblk, cbuf, acc_in, out, ld, keep, 16); break;
    }
}

/* keep_mask keeps the first v (0..16) lanes. */
static inline __mmask16 keep_mask(int v) {
    return v >= AQ_NR ? (__mmask16)0xffff : v <= 0 ? (__mmask16)0 : (__mmask16)((1u << v) - 1);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0, X as p->xq / p->xd (kiln_mm_quantize_rows_*).
// Panels of 16 columns; per k block of AQ_KCB blocks the panel is packed
// once, then every 16-row m tile runs over it with its accumulators in
// registers (kept in the per-thread buffer between k blocks, y after the last).
KILN_TARGET_AMX void kiln_mm_q8_gemm_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pw = (int32_t *)scratch; /* 64-byte aligned */
    float *pd = (float *)((char *)pw + AQ_PW_BYTES);
    float *acc = pd + AQ_PD_FLOATS;
    int32_t *cbuf = (int32_t *)(acc + (size_t)AQ_MB * AQ_NR);
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const block_q8_0 *rows[AQ_NR];
    int cfg_rows = AQ_MR;
    configure(cfg_rows);
    for (int64_t j0 = n0; j0 < n1; j0 += AQ_NR) {
        const int nvalid = n1 - j0 >= AQ_NR ? AQ_NR : (int)(n1 - j0);
        for (int l = 0; l < AQ_NR; l++)
            rows[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += AQ_MB) {
            const int64_t mb1 = mb0 + AQ_MB < p->m ? mb0 + AQ_MB : p->m;
            for (int64_t kb0 = 0; kb0 < nb; kb0 += AQ_KCB) {
                const int64_t nblk = nb - kb0 < AQ_KCB ? nb - kb0 : AQ_KCB;
                const int last = kb0 + nblk == nb;
                pack_half(rows, kb0, kb0 + nblk, pw, pd);
                for (int64_t i0 = mb0; i0 < mb1; i0 += AQ_MR) {
                    const int mt = mb1 - i0 < AQ_MR ? (int)(mb1 - i0) : AQ_MR;
                    if (mt != cfg_rows) configure(cfg_rows = mt);
                    float *a = acc + (i0 - mb0) * AQ_NR;
                    float *out = last ? p->y + i0 * p->n + j0 : a;
                    const int64_t ld = last ? p->n : AQ_NR;
                    const __mmask16 keep = last ? keep_mask(nvalid) : (__mmask16)0xffff;
                    const int8_t *xa = p->xq + i0 * p->kpad + kb0 * KILN_QK8_0;
                    const float *xd = p->xd + i0 * nbpad + kb0;
                    if (mt == AQ_MR)
                        tile_run(xa, p->kpad, xd, nbpad, pw, pd, nblk, cbuf, kb0 ? a : NULL, out, ld, keep, AQ_MR);
                    else
                        tile_run_rows(xa, p->kpad, xd, nbpad, pw, pd, nblk, cbuf, kb0 ? a : NULL, out, ld, keep, mt);
                }
            }
        }
    }
    kiln_amx_end();
}

#else
typedef int kiln_matmul_q8_amx_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
