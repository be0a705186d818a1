/* matmul_q8_avx512.c — AVX-512 VNNI Q8_0 dot-product kernel for small m
 * (decode: GEMV and batches below the GEMM's KILN_MM_Q8G_MIN_M).
 *
 * Per-output arithmetic: the AVX2 Q8_0 rule of matmul.h, exactly:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 * so its outputs are bit-identical to the AVX2 kernels' (GEMV and GEMM) and
 * to the GEMM this table pairs it with, whatever m, the tile or the split.
 *
 * int32 dots with VPDPBUSD (u8 × s8): W quants are biased to u8 (w ^ 0x80 =
 * w + 128) and X stays s8, so per block Σ(w+128)·x = Σw·x + 128·Σx; the
 * 128·Σx of the X block (one more VPDPBUSD and a lane sum per block and X
 * row, shared by the 16 W rows) is subtracted, exact in int32
 * (|Σ(w+128)·x| <= 32·255·128). Biasing W (not X) keeps the correction on
 * the X side, where it is shared by every W row.
 *
 * Layout of one step (16 W rows × one block, one X row): vector v_i holds
 * the 32 quants of row lo(i) in its low half and of row hi(i) in its high
 * half, with lo/hi chosen so that a three-level add tree (unpack 32, unpack
 * 64, 128-bit shuffles) leaves lane r = the int32 dot of W row j0 + r. Then
 * one subtract, one convert, one multiply and one fma per 16 outputs: the
 * scales, the conversion and the fma are paid per 16 outputs, not per output.
 *
 * W rows are read once, block by block across 16 rows (a 544-byte stride
 * pattern the hardware prefetcher follows poorly), so the rows Q8V_AHEAD
 * groups ahead are requested a step's worth of bytes per step. */
#include "../../matmul.h"

#if KILN_X86
#include <immintrin.h>

enum { Q8V_NR = 16, Q8V_MAXR = 3 };

/* How many 16-row groups ahead the kernel prefetches W. */
#ifndef Q8V_AHEAD
#define Q8V_AHEAD 2
#endif
#ifndef Q8V_HINT
#define Q8V_HINT _MM_HINT_T0
#endif

KILN_TARGET_AVX512VNNI KILN_INLINE __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
    return _mm512_dpbusd_epi32(acc, u8, s8);
}

/* tree16 adds the 8 lanes of each half of v[0..7] into one vector whose
 * lane r is the sum of row r (rows placed by row_of below). */
KILN_TARGET_AVX512VNNI KILN_INLINE __m512i tree16(const __m512i v[8]) {
    __m512i w[4], u[2];
    for (int i = 0; i < 4; i++)
        w[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]),
                                _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]));
    for (int i = 0; i < 2; i++)
        u[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(w[2 * i], w[2 * i + 1]),
                                _mm512_unpackhi_epi64(w[2 * i], w[2 * i + 1]));
    /* u[i] 128-bit lane L: L0, L1 the two quarters of lo rows, L2, L3 of hi rows */
    return _mm512_add_epi32(_mm512_shuffle_i32x4(u[0], u[1], 0x88), _mm512_shuffle_i32x4(u[0], u[1], 0xdd));
}

/* row_of gives the W rows vector i carries (low half, high half) so that
 * tree16's lane r is row r: i < 4: rows i, i+4; i >= 4: rows i+4, i+8. */
static inline int row_lo(int i) { return i < 4 ? i : i + 4; }
static inline int row_hi(int i) { return i < 4 ? i + 4 : i + 8; }

/* x_bias128 is 128·Σ of the 32 X quants of one block, in every lane. */
KILN_TARGET_AVX512VNNI KILN_INLINE __m512i x_bias128(__m256i x) {
    __m256i c = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), x);
    c = _mm256_add_epi32(c, _mm256_permute2x128_si256(c, c, 1));
    c = _mm256_add_epi32(c, _mm256_shuffle_epi32(c, 0x4e));
    c = _mm256_add_epi32(c, _mm256_shuffle_epi32(c, 0xb1));
    return _mm512_broadcast_i64x4(c);
}

// y[i0:i0+MR, j0:j0+16] = X[i0:i0+MR, :] · W[j0:j0+16, :]ᵀ; W rows block_q8_0;
// rows past nvalid alias the last valid one (their results are not stored).
KILN_TARGET_AVX512VNNI KILN_INLINE void gemv_tile(const kiln_mm *p, int64_t i0, int64_t j0, int nvalid,
                                                  const int MR) {
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const block_q8_0 *wr[Q8V_NR];
    for (int l = 0; l < Q8V_NR; l++)
        wr[l] = (const block_q8_0 *)((const char *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride);
    const int8_t *xq = p->xq + i0 * p->kpad;
    const float *xd = p->xd + i0 * nbpad;
    const size_t step = Q8V_NR * sizeof(block_q8_0); /* bytes of W one block step reads */
    const char *pf = (const char *)wr[0] + (size_t)Q8V_AHEAD * Q8V_NR * p->wstride, *pf_to = pf;
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    __m512 acc[Q8V_MAXR];
    for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        for (pf_to += step; pf < pf_to; pf += 64) _mm_prefetch(pf, Q8V_HINT);
        uint16_t d16[Q8V_NR];
        for (int l = 0; l < Q8V_NR; l++) d16[l] = wr[l][b].d;
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)d16));
        __m512i wv[8];
        for (int i = 0; i < 8; i++) {
            const __m256i lo = _mm256_loadu_si256((const __m256i *)wr[row_lo(i)][b].qs);
            const __m256i hi = _mm256_loadu_si256((const __m256i *)wr[row_hi(i)][b].qs);
            wv[i] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), bias);
        }
        for (int r = 0; r < MR; r++) {
            const __m256i x = _mm256_load_si256((const __m256i *)(xq + r * p->kpad + b * KILN_QK8_0));
            const __m512i xv = _mm512_broadcast_i64x4(x);
            __m512i s[8];
            for (int i = 0; i < 8; i++) s[i] = dpbusd(_mm512_setzero_si512(), wv[i], xv);
            const __m512i dot = _mm512_sub_epi32(tree16(s), x_bias128(x));
            const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(xd[r * nbpad + b]), dw);
            acc[r] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(dot), acc[r]);
        }
    }
    const __mmask16 keep = nvalid == Q8V_NR ? (__mmask16)0xffff : (__mmask16)((1u << nvalid) - 1);
    for (int r = 0; r < MR; r++) _mm512_mask_storeu_ps(p->y + (i0 + r) * p->n + j0, keep, acc[r]);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows block_q8_0, X q8_0-quantized (p->xq, p->xd).
KILN_TARGET_AVX512VNNI void kiln_mm_q8_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    for (int64_t j0 = n0; j0 < n1; j0 += Q8V_NR) {
        const int nvalid = n1 - j0 >= Q8V_NR ? Q8V_NR : (int)(n1 - j0);
        int64_t i0 = 0;
        for (; i0 + 3 <= p->m; i0 += 3) gemv_tile(p, i0, j0, nvalid, 3);
        if (p->m - i0 == 2) gemv_tile(p, i0, j0, nvalid, 2);
        else if (p->m - i0 == 1) gemv_tile(p, i0, j0, nvalid, 1);
    }
}

#else
typedef int kiln_matmul_q8_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
