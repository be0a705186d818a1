/* matmul_q8_ahead.h — the W prefetch the packing Q8_0 GEMMs share
 * (matmul_q8g_avx512.c, matmul_q8_avx2.c): while the tiles of one k block
 * run, the W rows the next pack will read are requested into L2, one line
 * per block inside the tiles and the rest of a tile's share after it.
 *
 * Why spread out: the packs read 16 or 32 W rows at once (too many streams
 * for the hardware prefetcher), so without a prefetch each pack waits on
 * DRAM; a burst of all of it before the tiles (~140 lines per 16 rows)
 * fills the miss buffers and stalls the tiles instead. Measured on Zen 5,
 * 8192x2048 m=128 1 thread, AVX-512 VNNI: 60.3% of the int8 peak with the
 * burst, 66.6% spread out. */
#ifndef KILN_MATMUL_Q8_AHEAD_H
#define KILN_MATMUL_Q8_AHEAD_H

#include "../../kiln_internal.h"

#if KILN_X86
#include <immintrin.h>

enum { KILN_AHEAD_MAX_ROWS = 32 };

/* w_ahead is the cursor over the lines of one pack's W: its rows' block range. */
typedef struct {
    const char *start[KILN_AHEAD_MAX_ROWS]; /* first line of each row's range */
    int rows, row;                          /* rows to fetch; the row the cursor is in */
    int64_t lines, line;                    /* lines per row; the cursor's line in its row */
    int64_t per_tile;                       /* lines to request per tile */
} w_ahead;

// a = the lines of blocks [b0, b1) of rows[0:nrows] (nrows <= 32), spread over ntiles tiles.
static inline void ahead_set(w_ahead *a, const block_q8_0 *const *rows, int nrows, int64_t b0, int64_t b1,
                             int64_t ntiles) {
    a->rows = nrows;
    a->lines = 0;
    for (int j = 0; j < nrows; j++) {
        const uintptr_t lo = (uintptr_t)&rows[j][b0] & ~(uintptr_t)63, hi = (uintptr_t)&rows[j][b1];
        a->start[j] = (const char *)lo;
        const int64_t l = (int64_t)((hi - lo + 63) / 64);
        a->lines = l > a->lines ? l : a->lines; /* a line past a shorter run is harmless */
    }
    a->row = 0;
    a->line = 0;
    a->per_tile = (a->lines * nrows + ntiles - 1) / (ntiles > 0 ? ntiles : 1);
}

/* ahead_lines requests the next count lines into L2, row by row. */
static inline void ahead_lines(w_ahead *a, int64_t count) {
    for (; count > 0 && a->row < a->rows; count--) {
        _mm_prefetch(a->start[a->row] + a->line * 64, _MM_HINT_T1);
        if (++a->line == a->lines) {
            a->line = 0;
            a->row++;
        }
    }
}

#endif /* KILN_X86 */
#endif /* KILN_MATMUL_Q8_AHEAD_H */
