/* r16_streams.h — a GEMV call's repacked 16-row groups read as several
 * runs side by side.
 *
 * Why: one core of the Xeon (a VM; ~16 GB/s read) serves one sequential
 * stream well below what it reads from two. A kernel call's columns
 * [n0, n1) are split into KILN_R16_STREAMS runs of consecutive groups and
 * the kernel walks them together: step s takes group s of every run that
 * has one, and reads a block (pair) or super-block of each in turn. Every
 * group's arithmetic is unchanged — its blocks in order, into its own
 * lanes — so the bits are those of one group at a time. Measured, 1
 * thread, from DRAM: Q6_K_R16 8192x2048 11.0 -> 12.5 GB/s, 128256x2048
 * 13.7 -> 14.5; three or four runs measured no better than two. */
#ifndef KILN_R16_STREAMS_H
#define KILN_R16_STREAMS_H

#include "../../repack.h"

#define KILN_R16_STREAMS 2

typedef struct {
    int64_t n0, groups, run; /* first row, groups in the call, groups per run (= steps) */
} kiln_r16_runs;

KILN_INLINE kiln_r16_runs kiln_r16_runs_of(int64_t n0, int64_t n1) {
    const int64_t groups = (n1 - n0) / KILN_R16_ROWS;
    return (kiln_r16_runs){.n0 = n0, .groups = groups, .run = (groups + KILN_R16_STREAMS - 1) / KILN_R16_STREAMS};
}

/* kiln_r16_runs_step writes the first rows of step `step`'s groups (group
 * `step` of each run that has one) into j0 and returns their count. */
KILN_INLINE int kiln_r16_runs_step(const kiln_r16_runs *r, int64_t step, int64_t j0[KILN_R16_STREAMS]) {
    int n = 0;
    for (int q = 0; q < KILN_R16_STREAMS; q++) {
        const int64_t g = step + q * r->run;
        if (g < r->groups) j0[n++] = r->n0 + g * KILN_R16_ROWS;
    }
    return n;
}

#endif /* KILN_R16_STREAMS_H */
