/* r16_prefetch.h — software prefetch in the GEMVs over repacked 16-row
 * groups (matmul_*r_avx512.c, matmul_*r_avx2.c).
 *
 * A repacked group is one sequential stream that a GEMV reads once. On the
 * Intel Xeon (Sapphire/Granite Rapids class, in a VM) the hardware
 * prefetchers alone leave one core's GEMV well below the read bandwidth the
 * core reaches: each kernel also asks, for every cache line it loads, for
 * the line KILN_R16_PF bytes further on. Measured there, 1 thread, weights
 * from DRAM (8192x2048, GB/s without -> with): AVX-512 Q4_K 13.8 -> 15.2,
 * Q6_K 10.8 -> 14.3, Q4_0 13.1 -> 14.6, Q8_0 13.5 -> 15.4, Q5_0 13.2 ->
 * 14.3; AVX2 Q4_K 11.4 -> 14.2, Q6_K 10.7 -> 13.3, Q4_0 14.5 -> 16.0, Q8_0
 * 12.6 -> 15.1 (probe 16-16.7), at 512 bytes ahead (1024: below); later,
 * at 1024 bytes, AVX2 Q5_K 13.3 -> 14.2-14.8 and IQ4_XS 11.8-12.1 ->
 * 12.5-12.8 (1 thread), 22.0-22.6 -> 25.6-26.5 and 19.3-21.7 -> 20.3-23.4
 * (2 threads; probe 17.3 and 33.5). On
 * AMD Zen 5 the hardware prefetcher serves the stream on its own and the
 * Q8_0 GEMV measured slower with prefetches (46.5-47.9 GB/s against 49-50),
 * and the AVX2 GEMVs on AMD are instruction-bound, where a prefetch is one
 * more instruction: there the kernels run without them.
 *
 * Each kernel's loop nest takes a compile-time PF (0 or 1) and its entry
 * point picks the instance once per call (kiln_r16_prefetch_wanted), so the
 * loop without prefetches is the same code as before them; the arithmetic
 * is the same either way. */
#ifndef KILN_R16_PREFETCH_H
#define KILN_R16_PREFETCH_H

#include "../../kiln_internal.h"

#include <immintrin.h>

/* Bytes ahead and cache level (-D to measure others). Measured on the Xeon,
 * 1 thread, 8192x2048, GB/s at 512 / 1024 / 1536 / 2048 bytes: Q6_K 13.8-14.3
 * / 14.4-15.1 / 14.0-14.1 / 14.2-14.4, Q4_0 13.9-14.8 / 14.6-15.3 / 14.8-14.9
 * / 14.3-14.4, Q8_0 15.0-15.2 / 15.1-15.2 / 15.5-15.7 / 15.5, Q5_0 13.9-14.1
 * / 14.3-14.5 / 14.3-14.5 / 13.8-14.1, Q4_K 14.7-14.8 / 14.5 (noise about
 * ±0.5 between rounds); into L2 only (T1) measured 0.5-1 GB/s slower. */
#ifndef KILN_R16_PF
#define KILN_R16_PF 1024
#endif
#ifndef KILN_R16_PF_HINT
#define KILN_R16_PF_HINT _MM_HINT_T0
#endif

/* KILN_R16_PREFETCH(line, PF): with PF, ask for the line KILN_R16_PF bytes past line. */
#define KILN_R16_PREFETCH(line, PF)                                                  \
    do {                                                                             \
        if (PF) _mm_prefetch((const char *)(line) + KILN_R16_PF, KILN_R16_PF_HINT);   \
    } while (0)

/* kiln_r16_prefetch_wanted: whether this CPU's GEMVs take the prefetching loops. */
KILN_INLINE int kiln_r16_prefetch_wanted(void) { return kiln_cpu_is_intel(); }

#endif /* KILN_R16_PREFETCH_H */
