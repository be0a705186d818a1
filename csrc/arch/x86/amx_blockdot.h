/* amx_blockdot.h — what the AMX GEMMs of the 32-element types (Q8_0,
 * Q4_0, Q5_0, IQ4_NL: matmul_q8_amx.c, quant_gemm_legacy_amx.c) share: the
 * exact int32 dot of every (X row, W row) pair of one 32-quant block, for a
 * step of up to 32 X rows × 32 W rows, by TDPBSSD on 2×2 C tiles.
 *
 *   tmm0..3  C: rows 0..15 × columns 0..15, 16..31 (tmm0, 1), rows 16..31 (tmm2, 3)
 *   tmm4, 5  A: X rows 0..15 / 16..31 of the block, rows × 32 bytes, read
 *               in place from the quantized rows (p->xq, row stride kpad)
 *   tmm6, 7  B: W rows 0..15 / 16..31 of the block in the VNNI form: 8 rows
 *               (quads of k) × 64 bytes (16 W rows × 4 signed quants)
 * After a step, cbuf holds the four C tiles (16 int32 a row): tile t at
 * cbuf + 256·t. The dots are exact, so each kernel's float steps (its
 * type's rule) make its bits the other variants'.
 *
 * Costs (this Xeon, L1-resident, per 16×16 C tile and block): TDPBSSD with
 * K = 32 takes as long as with K = 64 (half the tile peak at most), and
 * TILESTORED costs about as much again and holds up what follows it, so
 * overlapping it with the float steps of another block did not pay (two
 * alternating tile sets: 48 TSC ticks per C tile; this in-order 2×2 step:
 * 37, its loads shared by four dots). */
#ifndef KILN_AMX_BLOCKDOT_H
#define KILN_AMX_BLOCKDOT_H

#include "amx.h"

#if KILN_X86

enum {
    KILN_ABD_NR = 16,                  /* W rows per B tile */
    KILN_ABD_MR = 16,                  /* X rows per A tile */
    KILN_ABD_QUADS = KILN_QK8_0 / 4,   /* B tile rows: quads of one block */
    KILN_ABD_B_INTS = KILN_ABD_QUADS * KILN_ABD_NR, /* int32 of one packed B tile */
};

/* kiln_abd_configure loads the tile shapes for steps of mt X rows (1..32):
 * the A and C tiles of rows past mt stay unconfigured (never used). */
KILN_TARGET_AMX static inline void kiln_abd_configure(int mt) {
    kiln_amx_tilecfg c;
    kiln_amx_cfg_init(&c);
    const int r0 = mt < KILN_ABD_MR ? mt : KILN_ABD_MR, r1 = mt - r0;
    kiln_amx_cfg_tile(&c, 0, r0, KILN_ABD_NR * 4);
    kiln_amx_cfg_tile(&c, 1, r0, KILN_ABD_NR * 4);
    kiln_amx_cfg_tile(&c, 4, r0, KILN_QK8_0);
    if (r1 > 0) {
        kiln_amx_cfg_tile(&c, 2, r1, KILN_ABD_NR * 4);
        kiln_amx_cfg_tile(&c, 3, r1, KILN_ABD_NR * 4);
        kiln_amx_cfg_tile(&c, 5, r1, KILN_QK8_0);
    }
    kiln_amx_cfg_tile(&c, 6, KILN_ABD_QUADS, KILN_ABD_NR * 4);
    kiln_amx_cfg_tile(&c, 7, KILN_ABD_QUADS, KILN_ABD_NR * 4);
    kiln_amx_begin(&c);
}

/* kiln_abd_step: cbuf = the dots of one block: X rows at xa (row stride
 * kpad), W's packed B tiles at pw0 (columns 0..15) and pw1 (16..31).
 * TWO_M: X rows 16..31 too; TWO_N: columns 16..31 too. */
KILN_TARGET_AMX KILN_INLINE void kiln_abd_step(const int8_t *xa, int64_t kpad, const int32_t *pw0,
                                               const int32_t *pw1, int32_t *cbuf, const int TWO_M,
                                               const int TWO_N) {
    KILN_TILE_ZERO(0);
    KILN_TILE_LOADD(4, xa, kpad);
    KILN_TILE_LOADD(6, pw0, KILN_ABD_NR * 4);
    if (TWO_N) {
        KILN_TILE_ZERO(1);
        KILN_TILE_LOADD(7, pw1, KILN_ABD_NR * 4);
    }
    if (TWO_M) {
        KILN_TILE_ZERO(2);
        KILN_TILE_LOADD(5, xa + KILN_ABD_MR * kpad, kpad);
    }
    if (TWO_M && TWO_N) KILN_TILE_ZERO(3);
    KILN_TILE_DPBSSD(0, 4, 6);
    if (TWO_N) KILN_TILE_DPBSSD(1, 4, 7);
    if (TWO_M) KILN_TILE_DPBSSD(2, 5, 6);
    if (TWO_M && TWO_N) KILN_TILE_DPBSSD(3, 5, 7);
    KILN_TILE_STORED(0, cbuf, KILN_ABD_NR * 4);
    if (TWO_N) KILN_TILE_STORED(1, cbuf + 256, KILN_ABD_NR * 4);
    if (TWO_M) KILN_TILE_STORED(2, cbuf + 512, KILN_ABD_NR * 4);
    if (TWO_M && TWO_N) KILN_TILE_STORED(3, cbuf + 768, KILN_ABD_NR * 4);
}

/* kiln_abd_transpose writes 32 signed quants of each of 16 rows (row j's
 * at q[j], any alignment) as a B tile: dst[Q*16 + j] = quad Q of row j (a
 * 16×8 dword transpose, as the VNNI GEMMs pack their panels). */
KILN_TARGET_AMX KILN_INLINE void kiln_abd_transpose(const int8_t *const q[KILN_ABD_NR], int32_t *dst) {
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) /* row r in the low half, row r + 8 in the high half */
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)q[r])),
                                  _mm256_loadu_si256((const __m256i *)q[r + 8]), 1);
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
        _mm512_store_si512((__m512i *)(dst + i * KILN_ABD_NR), _mm512_permutex2var_epi64(u[i], lo, u[4 + i]));
        _mm512_store_si512((__m512i *)(dst + (i + 4) * KILN_ABD_NR), _mm512_permutex2var_epi64(u[i], hi, u[4 + i]));
    }
}

/* kiln_abd_ahead fetches, into L2 a few lines per block step, the W bytes
 * the next panel pack will read (the next k block of this panel, or the
 * first of the next panel): the pack otherwise waits on DRAM for 32
 * strided rows at once (15% of the Q8_0 GEMM's time before). */
typedef struct {
    const uint8_t *rows[2 * KILN_ABD_NR]; /* first byte of the next pack in each W row */
    int nrows, lines_per_row;
    int64_t next, total; /* lines fetched so far, of total */
    int per_step;        /* lines per block step */
} kiln_abd_ahead;

/* kiln_abd_ahead_set aims a at bytes [off, off + bytes) of rows w + j*stride,
 * j < nrows, spread over `steps` block steps (nrows 0: nothing to fetch). */
static inline void kiln_abd_ahead_set(kiln_abd_ahead *a, const uint8_t *w, size_t stride, int nrows, size_t off,
                                      size_t bytes, int64_t steps) {
    a->nrows = nrows;
    a->lines_per_row = (int)((bytes + 63) / 64) + 1; /* +1: a row's bytes may straddle one more line */
    for (int j = 0; j < nrows; j++) a->rows[j] = w + (size_t)j * stride + off;
    a->next = 0;
    a->total = (int64_t)nrows * a->lines_per_row;
    a->per_step = (int)((a->total + (steps > 0 ? steps : 1) - 1) / (steps > 0 ? steps : 1));
}

/* kiln_abd_ahead_step fetches the next per_step lines. */
KILN_TARGET_AMX KILN_INLINE void kiln_abd_ahead_step(kiln_abd_ahead *a) {
    for (int i = 0; i < a->per_step && a->next < a->total; i++, a->next++) {
        const int64_t j = a->next / a->lines_per_row, l = a->next % a->lines_per_row;
        _mm_prefetch((const char *)((uintptr_t)(a->rows[j] + l * 64) & ~(uintptr_t)63), _MM_HINT_T1);
    }
}

/* kiln_abd_keep keeps the first v (0..16) lanes. */
static inline __mmask16 kiln_abd_keep(int v) {
    return v >= KILN_ABD_NR ? (__mmask16)0xffff : v <= 0 ? (__mmask16)0 : (__mmask16)((1u << v) - 1);
}

#endif /* KILN_X86 */
#endif /* KILN_AMX_BLOCKDOT_H */
