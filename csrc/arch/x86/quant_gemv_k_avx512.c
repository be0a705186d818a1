/* quant_gemv_k_avx512.c — AVX-512 VNNI GEMV (decode, m below the GEMM's
 * threshold) of Q4_K and Q5_K against Q8_K activations (p->xk).
 *
 * 16 W rows per step; per super-block and W row:
 *  - the 6-bit scales and mins are unpacked with llama.cpp's 32-bit masks,
 *    four rows per zmm (eight scale bytes, eight min bytes per lane);
 *  - one zmm holds the quants of 32-byte chunks c and c+1 (c = 0, 2): its
 *    low nibbles are sub-blocks 2c (low half) and 2c+2 (high half), its
 *    high nibbles 2c+1 and 2c+3; VPMADDUBSW against X's matching halves
 *    (four X vectors per super-block, shared by the rows) and VPDPWSSD by
 *    each half's sub-block scale accumulate 16 int32 lanes whose sum is the
 *    row's Σ sc·dot (row_sum);
 *  - the min sum Σ mn·(X's 32-element sums) by VPMADDWD, four rows per zmm.
 * Add trees leave lane r = row r's exact int32 sums (quant.h), and the
 * float steps (block b into lane b % 8, the fixed lane sum) run once per
 * 16 outputs, lane for lane the scalar reference's: the same bits as the
 * dot and the GEMM. W is prefetched GV_AHEAD 16-row groups ahead.
 *
 * The scales stay gathered and the rows in a pointer array: the other
 * GEMVs' scalar scale loads and four row pointers (quant_gemv_avx512.h)
 * made this one faster in cache but slower from DRAM, where decode reads
 * (8192x2048, m = 1: q4_k 0.237 -> 0.247 ms, q5_k 0.310 -> 0.361 ms). */
#include "../../kernels.h"
#include "quant_pack_avx512.h"

#if KILN_X86

enum { GVK_MAXR = 3 };
_Static_assert(GVK_MAXR + 1 >= KILN_MM_Q8G_MIN_M, "the GEMV covers every m below the GEMM's threshold");

#ifndef GV_AHEAD
#define GV_AHEAD 1
#endif
#ifndef GV_HINT
#define GV_HINT _MM_HINT_T0
#endif

/* scales_mins4 unpacks the 12 scale bytes of four rows' blocks (row 4L+e
 * of the group in 128-bit lane L; blk[j] is row j's block) with llama.cpp's
 * 32-bit masks, lane by lane: bytes 0-7 of lane L are that row's eight
 * scales, bytes 8-15 its eight mins. */
KILN_QP __m512i scales_mins4(const uint8_t *const blk[KILN_QP_NR], int e) {
    __m512i a = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(blk[e] + 4)));
    a = _mm512_inserti32x4(a, _mm_loadu_si128((const __m128i *)(blk[4 + e] + 4)), 1);
    a = _mm512_inserti32x4(a, _mm_loadu_si128((const __m128i *)(blk[8 + e] + 4)), 2);
    a = _mm512_inserti32x4(a, _mm_loadu_si128((const __m128i *)(blk[12 + e] + 4)), 3);
    /* dwords u0 u1 u2 of each lane: out = [u0 & k1, (u2 & k2) | ((u0 >> 6) & k3) << 4,
     *                                      u1 & k1, ((u2 >> 4) & k2) | ((u1 >> 6) & k3) << 4] */
    const __m512i pv = _mm512_shuffle_epi32(a, (_MM_PERM_ENUM)0x98); /* [u0, u2, u1, u2] */
    const __m512i qv = _mm512_shuffle_epi32(a, (_MM_PERM_ENUM)0x50); /* [u0, u0, u1, u1] */
    const __m512i k1 = _mm512_set1_epi32(0x3f3f3f3f), k2 = _mm512_set1_epi32(0x0f0f0f0f), k3 = _mm512_set1_epi32(0x03030303);
    const __m512i sh = _mm512_set_epi32(4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0);
    const __m512i odd = _mm512_or_si512(_mm512_and_si512(_mm512_srlv_epi32(pv, sh), k2),
                                        _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(qv, 6), k3), 4));
    return _mm512_mask_blend_epi32((__mmask16)0xAAAA, _mm512_and_si512(pv, k1), odd);
}

/* row_sum: Σ sc·dot of one W row's super-block (16 lanes to be added).
 * VPMADDUBSW gives int16 pair sums of quant·x (|2·31·128| < 2^15: exact),
 * VPDPWSSD multiplies them by the sub-block's scale (an int16 in both
 * halves of every lane, picked by VPSHUFB from the eight scale bytes that
 * open every 128-bit lane of sc) and
 * accumulates in int32: exact. */
KILN_QP __m512i row_sum(const uint8_t *blk, int q5, __m512i sc, const __m512i xv[4], const __m512i pick[4]) {
    const __m512i low4 = _mm512_set1_epi8(0xF);
    const uint8_t *qs = blk + (q5 ? 48 : 16);
    __m512i hb = _mm512_setzero_si512();
    if (q5) hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 16)));
    __m512i t = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) { /* chunks 2h, 2h+1: sub-blocks 4h + {0, 2} (low nibbles), 4h + {1, 3} */
        const __m512i q = _mm512_loadu_si512(qs + 64 * h);
        __m512i lo = _mm512_and_si512(q, low4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
        if (q5) { /* chunk c's fifth bits: bit 2c (low nibbles) and 2c+1 of qh */
            const __m512i one = _mm512_set1_epi8(1);
            const __m512i cl = _mm512_inserti64x4(_mm512_set1_epi16((short)(4 * h)), _mm256_set1_epi16((short)(4 * h + 2)), 1);
            lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, cl), one), 4));
            const __m512i ch = _mm512_add_epi16(cl, _mm512_set1_epi16(1));
            hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, ch), one), 4));
        }
        t = _mm512_dpwssd_epi32(t, _mm512_maddubs_epi16(lo, xv[2 * h]), _mm512_shuffle_epi8(sc, pick[2 * h]));
        t = _mm512_dpwssd_epi32(t, _mm512_maddubs_epi16(hi, xv[2 * h + 1]), _mm512_shuffle_epi8(sc, pick[2 * h + 1]));
    }
    return t;
}

/* scale_pick: VPSHUFB controls making int16 lanes of scale a (low half) and
 * b (high half) from the eight scale bytes: a = 4h + (odd), b = a + 2. */
KILN_QP void scale_pick(__m512i pick[4]) {
    for (int v = 0; v < 4; v++) {
        const int a = 4 * (v / 2) + (v % 2), b = a + 2;
        const __m256i ca = _mm256_set1_epi16((short)(0xFF00 | a)), cb = _mm256_set1_epi16((short)(0xFF00 | b));
        pick[v] = _mm512_inserti64x4(_mm512_castsi256_si512(ca), cb, 1);
    }
}

// y[0:MR, j0:j0+16] for W rows rows[0:16] (Q4_K or Q5_K blocks of bsz bytes).
KILN_QP void gvk_tile(int q5, size_t bsz, const kiln_mm *p, const uint8_t *const rows[KILN_QP_NR], int64_t j0,
                      int nvalid, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t step = KILN_QP_NR * bsz;
    const char *pf = (const char *)rows[0] + (size_t)GV_AHEAD * KILN_QP_NR * p->wstride, *pf_to = pf;
    _Alignas(64) float acc[GVK_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    int32_t off32[KILN_QP_NR];
    for (int l = 0; l < KILN_QP_NR; l++) off32[l] = (int32_t)(rows[l] - rows[0]);
    const __m512i offs = _mm512_loadu_si512(off32);
    __m512i pick[4];
    scale_pick(pick);
    for (int64_t b = 0; b < nbk; b++) {
        for (pf_to += step; pf < pf_to; pf += 64) _mm_prefetch(pf, GV_HINT);
        const __m512i head = _mm512_i32gather_epi32(offs, rows[0] + b * bsz, 1);
        const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
        const __m512 dmw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
        const uint8_t *blk[KILN_QP_NR];
        for (int l = 0; l < KILN_QP_NR; l++) blk[l] = rows[l] + b * bsz;
        __m512i scm[4]; /* row 4L+e's scales and mins in lane L of scm[e] */
        for (int e = 0; e < 4; e++) scm[e] = scales_mins4(blk, e);
        __m512i scr[KILN_QP_NR]; /* row j's scales in every lane */
        for (int j = 0; j < KILN_QP_NR; j++) scr[j] = _mm512_shuffle_i64x2(scm[j % 4], scm[j % 4], (j / 4) * 0x55);
        for (int r = 0; r < MR; r++) {
            const block_q8_K *x = (const block_q8_K *)p->xk + r * nbk + b;
            __m512i xv[4];
            for (int h = 0; h < 2; h++) {
                xv[2 * h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x->qs + 128 * h))),
                                               _mm256_loadu_si256((const __m256i *)(x->qs + 128 * h + 64)), 1);
                xv[2 * h + 1] = _mm512_inserti64x4(
                    _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x->qs + 128 * h + 32))),
                    _mm256_loadu_si256((const __m256i *)(x->qs + 128 * h + 96)), 1);
            }
            __m512i v[8];
            for (int i = 0; i < 8; i++) {
                const int a = kiln_qp_row_lo(i), c = kiln_qp_row_hi(i);
                const __m512i ta = row_sum(blk[a], q5, scr[a], xv, pick), tc = row_sum(blk[c], q5, scr[c], xv, pick);
                v[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(ta, tc, 0x44), _mm512_shuffle_i64x2(ta, tc, 0xEE));
            }
            const __m512i sumi = kiln_qp_tree16(v);
            /* X's 32-element sums as int16 pairs, against four rows' mins per zmm */
            const __m256i bs = _mm256_loadu_si256((const __m256i *)x->bsums);
            const __m512i pairs = _mm512_broadcast_i32x4(_mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
            __m512i mv[4];
            const __m512i mins16 = _mm512_broadcast_i32x4(
                _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1)); /* bytes 8-15 as int16 */
            for (int e = 0; e < 4; e++) mv[e] = _mm512_madd_epi16(_mm512_shuffle_epi8(scm[e], mins16), pairs);
            const __m512i summ = kiln_qp_tree4(mv);
            const __m512 dx = _mm512_set1_ps(x->d);
            float *lane = acc[r] + (b % 8) * KILN_QP_NR;
            __m512 f = _mm512_add_ps(_mm512_load_ps(lane), _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi)));
            f = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmw, dx), _mm512_cvtepi32_ps(summ)));
            _mm512_store_ps(lane, f);
        }
    }
    for (int r = 0; r < MR; r++) kiln_qp_store_rows(acc[r], 1, p->y + r * p->n + j0, p->n, nvalid);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows Q4_K (q5 = 0) or Q5_K.
KILN_QP void gvk_gemv(int q5, const kiln_mm *p, int64_t n0, int64_t n1) {
    const size_t bsz = q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
    if (p->wstride > (size_t)(INT32_MAX / KILN_QP_NR)) { /* 16 rows' offsets must fit the gather's int32 */
        kiln_mm_qdot(p, n0, n1, q5 ? kiln_dot_q5_K_avx2 : kiln_dot_q4_K_avx2, NULL);
        return;
    }
    const int64_t nbk = p->k / KILN_QK_K;
    for (int64_t i0 = 0; i0 < p->m; i0 += GVK_MAXR) {
        kiln_mm q = *p;
        q.m = p->m - i0 < GVK_MAXR ? p->m - i0 : GVK_MAXR;
        q.xk = (const block_q8_K *)p->xk + i0 * nbk;
        q.y = p->y + i0 * p->n;
        for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) {
            const int nvalid = n1 - j0 >= KILN_QP_NR ? KILN_QP_NR : (int)(n1 - j0);
            const uint8_t *rows[KILN_QP_NR];
            kiln_qp_rows(&q, j0, nvalid, rows);
            switch (q.m) {
            case 3: gvk_tile(q5, bsz, &q, rows, j0, nvalid, 3); break;
            case 2: gvk_tile(q5, bsz, &q, rows, j0, nvalid, 2); break;
            default: gvk_tile(q5, bsz, &q, rows, j0, nvalid, 1); break;
            }
        }
    }
}

KILN_TARGET_AVX512VNNI void kiln_mm_gemv_q4_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    gvk_gemv(0, p, n0, n1);
}

KILN_TARGET_AVX512VNNI void kiln_mm_gemv_q5_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    gvk_gemv(1, p, n0, n1);
}

#else
typedef int kiln_quant_gemv_k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
