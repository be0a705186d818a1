/* quant_pack_avx512.h — what the AVX-512 VNNI GEMMs of the quantized types
 * (quant_gemm_*_avx512.c) share: the 16-row panel transposition, the
 * eight-lane accumulators' final sum, and loads of X quads.
 *
 * The GEMMs are int8 outer products: a panel of 16 W rows (output columns)
 * is unpacked once into unsigned byte quants and transposed so that one
 * zmm holds the same four consecutive quants (a "quad") of the 16 rows, one
 * int32 lane per row; VPDPBUSD with an X quad broadcast to every lane adds
 * four products to each of the 16 outputs. A block's int32 sums for 16
 * outputs are then exact without any horizontal reduction, and the float
 * steps of quant.h run once per 16 outputs, lane for lane the reference's.
 *
 * Accumulators: quant.h's eight float lanes of an output (block b into lane
 * b % 8) are kept for 16 outputs as acc[lane][16] floats per X row; the
 * final sum ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)) is taken per lane of the
 * vector, so each output sees exactly the scalar reference's operations. */
#ifndef KILN_QUANT_PACK_AVX512_H
#define KILN_QUANT_PACK_AVX512_H

#include "quant_avx2.h"

#if KILN_X86

#define KILN_QP KILN_INLINE KILN_TARGET_AVX512VNNI

enum {
    KILN_QP_NR = 16,    /* W rows (output columns) per panel */
    KILN_QP_LANES = 8,  /* accumulation lanes per output (quant.h) */
    KILN_QP_ACC = KILN_QP_LANES * KILN_QP_NR, /* floats of one X row's accumulators */
};

/* kiln_qp_transpose32 stores 32 quants of each of 16 rows (row j's at
 * src + j*stride) as dst[q*16 + j] = quad q of row j, q = 0..7. */
KILN_QP void kiln_qp_transpose32(const uint8_t *src, size_t stride, int32_t *dst) {
    __m512i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) /* row r in the low half, row r + 8 in the high half */
        z[r] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(src + r * stride))),
                                  _mm256_loadu_si256((const __m256i *)(src + (r + 8) * stride)), 1);
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
    /* u[i] 128-bit lane L holds quad (L & 1 ? 4 : 0) + i of rows 0-3 (L < 2) or 8-11,
     * u[4+i] the same of rows 4-7 / 12-15 */
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int i = 0; i < 4; i++) {
        _mm512_store_si512((__m512i *)(dst + i * KILN_QP_NR), _mm512_permutex2var_epi64(u[i], lo, u[4 + i]));
        _mm512_store_si512((__m512i *)(dst + (i + 4) * KILN_QP_NR), _mm512_permutex2var_epi64(u[i], hi, u[4 + i]));
    }
}

/* kiln_qp_x4 broadcasts the quad of X quants at p to every int32 lane. */
KILN_QP __m512i kiln_qp_x4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* kiln_qp_store_rows writes y[i, j0 : j0+nvalid] for rows = rows of
 * accumulators acc (KILN_QP_ACC floats each): the fixed sum of the eight
 * lanes, output by output. */
KILN_QP void kiln_qp_store_rows(const float *acc, int64_t rows, float *y, int64_t ldy, int nvalid) {
    const __mmask16 keep = nvalid == KILN_QP_NR ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
    for (int64_t i = 0; i < rows; i++, acc += KILN_QP_ACC) {
        __m512 l[8];
        for (int v = 0; v < 8; v++) l[v] = _mm512_load_ps(acc + v * KILN_QP_NR);
        const __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[4]), _mm512_add_ps(l[2], l[6])),
                                       _mm512_add_ps(_mm512_add_ps(l[1], l[5]), _mm512_add_ps(l[3], l[7])));
        _mm512_mask_storeu_ps(y + i * ldy, keep, s);
    }
}

/* kiln_qp_rows points rows[0:16] at W rows j0.. of p; rows past nvalid
 * alias the last valid one (their results are never stored). */
KILN_QP void kiln_qp_rows(const kiln_mm *p, int64_t j0, int nvalid, const uint8_t *rows[KILN_QP_NR]) {
    for (int l = 0; l < KILN_QP_NR; l++)
        rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
}

#endif /* KILN_X86 */
#endif /* KILN_QUANT_PACK_AVX512_H */
