/* quant_gemv_avx512.h — what the AVX-512 VNNI GEMVs of the legacy types,
 * Q2_K, Q3_K, Q6_K and IQ4_XS (quant_gemv_{legacy,q23k,q6k,iq4xs}_avx512.c)
 * share: how a step's 16 W rows are addressed, how their block scales are
 * loaded, how far ahead W is prefetched.
 *
 * A step reads block b of 16 consecutive W rows. They are addressed as
 * q[L] + e*ws, row 4L+e (q[L] = block b of row 4L, ws = the row stride):
 * four pointers and the stride stay in general registers, where an array
 * of 16 row pointers spills and reloads them every step.
 *
 * The f16 scales opening the 16 blocks are scalar loads packed into
 * general registers and moved to a vector: a 16-lane VPGATHERDD cost more
 * than all the rest of a Q4_0 step (8192x2048 in cache: 0.31 ms with the
 * gather, 0.18 ms with the scales left out, 0.22 ms packed). */
#ifndef KILN_QUANT_GEMV_AVX512_H
#define KILN_QUANT_GEMV_AVX512_H

#include "quant_pack_avx512.h"

#if KILN_X86

/* kiln_gv_heads32: the 32 bits at byte off of the 16 rows' current blocks
 * (d and dmin / m where they open the block), lane l = row l. */
KILN_QP __m512i kiln_gv_heads32(const uint8_t *const q[4], size_t ws, size_t off) {
    uint64_t h[8];
    for (int l = 0; l < 8; l++) {
        uint32_t a, c;
        memcpy(&a, q[l / 2] + (size_t)(2 * (l % 2)) * ws + off, 4);
        memcpy(&c, q[l / 2] + (size_t)(2 * (l % 2) + 1) * ws + off, 4);
        h[l] = a | (uint64_t)c << 32;
    }
    return _mm512_set_epi64((long long)h[7], (long long)h[6], (long long)h[5], (long long)h[4], (long long)h[3],
                            (long long)h[2], (long long)h[1], (long long)h[0]);
}

/* kiln_gv_f16x16: the f16 at byte off of the 16 rows' current blocks, lane l = row l, as f32. */
KILN_QP __m512 kiln_gv_f16x16(const uint8_t *const q[4], size_t ws, size_t off) {
    uint64_t h[4];
    for (int l = 0; l < 4; l++) {
        uint16_t d[4];
        for (int e = 0; e < 4; e++) memcpy(&d[e], q[l] + (size_t)e * ws + off, 2);
        h[l] = d[0] | (uint64_t)d[1] << 16 | (uint64_t)d[2] << 32 | (uint64_t)d[3] << 48;
    }
    return _mm512_cvtph_ps(_mm256_set_epi64x((long long)h[3], (long long)h[2], (long long)h[1], (long long)h[0]));
}

/* kiln_gv_prefetch_from: where a 16-row group's prefetch starts (W is read
 * as one contiguous run, the run is prefetched a step's bytes per step):
 * the next group, or KILN_GV_AHEAD_MIN bytes ahead when groups are short
 * (k = 576: 16 rows are 5 KB, read in about the DRAM latency). */
#ifndef KILN_GV_AHEAD_MIN
#define KILN_GV_AHEAD_MIN 16384
#endif
KILN_QP const char *kiln_gv_prefetch_from(const uint8_t *w0, size_t ws) {
    const size_t group = KILN_QP_NR * ws;
    return (const char *)w0 + (group > KILN_GV_AHEAD_MIN ? group : KILN_GV_AHEAD_MIN);
}

/* kiln_gv_row is row j's current block (j = 4L + e). */
#define kiln_gv_row(q, ws, j) ((q)[(j) / 4] + (size_t)((j) % 4) * (ws))

/* The super-block GEMVs (Q2_K, Q3_K, Q6_K, IQ4_XS) keep, per X row, eight
 * partial vectors of a block's 16 row sums: kiln_gv_part stores one from
 * the two halves t0, t1 of a sub-block pair, kiln_gv_sum16 adds the eight
 * into the 16 rows' exact int32 block sums (kiln_qp_tree16's fixed order). */
KILN_QP void kiln_gv_part(int32_t *dst, __m512i t0, __m512i t1) {
    _mm512_store_si512(dst, _mm512_add_epi32(_mm512_shuffle_i64x2(t0, t1, 0x44), _mm512_shuffle_i64x2(t0, t1, 0xEE)));
}

KILN_QP __m512i kiln_gv_sum16(const int32_t part[8][KILN_QP_NR]) {
    __m512i v[8];
    for (int i = 0; i < 8; i++) v[i] = _mm512_load_si512(part[i]);
    return kiln_qp_tree16(v);
}

#endif /* KILN_X86 */
#endif /* KILN_QUANT_GEMV_AVX512_H */
