/* r16_streams.h — the side-by-side walk of a GEMV call's repacked 16-row
 * groups (matmul_q4r_avx512.c at m = 1, matmul_q8r_avx512.c,
 * matmul_q6r_avx512.c, matmul_q4kr_avx512.c; Q5_K_R16 and IQ4_XS_R16
 * measured slower with it, see their files).
 *
 * A GEMV call gets columns [n0, n1) of W, i.e. consecutive 16-row groups,
 * each one contiguous run of bytes. Read one group after another they are
 * one sequential stream, and on the Xeon (Sapphire/Granite Rapids class, in
 * a VM) one core's single stream stays below what the core can draw from
 * DRAM (a plain read, 1 thread: about 13.8 GB/s as one stream, 15.7 as
 * two). So the groups are split into KILN_R16_STREAMS runs of consecutive
 * groups, and step g of the walk reads group g of every run, one block (or
 * super-block) of each in turn: two sequential streams some groups apart.
 * Every group is still read once, front to back, into its own lanes in the
 * same order, so each output keeps its bits; only the order in which groups
 * are visited changes. Three or four runs measured no better than two
 * (Q6_K_R16). With an odd group count the last step has one group. */
#ifndef KILN_R16_STREAMS_H
#define KILN_R16_STREAMS_H

#include "../../kiln_internal.h"

enum { KILN_R16_STREAMS = 2 /* runs of groups read side by side */ };

/* kiln_r16_walk: the groups of one call's columns and the length of a run (the step count). */
typedef struct {
    int64_t n0;     /* first column of the call */
    int64_t groups; /* 16-row groups in [n0, n1) */
    int64_t steps;  /* steps of the walk: the first run's length */
} kiln_r16_walk;

/* kiln_r16_walk_of splits columns [n0, n1) (multiples of 16) into KILN_R16_STREAMS runs. */
KILN_INLINE kiln_r16_walk kiln_r16_walk_of(int64_t n0, int64_t n1) {
    kiln_r16_walk w;
    w.n0 = n0;
    w.groups = (n1 - n0) / 16;
    w.steps = (w.groups + KILN_R16_STREAMS - 1) / KILN_R16_STREAMS;
    return w;
}

/* kiln_r16_walk_step writes the first columns of step g's groups to j0 (run
 * order) and returns how many there are (1 .. KILN_R16_STREAMS). */
KILN_INLINE int kiln_r16_walk_step(const kiln_r16_walk *w, int64_t g, int64_t j0[KILN_R16_STREAMS]) {
    int count = 0;
    for (int q = 0; q < KILN_R16_STREAMS; q++) {
        j0[q] = w->n0 + (g + q * w->steps) * 16; /* past the groups when q >= count */
        count += g + q * w->steps < w->groups;
    }
    return count;
}

#endif /* KILN_R16_STREAMS_H */
