/* quant_gemv_q23k_avx512.c — AVX-512 VNNI GEMV (decode, m below the
 * GEMM's threshold) of Q2_K and Q3_K against Q8_K activations (p->xk).
 *
 * 16 W rows per step (addressed as quant_gemv_avx512.h says); per
 * super-block and W row:
 *  - the 2-bit planes are unpacked 64 quants at a time in element order:
 *    the 32 qs bytes of a half broadcast to both 256-bit halves, shifted by
 *    a per-half count and masked (Q3_K also takes its hmask bit into bit
 *    2, u = q + 4 in 0..7);
 *  - VPMADDUBSW against X gives int16 pair sums (Q3_K: plus X's pair sums
 *    times -4, taken once per X row and super-block: the pair sums of q·x);
 *    each 128-bit lane is one 16-element group, so VPDPWSSD by the group's
 *    scale (VPERMW of the 16 scales as int16) accumulates Σ sc·dot: exact;
 *  - Q2_K's min sum Σ mn·(X's 16-element sums) by VPMADDWD, two rows per zmm.
 * Add trees leave lane r = row r's exact int32 sums (quant.h), and the
 * float steps (block b into lane b % 8, the fixed lane sum; Q2_K with its
 * min as kiln_q_with_min) run once per 16 outputs, lane for lane the
 * scalar reference's: the dot's and the GEMM's bits. */
#include "../../kernels.h"
#include "quant_gemv_avx512.h"

#if KILN_X86

enum { GV23_MAXR = 3 };
_Static_assert(GV23_MAXR + 1 >= KILN_MM_Q8G_MIN_M, "the GEMV covers every m below the GEMM's threshold");

/* gv23_quants: the super-block's 256 unsigned quants in element order, 64
 * per zmm (u[v] = elements 64v..64v+63): element 128h + 32j + l is bits
 * 2j, 2j+1 of qs[32h + l] (Q3_K: | bit 4h+j of hmask[l] << 2). */
KILN_QP void gv23_quants(int q3, const uint8_t *blk, __m512i u[4]) {
    const uint8_t *qs = blk + (q3 ? offsetof(block_q3_K, qs) : offsetof(block_q2_K, qs));
    const __m512i three = _mm512_set1_epi8(3);
    const __m512i hm = q3 ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)blk)) : _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
        const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)));
        for (int c = 0; c < 2; c++) { /* j = 2c (low half), 2c + 1 (high half) */
            const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)(4 * c)), _mm256_set1_epi16((short)(4 * c + 2)), 1);
            __m512i q = _mm512_and_si512(_mm512_srlv_epi16(v, cnt), three);
            if (q3) { /* bit k = 4h + j of hmask to bit 2 */
                const int k0 = 4 * h + 2 * c;
                const __m512i hb = k0 >= 2 ? _mm512_srlv_epi16(hm, _mm512_inserti64x4(_mm512_set1_epi16((short)(k0 - 2)), _mm256_set1_epi16((short)(k0 - 1)), 1))
                                           : _mm512_sllv_epi16(hm, _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(1), 1));
                q = _mm512_ternarylogic_epi32(q, hb, _mm512_set1_epi8(4), 0xF8); /* q | (hb & 4) */
            }
            u[2 * h + c] = q;
        }
    }
}

/* gv23_scale_lanes: lane L of s[v] = int16 scale 4v + L in every word, from 16 int16 scales. */
KILN_QP void gv23_scale_lanes(__m256i sc16, __m512i s[4]) {
    const __m512i sc = _mm512_castsi256_si512(sc16);
    const __m512i lanes = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(_mm_set1_epi16(0), _mm_set1_epi16(1))),
                                             _mm256_setr_m128i(_mm_set1_epi16(2), _mm_set1_epi16(3)), 1);
    for (int v = 0; v < 4; v++) s[v] = _mm512_permutexvar_epi16(_mm512_add_epi16(lanes, _mm512_set1_epi16((short)(4 * v))), sc);
}

/* gv23_q3_scales: Q3_K's 16 scales minus 32 as int16 (kiln_q3_K_scales, in a vector). */
KILN_QP __m256i gv23_q3_scales(const uint8_t *blk) {
    /* bytes 94..109 of the block: qs tail, the 12 scale bytes (dwords 1..3 = a0 a1 a2), d */
    const __m128i v = _mm_loadu_si128((const __m128i *)(blk + offsetof(block_q3_K, scales) - 4));
    const __m128i a01 = _mm_shuffle_epi32(v, 0x99);                               /* a0 a1 a0 a1 */
    const __m128i a2 = _mm_shuffle_epi32(v, 0xFF);                                /* a2 x4 */
    const __m128i lo = _mm_and_si128(_mm_srlv_epi32(a01, _mm_setr_epi32(0, 0, 4, 4)), _mm_set1_epi32(0x0f0f0f0f));
    const __m128i hi = _mm_and_si128(_mm_srlv_epi32(a2, _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi32(0x03030303));
    const __m128i s = _mm_or_si128(lo, _mm_slli_epi32(hi, 4));
    return _mm256_sub_epi16(_mm256_cvtepu8_epi16(s), _mm256_set1_epi16(32));
}

// y[0:MR, j0:j0+16] for the 16 rows w0 + l*p->wstride (Q2_K, or Q3_K when q3).
KILN_QP void gv23_tile(int q3, const kiln_mm *p, const uint8_t *w0, int64_t j0, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t ws = p->wstride, bsz = q3 ? sizeof(block_q3_K) : sizeof(block_q2_K), step = KILN_QP_NR * bsz;
    const char *pf = kiln_gv_prefetch_from(w0, ws), *pf_to = pf;
    _Alignas(64) float acc[GV23_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    const uint8_t *q[4]; /* block b of rows 0, 4, 8, 12 */
    for (int L = 0; L < 4; L++) q[L] = w0 + (size_t)(4 * L) * ws;
    for (int64_t b = 0; b < nbk; b++, q[0] += bsz, q[1] += bsz, q[2] += bsz, q[3] += bsz) {
        __m512 dw, dmw = _mm512_setzero_ps();
        if (q3)
            dw = kiln_gv_f16x16(q, ws, offsetof(block_q3_K, d));
        else {
            const __m512i head = kiln_gv_heads32(q, ws, offsetof(block_q2_K, d));
            dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head));
            dmw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
        }
        __m512i xv[GV23_MAXR][4], xoff[GV23_MAXR][4];
        __m256i bs[GV23_MAXR];
        for (int r = 0; r < MR; r++) {
            const block_q8_K *x = (const block_q8_K *)p->xk + r * nbk + b;
            for (int v = 0; v < 4; v++) {
                xv[r][v] = _mm512_loadu_si512(x->qs + 64 * v);
                xoff[r][v] = q3 ? _mm512_slli_epi16(_mm512_sub_epi16(_mm512_setzero_si512(), _mm512_maddubs_epi16(_mm512_set1_epi8(1), xv[r][v])), 2)
                                : _mm512_setzero_si512();
            }
            bs[r] = _mm256_loadu_si256((const __m256i *)x->bsums);
        }
        _Alignas(64) int32_t part[GV23_MAXR][8][KILN_QP_NR], mpart[GV23_MAXR][8][KILN_QP_NR];
        for (int i = 0; i < 8; i++) {
            for (pf_to += step / 8; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
            const int rows2[2] = {kiln_qp_row_lo(i), kiln_qp_row_hi(i)};
            __m512i t[GV23_MAXR][2];
            __m256i mt[GV23_MAXR][2];
            for (int e = 0; e < 2; e++) {
                const uint8_t *blk = kiln_gv_row(q, ws, rows2[e]);
                __m512i u[4], s[4];
                gv23_quants(q3, blk, u);
                __m128i mn = _mm_setzero_si128();
                if (q3)
                    gv23_scale_lanes(gv23_q3_scales(blk), s);
                else {
                    const __m128i raw = _mm_loadu_si128((const __m128i *)blk);
                    gv23_scale_lanes(_mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0xF))), s);
                    mn = _mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0xF));
                }
                for (int r = 0; r < MR; r++) {
                    __m512i a = _mm512_setzero_si512();
                    for (int v = 0; v < 4; v++) {
                        __m512i m = _mm512_maddubs_epi16(u[v], xv[r][v]);
                        if (q3) m = _mm512_add_epi16(m, xoff[r][v]);
                        a = _mm512_dpwssd_epi32(a, m, s[v]);
                    }
                    t[r][e] = a;
                    if (!q3) mt[r][e] = _mm256_madd_epi16(_mm256_cvtepu8_epi16(mn), bs[r]);
                }
            }
            for (int r = 0; r < MR; r++) {
                kiln_gv_part(part[r][i], t[r][0], t[r][1]);
                if (!q3) _mm512_store_si512(mpart[r][i], _mm512_inserti64x4(_mm512_castsi256_si512(mt[r][0]), mt[r][1], 1));
            }
        }
        for (int r = 0; r < MR; r++) {
            const __m512i sumi = kiln_gv_sum16(part[r]);
            const __m512 dx = _mm512_set1_ps(((const block_q8_K *)p->xk)[r * nbk + b].d);
            float *lane = acc[r] + (b % 8) * KILN_QP_NR;
            __m512 f = _mm512_add_ps(_mm512_load_ps(lane), _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi)));
            if (!q3) {
                const __m512i summ = kiln_gv_sum16(mpart[r]);
                f = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmw, dx), _mm512_cvtepi32_ps(summ)));
            }
            _mm512_store_ps(lane, f);
        }
    }
    for (int r = 0; r < MR; r++) kiln_qp_store_rows(acc[r], 1, p->y + r * p->n + j0, p->n, KILN_QP_NR);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ, three X rows at a time; whole 16-row
// groups here, the rows of a last partial group through the AVX2 dot (the same bits).
KILN_QP void gv23_gemv(int q3, const kiln_mm *p, int64_t n0, int64_t n1) {
    const int64_t nbk = p->k / KILN_QK_K, full = n0 + (n1 - n0) / KILN_QP_NR * KILN_QP_NR;
    for (int64_t i0 = 0; i0 < p->m; i0 += GV23_MAXR) {
        kiln_mm q = *p;
        q.m = p->m - i0 < GV23_MAXR ? p->m - i0 : GV23_MAXR;
        q.xk = (const block_q8_K *)p->xk + i0 * nbk;
        q.y = p->y + i0 * p->n;
        for (int64_t j0 = n0; j0 < full; j0 += KILN_QP_NR) {
            const uint8_t *w0 = (const uint8_t *)q.w + (size_t)j0 * q.wstride;
            switch (q.m) {
            case 3: gv23_tile(q3, &q, w0, j0, 3); break;
            case 2: gv23_tile(q3, &q, w0, j0, 2); break;
            default: gv23_tile(q3, &q, w0, j0, 1); break;
            }
        }
        if (full < n1) kiln_mm_qdot(&q, full, n1, q3 ? kiln_dot_q3_K_avx2 : kiln_dot_q2_K_avx2, NULL);
    }
}

KILN_TARGET_AVX512VNNI void kiln_mm_gemv_q2_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    gv23_gemv(0, p, n0, n1);
}

KILN_TARGET_AVX512VNNI void kiln_mm_gemv_q3_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    gv23_gemv(1, p, n0, n1);
}

#else
typedef int kiln_quant_gemv_q23k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
