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

#include "quant_pack_k_avx2.h"

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

/* kiln_qp_rows points rows[0:16] at W rows j0.. of p; rows past nvalid
 * alias the last valid one (their results are never stored). */
KILN_QP void kiln_qp_rows(const kiln_mm *p, int64_t j0, int nvalid, const uint8_t *rows[KILN_QP_NR]) {
    for (int l = 0; l < KILN_QP_NR; l++)
        rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
}


/* The 32-element types' quants made unsigned (Q4_0 +8, Q5_0 +16, IQ4_NL
 * +128; Q4_1 and Q5_1 are unsigned): the offset's share, offset·Σx, is
 * taken off in integers by the kernels. */
typedef enum { KILN_QP_Q4_0, KILN_QP_Q4_1, KILN_QP_Q5_0, KILN_QP_Q5_1, KILN_QP_IQ4_NL } kiln_qp_legacy;

/* kiln_qp_offset is the type's unsigned offset (0: none; Q4_1/Q5_1 have a min instead). */
KILN_QP int kiln_qp_offset(kiln_qp_legacy ty) {
    return ty == KILN_QP_Q4_0 ? 8 : ty == KILN_QP_Q5_0 ? 16 : ty == KILN_QP_IQ4_NL ? 128 : 0;
}

/* kiln_qp_legacy_u: a block's 32 quants, unsigned, in element order. */
KILN_QP __m256i kiln_qp_legacy_u(kiln_qp_legacy ty, const uint8_t *blk) {
    switch (ty) {
    case KILN_QP_Q4_0: return kiln_qa_nibbles32(blk + 2);
    case KILN_QP_Q4_1: return kiln_qa_nibbles32(blk + 4);
    case KILN_QP_Q5_0:
        return _mm256_or_si256(kiln_qa_nibbles32(blk + 6), _mm256_and_si256(kiln_qa_bits32(blk + 2), _mm256_set1_epi8(0x10)));
    case KILN_QP_Q5_1:
        return _mm256_or_si256(kiln_qa_nibbles32(blk + 8), _mm256_and_si256(kiln_qa_bits32(blk + 4), _mm256_set1_epi8(0x10)));
    default: {
        const __m256i table = _mm256_xor_si256(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)), _mm256_set1_epi8((char)0x80));
        return _mm256_shuffle_epi8(table, kiln_qa_nibbles32(blk + 2));
    }
    }
}

/* kiln_qp_legacy_u2: blocks a and b's unsigned quants (kiln_qp_legacy_u)
 * in one zmm, a's in the low half: each 16 quant bytes are loaded into two
 * 128-bit lanes, the second shifted down a nibble, and Q5's fifth bits
 * come from one 64-bit mask (bit e of a's qh, then of b's). */
KILN_QP __m512i kiln_qp_legacy_u2(kiln_qp_legacy ty, const uint8_t *a, const uint8_t *b) {
    const int qs = ty == KILN_QP_Q4_1 ? 4 : ty == KILN_QP_Q5_0 ? 6 : ty == KILN_QP_Q5_1 ? 8 : 2;
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(a + qs)))),
                                   _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(b + qs))), 1);
    z = _mm512_and_si512(_mm512_mask_srli_epi16(z, (__mmask32)0xFF00FF00u, z, 4), _mm512_set1_epi8(0xF));
    if (ty == KILN_QP_Q5_0 || ty == KILN_QP_Q5_1) {
        const int qh = ty == KILN_QP_Q5_0 ? 2 : 4;
        uint32_t ha, hb;
        memcpy(&ha, a + qh, 4);
        memcpy(&hb, b + qh, 4);
        z = _mm512_or_si512(z, _mm512_maskz_mov_epi8(_cvtu64_mask64((uint64_t)ha | (uint64_t)hb << 32), _mm512_set1_epi8(0x10)));
    }
    if (ty == KILN_QP_IQ4_NL) {
        const __m512i table = _mm512_xor_si512(
            _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)), _mm512_set1_epi8((char)0x80));
        z = _mm512_shuffle_epi8(table, z);
    }
    return z;
}

/* kiln_qp_tree4: v[e] carries row 4L+e in 128-bit lane L (four int32 each); lane
 * 4L+e of the result is that row's sum. */
KILN_QP __m512i kiln_qp_tree4(const __m512i v[4]) {
    const __m512i w0 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    const __m512i w1 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(w0, w1), _mm512_unpackhi_epi64(w0, w1));
}

/* kiln_qp_tree16 adds the 8 int32 lanes of each half of v[0..7] into one
 * vector whose lane r is the sum of W row r, when v[i] carries row
 * kiln_qp_row_lo(i) in its low half and kiln_qp_row_hi(i) in its high half. */
KILN_QP __m512i kiln_qp_tree16(const __m512i v[8]) {
    __m512i w[4], u[2];
    for (int i = 0; i < 4; i++)
        w[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(w[2 * i], w[2 * i + 1]),
                                _mm512_unpackhi_epi64(w[2 * i], w[2 * i + 1]));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88), _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
}
static inline int kiln_qp_row_lo(int i) { return i < 4 ? i : i + 4; }
static inline int kiln_qp_row_hi(int i) { return i < 4 ? i + 4 : i + 8; }

/* kiln_qp_sum32 is Σ of 32 signed X quants, in every lane. */
KILN_QP __m512i kiln_qp_sum32(__m256i x) {
    __m256i c = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), x);
    c = _mm256_add_epi32(c, _mm256_permute2x128_si256(c, c, 1));
    c = _mm256_add_epi32(c, _mm256_shuffle_epi32(c, 0x4e));
    c = _mm256_add_epi32(c, _mm256_shuffle_epi32(c, 0xb1));
    return _mm512_broadcast_i64x4(c);
}

/* kiln_qp_lanes_sum16 is the fixed sum of eight lane vectors, output by output. */
KILN_QP __m512 kiln_qp_lanes_sum16(const __m512 l[8]) {
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[4]), _mm512_add_ps(l[2], l[6])),
                         _mm512_add_ps(_mm512_add_ps(l[1], l[5]), _mm512_add_ps(l[3], l[7])));
}

/* kiln_qp_store_rows writes y[i, j0 : j0+nvalid] for rows = rows of
 * accumulators acc (KILN_QP_ACC floats each): the fixed sum of the eight
 * lanes, output by output. */
KILN_QP void kiln_qp_store_rows(const float *acc, int64_t rows, float *y, int64_t ldy, int nvalid) {
    const __mmask16 keep = nvalid == KILN_QP_NR ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
    for (int64_t i = 0; i < rows; i++, acc += KILN_QP_ACC) {
        __m512 l[8];
        for (int v = 0; v < 8; v++) l[v] = _mm512_load_ps(acc + v * KILN_QP_NR);
        _mm512_mask_storeu_ps(y + i * ldy, keep, kiln_qp_lanes_sum16(l));
    }
}

#endif /* KILN_X86 */
#endif /* KILN_QUANT_PACK_AVX512_H */
