/* quant_gemv_iq4xs_avx512.c — AVX-512 VNNI GEMV (decode, m below the
 * GEMM's threshold) of IQ4_XS against Q8_K activations (p->xk).
 *
 * 16 W rows per step (addressed as quant_gemv_avx512.h says); per
 * super-block and W row:
 *  - one zmm of quant bytes holds sub-blocks 4h..4h+3, one per 128-bit
 *    lane: its low nibbles are each sub-block's first 16 elements, its high
 *    nibbles the last 16. VPSHUFB looks the values up, +128 (unsigned);
 *  - X's quants are regrouped once per X row and super-block (shared by
 *    the 16 rows) so that lane L of xlo[h] / xhi[h] holds the matching 16
 *    elements of sub-block 4h+L; VPDPBUSD of both into an accumulator that
 *    starts at -128·Σx of the lane's sub-block (dword 0 of the lane) leaves
 *    four int32 per lane summing to the sub-block's signed dot;
 *  - VPMULLD by the sub-block's scale ls - 32 (the 16 rows' eight 6-bit
 *    scales unpacked at once, four bytes per dword) gives Σ sc·dot.
 * An add tree leaves lane r = row r's exact int32 sum (quant.h), and the
 * float step (block b into lane b % 8, the fixed lane sum) runs once per
 * 16 outputs, lane for lane the scalar reference's: the dot's and the
 * GEMM's bits. */
#include "../../kernels.h"
#include "quant_gemv_avx512.h"

#if KILN_X86

enum { GVX_MAXR = 3 };
_Static_assert(GVX_MAXR + 1 >= KILN_MM_Q8G_MIN_M, "the GEMV covers every m below the GEMM's threshold");

/* gvx_x: X's super-block regrouped as the quant vectors (lane L of xlo[h] =
 * elements 32(4h+L) + 0..15, of xhi[h] = + 16..31) and the accumulators'
 * start: dword 0 of lane L of off[h] = -128·Σx over sub-block 4h+L. */
KILN_QP void gvx_x(const block_q8_K *x, __m512i xlo[2], __m512i xhi[2], __m512i off[2]) {
    for (int h = 0; h < 2; h++) {
        const __m512i a = _mm512_loadu_si512(x->qs + 128 * h), c = _mm512_loadu_si512(x->qs + 128 * h + 64);
        xlo[h] = _mm512_shuffle_i64x2(a, c, 0x88);
        xhi[h] = _mm512_shuffle_i64x2(a, c, 0xDD);
    }
    /* Σx per sub-block of 32: the 16-element sums in pairs */
    const __m256i s32 = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), _mm256_set1_epi16(1));
    const __m512i neg = _mm512_mullo_epi32(_mm512_castsi256_si512(s32), _mm512_set1_epi32(-128));
    for (int h = 0; h < 2; h++)
        off[h] = _mm512_maskz_permutexvar_epi32((__mmask16)0x1111,
                                                _mm512_setr_epi32(4 * h, 0, 0, 0, 4 * h + 1, 0, 0, 0, 4 * h + 2, 0, 0, 0, 4 * h + 3, 0, 0, 0),
                                                neg);
}

/* gvx_scales: the 16 rows' sub-block scales ls (unbiased by 32 later), four
 * bytes per dword: lane l of s[0] = row l's ls 0..3, of s[1] = ls 4..7.
 * ls_ib = nibble ib of scales_l | bits 2ib, 2ib+1 of scales_h << 4. */
KILN_QP void gvx_scales(const uint8_t *const q[4], size_t ws, __m512i s[2]) {
    const __m512i sh = _mm512_srli_epi32(kiln_gv_heads32(q, ws, 0), 16);
    const __m512i sl = kiln_gv_heads32(q, ws, 4);
    for (int g = 0; g < 2; g++) {
        /* four nibbles (bits 16g..16g+15 of sl) into the low nibbles of four bytes */
        __m512i t = _mm512_and_si512(_mm512_srli_epi32(sl, 16 * g), _mm512_set1_epi32(0xFFFF));
        t = _mm512_and_si512(_mm512_or_si512(t, _mm512_slli_epi32(t, 8)), _mm512_set1_epi32(0x00FF00FF));
        t = _mm512_and_si512(_mm512_or_si512(t, _mm512_slli_epi32(t, 4)), _mm512_set1_epi32(0x0F0F0F0F));
        /* four bit pairs (bits 8g..8g+7 of sh) into bits 4, 5 of four bytes */
        __m512i u = _mm512_and_si512(_mm512_srli_epi32(sh, 8 * g), _mm512_set1_epi32(0xFF));
        u = _mm512_and_si512(_mm512_or_si512(u, _mm512_slli_epi32(u, 12)), _mm512_set1_epi32(0x000F000F));
        u = _mm512_and_si512(_mm512_or_si512(u, _mm512_slli_epi32(u, 6)), _mm512_set1_epi32(0x03030303));
        s[g] = _mm512_or_si512(t, _mm512_slli_epi32(u, 4));
    }
}

// y[0:MR, j0:j0+16] for the 16 IQ4_XS rows w0 + l*p->wstride.
KILN_QP void gvx_tile(const kiln_mm *p, const uint8_t *w0, int64_t j0, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t ws = p->wstride, bsz = sizeof(block_iq4_xs), step = KILN_QP_NR * bsz;
    const char *pf = kiln_gv_prefetch_from(w0, ws), *pf_to = pf;
    const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)),
                                           _mm512_set1_epi8((char)0x80));
    const __m128i spread = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    _Alignas(64) float acc[GVX_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    const uint8_t *q[4]; /* block b of rows 0, 4, 8, 12 */
    for (int L = 0; L < 4; L++) q[L] = w0 + (size_t)(4 * L) * ws;
    for (int64_t b = 0; b < nbk; b++, q[0] += bsz, q[1] += bsz, q[2] += bsz, q[3] += bsz) {
        const __m512 dw = kiln_gv_f16x16(q, ws, 0);
        _Alignas(64) int32_t ls[2][KILN_QP_NR];
        {
            __m512i s[2];
            gvx_scales(q, ws, s);
            _mm512_store_si512(ls[0], s[0]);
            _mm512_store_si512(ls[1], s[1]);
        }
        __m512i xlo[GVX_MAXR][2], xhi[GVX_MAXR][2], xoff[GVX_MAXR][2];
        for (int r = 0; r < MR; r++) gvx_x((const block_q8_K *)p->xk + r * nbk + b, xlo[r], xhi[r], xoff[r]);
        _Alignas(64) int32_t part[GVX_MAXR][8][KILN_QP_NR]; /* v[i] of kiln_qp_tree16, per X row */
        for (int i = 0; i < 8; i++) {
            for (pf_to += step / 8; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
            const int rows2[2] = {kiln_qp_row_lo(i), kiln_qp_row_hi(i)};
            __m512i t[GVX_MAXR][2];
            for (int e = 0; e < 2; e++) {
                const int j = rows2[e];
                const block_iq4_xs *w = (const block_iq4_xs *)kiln_gv_row(q, ws, j);
                __m512i lo[2], hi[2], sc[2];
                for (int h = 0; h < 2; h++) {
                    const __m512i z = _mm512_loadu_si512(w->qs + 64 * h);
                    lo[h] = _mm512_shuffle_epi8(table, _mm512_and_si512(z, _mm512_set1_epi8(0xF)));
                    hi[h] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(z, 4), _mm512_set1_epi8(0xF)));
                    sc[h] = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_shuffle_epi8(_mm_set1_epi32(ls[h][j]), spread)),
                                             _mm512_set1_epi32(32));
                }
                for (int r = 0; r < MR; r++) {
                    __m512i a = _mm512_setzero_si512();
                    for (int h = 0; h < 2; h++)
                        a = _mm512_add_epi32(a, _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_dpbusd_epi32(xoff[r][h], lo[h], xlo[r][h]),
                                                                                       hi[h], xhi[r][h]),
                                                                   sc[h]));
                    t[r][e] = a;
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

/* kiln_mm_gemv_iq4_xs_avx512: y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ, three
 * X rows at a time; whole 16-row groups here, the rows of a last partial
 * group through the AVX2 dot (the same bits). */
KILN_TARGET_AVX512VNNI void kiln_mm_gemv_iq4_xs_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) {
    (void)s;
    const int64_t nbk = p->k / KILN_QK_K, full = n0 + (n1 - n0) / KILN_QP_NR * KILN_QP_NR;
    for (int64_t i0 = 0; i0 < p->m; i0 += GVX_MAXR) {
        kiln_mm q = *p;
        q.m = p->m - i0 < GVX_MAXR ? p->m - i0 : GVX_MAXR;
        q.xk = (const block_q8_K *)p->xk + i0 * nbk;
        q.y = p->y + i0 * p->n;
        for (int64_t j0 = n0; j0 < full; j0 += KILN_QP_NR) {
            const uint8_t *w0 = (const uint8_t *)q.w + (size_t)j0 * q.wstride;
            switch (q.m) {
            case 3: gvx_tile(&q, w0, j0, 3); break;
            case 2: gvx_tile(&q, w0, j0, 2); break;
            default: gvx_tile(&q, w0, j0, 1); break;
            }
        }
        if (full < n1) kiln_mm_qdot(&q, full, n1, kiln_dot_iq4_xs_avx2, NULL);
    }
}

#else
typedef int kiln_quant_gemv_iq4xs_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
