/* moe_q6k_avx512.c — a 16-row AVX-512 VNNI GEMV of Q6_K weights against
 * Q8_K activations, for the experts of kiln_moe_ffn (qwen3-30b-a3b's
 * Q4_K_M files keep half the layers' ffn_down_exps in Q6_K: 2048 rows of
 * only three super-blocks, where the one-row dot's per-row horizontal sums
 * and float steps cost as much as its products).
 *
 * Per super-block and W row (quant_gemv_k_avx512.c's scheme for Q6_K):
 *  - one zmm holds 64 consecutive quants, made from 64 ql bytes (low or
 *    high nibbles) and the matching 2-bit fields of the 32 qh bytes, which
 *    are broadcast to both halves and shifted per half (VPSRLVW);
 *  - VPMADDUBSW against X's 64 matching quants gives exact int16 pair sums
 *    (|2·63·128| < 2^15), VPDPWSSD multiplies them by their 16-element
 *    group's int8 scale (an int16 per 128-bit lane, by VPERMW) and
 *    accumulates exact int32s;
 *  - the quants' offset of 32 is taken off in integers: 32·Σ sc·(X's
 *    16-element sums), by VPMADDWD.
 * The add tree leaves lane r = row r's exact int32 sum, and the float steps
 * (block b into lane b % 8, (d·dx)·sumi, the fixed lane sum) run once per
 * 16 outputs, lane for lane the scalar reference's: the same bits as the
 * Q6_K dot and GEMM. */
#include "../../kernels.h"
#include "../../moe.h"
#include "quant_pack_avx512.h"

#if KILN_X86

enum { MQ6_MAXR = 3 };
#define MQ6_AHEAD 1

/* q6_row_sum: one W row's super-block Σ sc·(q-32)·x spread over 16 int32
 * lanes (to be added). xv[c] holds X's quants 64c..64c+63; sidx[c] picks
 * group 4c + L's scale into 128-bit lane L. */
KILN_QP __m512i q6_row_sum(const uint8_t *blk, const __m512i xv[4], const __m512i sidx[4], __m256i bsums) {
    const block_q6_K *w = (const block_q6_K *)blk;
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    /* qh shifts: quants 0-31 of a half take bits 0-1, 32-63 bits 2-3 (A);
     * 64-95 bits 4-5, 96-127 bits 6-7 (B) */
    const __m512i sha = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    const __m512i shb = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
    const __m512i sc = _mm512_castsi256_si512(sc16);
    __m512i t = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i l = _mm512_loadu_si512(w->ql + 64 * h);
        const __m512i hb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w->qh + 32 * h)));
        const __m512i qa = _mm512_or_si512(_mm512_and_si512(l, m4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, sha), m3), 4));
        const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                           _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(hb, shb), m3), 4));
        t = _mm512_dpwssd_epi32(t, _mm512_maddubs_epi16(qa, xv[2 * h]), _mm512_permutexvar_epi16(sidx[2 * h], sc));
        t = _mm512_dpwssd_epi32(t, _mm512_maddubs_epi16(qb, xv[2 * h + 1]), _mm512_permutexvar_epi16(sidx[2 * h + 1], sc));
    }
    const __m256i off = _mm256_madd_epi16(sc16, bsums);
    return _mm512_sub_epi32(t, _mm512_slli_epi32(_mm512_zextsi256_si512(off), 5));
}

/* y[0:MR, j0:j0+nvalid] for W rows rows[0:16]. */
KILN_QP void q6_tile(const kiln_mm *p, const uint8_t *const rows[KILN_QP_NR], int64_t j0, int nvalid, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t bsz = sizeof(block_q6_K), step = KILN_QP_NR * bsz;
    const char *pf = (const char *)rows[0] + (size_t)MQ6_AHEAD * KILN_QP_NR * p->wstride, *pf_to = pf;
    _Alignas(64) float acc[MQ6_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    int32_t off32[KILN_QP_NR];
    for (int l = 0; l < KILN_QP_NR; l++) off32[l] = (int32_t)(rows[l] - rows[0]);
    const __m512i offs = _mm512_loadu_si512(off32);
    __m512i sidx[4];
    for (int c = 0; c < 4; c++) {
        _Alignas(64) int16_t ix[32];
        for (int j = 0; j < 32; j++) ix[j] = (int16_t)(4 * c + j / 8);
        sidx[c] = _mm512_load_si512(ix);
    }
    for (int64_t b = 0; b < nbk; b++) {
        for (pf_to += step; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
        /* d is the block's last field: read the dword ending with it (scales 14, 15, d) */
        const __m512i tail = _mm512_i32gather_epi32(offs, rows[0] + b * bsz + bsz - 4, 1);
        const __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(tail, 16)));
        for (int r = 0; r < MR; r++) {
            const block_q8_K *x = (const block_q8_K *)p->xk + r * nbk + b;
            __m512i xv[4];
            for (int c = 0; c < 4; c++) xv[c] = _mm512_loadu_si512(x->qs + 64 * c);
            const __m256i bs = _mm256_loadu_si256((const __m256i *)x->bsums);
            __m512i v[8];
            for (int i = 0; i < 8; i++) {
                const int a = kiln_qp_row_lo(i), c = kiln_qp_row_hi(i);
                const __m512i ta = q6_row_sum(rows[a] + b * bsz, xv, sidx, bs), tc = q6_row_sum(rows[c] + b * bsz, xv, sidx, bs);
                v[i] = _mm512_add_epi32(_mm512_shuffle_i64x2(ta, tc, 0x44), _mm512_shuffle_i64x2(ta, tc, 0xEE));
            }
            const __m512i sumi = kiln_qp_tree16(v);
            float *lane = acc[r] + (b % 8) * KILN_QP_NR;
            const __m512 f = _mm512_add_ps(_mm512_load_ps(lane),
                                           _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(x->d)), _mm512_cvtepi32_ps(sumi)));
            _mm512_store_ps(lane, f);
        }
    }
    for (int r = 0; r < MR; r++) kiln_qp_store_rows(acc[r], 1, p->y + r * p->n + j0, p->n, nvalid);
}

KILN_TARGET_AVX512VNNI void kiln_moe_gemv_q6_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    if (p->wstride > (size_t)(INT32_MAX / KILN_QP_NR)) { /* 16 rows' offsets must fit the gather's int32 */
        kiln_mm_qdot(p, n0, n1, kiln_dot_q6_K_avx2, NULL);
        return;
    }
    const int64_t nbk = p->k / KILN_QK_K;
    for (int64_t i0 = 0; i0 < p->m; i0 += MQ6_MAXR) {
        kiln_mm q = *p;
        q.m = p->m - i0 < MQ6_MAXR ? p->m - i0 : MQ6_MAXR;
        q.xk = (const block_q8_K *)p->xk + i0 * nbk;
        q.y = p->y + i0 * p->n;
        for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) {
            const int nvalid = n1 - j0 >= KILN_QP_NR ? KILN_QP_NR : (int)(n1 - j0);
            const uint8_t *rows[KILN_QP_NR];
            kiln_qp_rows(&q, j0, nvalid, rows);
            switch (q.m) {
            case 3: q6_tile(&q, rows, j0, nvalid, 3); break;
            case 2: q6_tile(&q, rows, j0, nvalid, 2); break;
            default: q6_tile(&q, rows, j0, nvalid, 1); break;
            }
        }
    }
}

#else
typedef int kiln_moe_q6k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
