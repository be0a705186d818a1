/* quant_gemv_q6k_avx512.c — AVX-512 VNNI GEMV (decode, m below the GEMM's
 * threshold) of Q6_K against Q8_K activations (p->xk).
 *
 * 16 W rows per step (addressed as quant_gemv_avx512.h says); per
 * super-block and W row:
 *  - the 6-bit quants are unpacked 64 at a time in element order: one zmm
 *    of ql (two 32-byte chunks) gives the low nibbles, the 32 qh bytes
 *    broadcast to both halves and shifted by a per-half count give the two
 *    high bits, masked into place by one VPTERNLOG (7 operations per 128
 *    quants, no per-32-byte unpacking);
 *  - VPMADDUBSW against X (int16 pair sums u0·x0 + u1·x1 of the unsigned
 *    quants u = q + 32, |2·63·127| < 2^15) plus X's pair sums times -32
 *    (taken once per X row and super-block, shared by the 16 rows) makes
 *    the pair sums of (u - 32)·x = q·x, |16002 + 8128| < 2^15: exact;
 *  - each 128-bit lane of those is one 16-element group, so VPDPWSSD by
 *    the group's scale (int16 in every word of the lane, VPERMW of the 16
 *    scales) accumulates Σ sc·dot in 16 int32 lanes: exact.
 * An add tree leaves lane r = row r's exact int32 sum (quant.h), and the
 * float step (block b into lane b % 8, the fixed lane sum) runs once per
 * 16 outputs, lane for lane the scalar reference's: the dot's and the
 * GEMM's bits.
 *
 * Why this pays where the last 16-row attempt did not: that one unpacked
 * per 32 bytes (the dot's unpack) and multiplied each group's int32 dot by
 * its scale with VPMULLD; here the unpack is 3.5 operations per 64 quants
 * and the scale rides in the multiply-add.
 *
 * Rows longer than GV6_MAX_K take the row-by-row dot (below) instead: at
 * k = 8192 with 2 threads the 16-row steps read W slower than the dot
 * (2048x8192 from DRAM: 0.32 vs 0.25 ms; 1 thread 0.40 vs 0.42 ms), while
 * at k = 2048 the GEMV is faster at 1 and 2 threads. */
#include "../../kernels.h"
#include "quant_gemv_avx512.h"
#include "quant_avx2.h"

#if KILN_X86

enum { GV6_MAXR = 3 };
_Static_assert(GV6_MAXR + 1 >= KILN_MM_Q8G_MIN_M, "the GEMV covers every m below the GEMM's threshold");

/* GV6_MAX_K: the longest rows the 16-row GEMV takes (elements). */
#define GV6_MAX_K 4096

#ifndef GV6_HINT
#define GV6_HINT _MM_HINT_T1
#endif

/* gv6_xoff: -32 · (x0 + x1) for the 128 int16 pairs of X's super-block, as
 * four zmm matching the quant vectors (chunk v = elements 64v..64v+63). */
KILN_QP void gv6_xoff(const block_q8_K *x, __m512i xv[4], __m512i off[4]) {
    const __m512i ones = _mm512_set1_epi8(1);
    for (int v = 0; v < 4; v++) {
        xv[v] = _mm512_loadu_si512(x->qs + 64 * v);
        off[v] = _mm512_mullo_epi16(_mm512_maddubs_epi16(ones, xv[v]), _mm512_set1_epi16(-32));
    }
}

/* gv6_quants: the super-block's 256 unsigned quants u = q + 32 in element
 * order, 64 per zmm (u[v] = elements 64v..64v+63). */
KILN_QP void gv6_quants(const uint8_t *blk, __m512i u[4]) {
    const block_q6_K *w = (const block_q6_K *)blk;
    const __m512i low4 = _mm512_set1_epi8(0xF), hi2 = _mm512_set1_epi8(0x30);
    /* half h: elements 128h + 32c + l take ql[64h + 32(c & 1) + l] (low nibble for
     * c < 2, high for c >= 2) and bits 2c, 2c+1 of qh[32h + l] */
    const __m512i shl_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr_hi = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    for (int h = 0; h < 2; h++) {
        const __m512i ql = _mm512_loadu_si512(w->ql + 64 * h);
        const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w->qh + 32 * h)));
        /* (qh >> 2c & 3) << 4: c = 0, 1 as qh << 4, << 2; c = 2, 3 as qh, qh >> 2; then & 0x30 */
        u[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, low4), _mm512_sllv_epi16(qh, shl_lo), hi2, 0xF8);
        u[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                                 _mm512_srlv_epi16(qh, shr_hi), hi2, 0xF8);
    }
}

/* gv6_scales: the 16 group scales as int16, lane L of s[v] = scale 4v + L in every word. */
KILN_QP void gv6_scales(const uint8_t *blk, __m512i s[4]) {
    const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)((const block_q6_K *)blk)->scales)));
    for (int v = 0; v < 4; v++) {
        const __m512i idx = _mm512_add_epi16(_mm512_set1_epi16((short)(4 * v)),
                                             _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(_mm_set1_epi16(0), _mm_set1_epi16(1))),
                                                                _mm256_setr_m128i(_mm_set1_epi16(2), _mm_set1_epi16(3)), 1));
        s[v] = _mm512_permutexvar_epi16(idx, sc);
    }
}

/* ---- the row-by-row dot (rows longer than GV6_MAX_K) ---- */

/* pair: two 32-byte halves in one zmm (a low, b high). */
KILN_QP __m512i pair(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }

/* hsum_zmm: the sum of 16 int32 lanes. */
KILN_QP int32_t hsum_zmm(__m512i v) {
    return kiln_qa_hsum(_mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1)));
}

/* q6_K_sums: the unsigned 6-bit quants in 64-byte pairs (lane l of the pair
 * starting at group g belongs to group g + l/4), unpacked once for R X rows. */
KILN_QP void q6_K_sums(const block_q6_K *w, const block_q8_K *const *x, int R, int32_t *sumi) {
    const __m256i low4 = _mm256_set1_epi8(0xF), three = _mm256_set1_epi8(3);
    const __m512i sc32 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)w->scales));
    const __m512i quarter = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    __m512i acc[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int half = 0; half < 2; half++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * half));
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
        for (int p = 0; p < 2; p++) {
            const int g = 8 * half + 4 * p;
            const __m512i u = p ? pair(q2, q3) : pair(q0, q1);
            const __m512i s = _mm512_permutexvar_epi32(_mm512_add_epi32(quarter, _mm512_set1_epi32(g)), sc32);
            for (int r = 0; r < R; r++) {
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(x[r]->qs + 128 * half + 64 * p));
                acc[r] = _mm512_add_epi32(acc[r], _mm512_mullo_epi32(dot, s));
            }
        }
    }
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w->scales));
    for (int r = 0; r < R; r++) {
        const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[r]->bsums));
        sumi[r] = hsum_zmm(acc[r]) - 32 * kiln_qa_hsum(off);
    }
}

KILN_QP void q6_K_dot(const block_q6_K *w, const void *const *xq, int R, int64_t nb, float *out) {
    float lane[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *x[4];
        for (int r = 0; r < R; r++) x[r] = (const block_q8_K *)xq[r] + b;
        int32_t sumi[4];
        q6_K_sums(&w[b], x, R, sumi);
        for (int r = 0; r < R; r++) lane[r][b % 8] = lane[r][b % 8] + (kiln_qa_f16(w[b].d) * x[r]->d) * (float)sumi[r];
    }
    for (int r = 0; r < R; r++) out[r] = kiln_q_lanes_sum(lane[r]);
}

static KILN_TARGET_AVX512VNNI float dot_q6_K(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    float out;
    q6_K_dot(vw, &vx, 1, nb, &out);
    return out;
}

static KILN_TARGET_AVX512VNNI void dot4_q6_K(const void *w, const void *const xq[4], const float *const xd[4],
                                             int64_t nb, float out[4]) {
    (void)xd;
    q6_K_dot(w, xq, 4, nb, out);
}

// y[0:MR, j0:j0+16] for the 16 Q6_K rows w0 + l*p->wstride.
KILN_QP void gv6_tile(const kiln_mm *p, const uint8_t *w0, int64_t j0, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t ws = p->wstride, bsz = sizeof(block_q6_K), step = KILN_QP_NR * bsz;
    const char *pf = kiln_gv_prefetch_from(w0, ws), *pf_to = pf;
    _Alignas(64) float acc[GV6_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    const uint8_t *q[4]; /* block b of rows 0, 4, 8, 12 */
    for (int L = 0; L < 4; L++) q[L] = w0 + (size_t)(4 * L) * ws;
    for (int64_t b = 0; b < nbk; b++, q[0] += bsz, q[1] += bsz, q[2] += bsz, q[3] += bsz) {
        const __m512 dw = kiln_gv_f16x16(q, ws, offsetof(block_q6_K, d));
        __m512i xv[GV6_MAXR][4], xoff[GV6_MAXR][4];
        for (int r = 0; r < MR; r++) gv6_xoff((const block_q8_K *)p->xk + r * nbk + b, xv[r], xoff[r]);
        _Alignas(64) int32_t part[GV6_MAXR][8][KILN_QP_NR]; /* v[i] of kiln_qp_tree16, per X row */
        for (int i = 0; i < 8; i++) {
            for (pf_to += step / 8; pf < pf_to; pf += 64) _mm_prefetch(pf, GV6_HINT);
            const int rows2[2] = {kiln_qp_row_lo(i), kiln_qp_row_hi(i)};
            __m512i t[GV6_MAXR][2];
            for (int h = 0; h < 2; h++) {
                const uint8_t *blk = kiln_gv_row(q, ws, rows2[h]);
                __m512i u[4], s[4];
                gv6_quants(blk, u);
                gv6_scales(blk, s);
                for (int r = 0; r < MR; r++) {
                    __m512i a = _mm512_setzero_si512();
                    for (int v = 0; v < 4; v++)
                        a = _mm512_dpwssd_epi32(a, _mm512_add_epi16(_mm512_maddubs_epi16(u[v], xv[r][v]), xoff[r][v]), s[v]);
                    t[r][h] = a;
                }
            }
            for (int r = 0; r < MR; r++)
                kiln_gv_part(part[r][i], t[r][0], t[r][1]);
        }
        for (int r = 0; r < MR; r++) {
            const __m512i sumi = kiln_gv_sum16(part[r]);
            const __m512 dx = _mm512_set1_ps(((const block_q8_K *)p->xk)[r * nbk + b].d);
            float *lane = acc[r] + (b % 8) * KILN_QP_NR;
            _mm512_store_ps(lane, _mm512_add_ps(_mm512_load_ps(lane), _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi))));
        }
    }
    for (int r = 0; r < MR; r++) kiln_qp_store_rows(acc[r], 1, p->y + r * p->n + j0, p->n, KILN_QP_NR);
}

/* kiln_mm_gemv_q6_K_avx512: y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ, three X
 * rows at a time; whole 16-row groups here, the rows of a last partial
 * group through the AVX2 dot (the same bits). */
KILN_TARGET_AVX512VNNI void kiln_mm_gemv_q6_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    if (p->k > GV6_MAX_K) {
        kiln_mm_qdot(p, n0, n1, dot_q6_K, dot4_q6_K);
        return;
    }
    const int64_t nbk = p->k / KILN_QK_K, full = n0 + (n1 - n0) / KILN_QP_NR * KILN_QP_NR;
    for (int64_t i0 = 0; i0 < p->m; i0 += GV6_MAXR) {
        kiln_mm q = *p;
        q.m = p->m - i0 < GV6_MAXR ? p->m - i0 : GV6_MAXR;
        q.xk = (const block_q8_K *)p->xk + i0 * nbk;
        q.y = p->y + i0 * p->n;
        for (int64_t j0 = n0; j0 < full; j0 += KILN_QP_NR) {
            const uint8_t *w0 = (const uint8_t *)q.w + (size_t)j0 * q.wstride;
            switch (q.m) {
            case 3: gv6_tile(&q, w0, j0, 3); break;
            case 2: gv6_tile(&q, w0, j0, 2); break;
            default: gv6_tile(&q, w0, j0, 1); break;
            }
        }
        if (full < n1) kiln_mm_qdot(&q, full, n1, kiln_dot_q6_K_avx2, NULL);
    }
}

#else
typedef int kiln_quant_gemv_q6k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
