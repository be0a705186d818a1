/* quant_gemv_legacy_avx512.c — AVX-512 VNNI GEMV (decode, m below the
 * GEMM's threshold) of the 32-element types Q4_0, Q4_1, Q5_0, Q5_1 and
 * IQ4_NL against Q8_0 activations (p->xq, p->xd).
 *
 * 16 W rows per step, as the Q8_0 GEMV does: per block, vector i holds the
 * 32 unsigned quants of row kiln_qp_row_lo(i) in its low half and of row
 * kiln_qp_row_hi(i) in its high half; one VPDPBUSD each against the X block
 * broadcast, an add tree (kiln_qp_tree16) leaves lane r = the int32 dot of
 * row r, and the offset's share offset·Σx is taken off. Those are
 * quant.h's exact sums; the float steps (block b into lane b % 8, then the
 * fixed lane sum) run once per 16 outputs, lane for lane the scalar
 * reference's. So an output has the reference's bits, and the GEMM's.
 *
 * The offset's share needs X's block sums: they are taken once per call
 * into the scratch, not once per 16 rows. Rows and scales are addressed
 * and loaded as quant_gemv_avx512.h says.
 *
 * W is read once, block by block across 16 rows, and prefetched into L2
 * (kiln_gv_prefetch_from; T1 measured faster than T0 from DRAM). */
#include "../../kernels.h"
#include "quant_gemv_avx512.h"

#if KILN_X86

enum { GV_MAXR = 3 };
_Static_assert(GV_MAXR + 1 >= KILN_MM_Q8G_MIN_M, "the GEMV covers every m below the GEMM's threshold");

// y[0:MR, j0:j0+16] for the 16 W rows w0 + l*p->wstride (blocks of bsz bytes);
// sx[r*nb + b] is offset·Σx (Q4_1/Q5_1: Σx) of X row r's block b.
KILN_QP void gv_tile(kiln_qp_legacy ty, size_t bsz, const kiln_mm *p, const uint8_t *w0, const int32_t *sx, int64_t j0,
                     const int MR) {
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const size_t ws = p->wstride;
    const int offset = kiln_qp_offset(ty), has_min = ty == KILN_QP_Q4_1 || ty == KILN_QP_Q5_1;
    const int nib4 = ty == KILN_QP_Q4_0 || ty == KILN_QP_Q4_1 || ty == KILN_QP_IQ4_NL;
    const size_t step = KILN_QP_NR * bsz;
    const char *pf = kiln_gv_prefetch_from(w0, ws), *pf_to = pf;
    _Alignas(64) float acc[GV_MAXR][KILN_QP_ACC];
    for (int r = 0; r < MR; r++) memset(acc[r], 0, sizeof acc[r]);
    const uint8_t *q[4]; /* block b of rows 0, 4, 8, 12 */
    for (int L = 0; L < 4; L++) q[L] = w0 + (size_t)(4 * L) * ws;
    for (int64_t b = 0; b < nb; b++, q[0] += bsz, q[1] += bsz, q[2] += bsz, q[3] += bsz) {
        for (pf_to += step; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        /* d (and m) of the 16 rows: the block's first 16 (32) bits */
        const __m512i head = has_min ? kiln_gv_heads32(q, ws, 0) : _mm512_setzero_si512();
        const __m512 dw = has_min ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(head)) : kiln_gv_f16x16(q, ws, 0);
        /* 4-bit types: vector e holds the raw quant bytes of rows e, 4+e, 8+e,
         * 12+e in its 128-bit lanes, low nibbles (elements 0-15) and high
         * nibbles (16-31) taken against X's two halves (kiln_qp_tree4's
         * order); Q5: two rows per vector, whole blocks (kiln_qp_tree16's) */
        __m512i wv[8];
        if (nib4) {
            const int qs = ty == KILN_QP_Q4_1 ? 4 : 2;
            for (int e = 0; e < 4; e++) {
                __m512i z = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(q[0] + (size_t)e * ws + qs)));
                z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q[1] + (size_t)e * ws + qs)), 1);
                z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q[2] + (size_t)e * ws + qs)), 2);
                z = _mm512_inserti32x4(z, _mm_loadu_si128((const __m128i *)(q[3] + (size_t)e * ws + qs)), 3);
                wv[2 * e] = _mm512_and_si512(z, _mm512_set1_epi8(0xF));
                wv[2 * e + 1] = _mm512_and_si512(_mm512_srli_epi16(z, 4), _mm512_set1_epi8(0xF));
                if (ty == KILN_QP_IQ4_NL) {
                    const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)),
                                                           _mm512_set1_epi8((char)0x80));
                    wv[2 * e] = _mm512_shuffle_epi8(table, wv[2 * e]);
                    wv[2 * e + 1] = _mm512_shuffle_epi8(table, wv[2 * e + 1]);
                }
            }
        } else
            for (int i = 0; i < 8; i++)
                wv[i] = kiln_qp_legacy_u2(ty, kiln_gv_row(q, ws, kiln_qp_row_lo(i)), kiln_gv_row(q, ws, kiln_qp_row_hi(i)));
        for (int r = 0; r < MR; r++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(p->xq + r * p->kpad + b * KILN_QK8_0));
            __m512i dot;
            if (nib4) {
                const __m512i xlo = _mm512_broadcast_i32x4(_mm256_castsi256_si128(x));
                const __m512i xhi = _mm512_broadcast_i32x4(_mm256_extracti128_si256(x, 1));
                __m512i s[4];
                for (int e = 0; e < 4; e++)
                    s[e] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[2 * e], xlo), wv[2 * e + 1], xhi);
                dot = kiln_qp_tree4(s);
            } else {
                const __m512i xv = _mm512_broadcast_i64x4(x);
                __m512i s[8];
                for (int i = 0; i < 8; i++) s[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wv[i], xv);
                dot = kiln_qp_tree16(s);
            }
            if (offset) dot = _mm512_sub_epi32(dot, _mm512_set1_epi32(sx[r * nb + b]));
            const __m512 dx = _mm512_set1_ps(p->xd[r * nbpad + b]);
            float *lane = acc[r] + (b % 8) * KILN_QP_NR;
            __m512 f = _mm512_add_ps(_mm512_load_ps(lane), _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(dot)));
            if (has_min) {
                const __m512 mw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(head, 16)));
                f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(mw, dx), _mm512_cvtepi32_ps(_mm512_set1_epi32(sx[r * nb + b]))));
            }
            _mm512_store_ps(lane, f);
        }
    }
    for (int r = 0; r < MR; r++) kiln_qp_store_rows(acc[r], 1, p->y + r * p->n + j0, p->n, KILN_QP_NR);
}

/* gv_dot is the type's AVX2 dot (the same bits), for rows outside whole 16-row groups. */
static kiln_qdot_fn gv_dot(kiln_qp_legacy ty) {
    switch (ty) {
    case KILN_QP_Q4_0: return kiln_dot_q4_0_avx2;
    case KILN_QP_Q4_1: return kiln_dot_q4_1_avx2;
    case KILN_QP_Q5_0: return kiln_dot_q5_0_avx2;
    case KILN_QP_Q5_1: return kiln_dot_q5_1_avx2;
    default: return kiln_dot_iq4_nl_avx2;
    }
}

/* gv_x_sums writes sx[r*nb + b] = mul·Σ(X row r's block b quants) for r < m. */
KILN_QP void gv_x_sums(const kiln_mm *p, int mul, int32_t *sx) {
    const int64_t nb = p->k / KILN_QK8_0;
    for (int64_t r = 0; r < p->m; r++)
        for (int64_t b = 0; b < nb; b++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(p->xq + r * p->kpad + b * KILN_QK8_0));
            sx[r * nb + b] = mul * _mm_cvtsi128_si32(_mm512_castsi512_si128(kiln_qp_sum32(x)));
        }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ for m <= GV_MAXR; W rows of type ty.
// Whole 16-row groups run here; the rows of a last partial group (n1 - n0
// not a multiple of 16) take the type's dot, the same bits.
KILN_QP void gv_gemv(kiln_qp_legacy ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    const int64_t nb = p->k / KILN_QK8_0;
    const int64_t full = n0 + (n1 - n0) / KILN_QP_NR * KILN_QP_NR;
    if (!scratch || (size_t)(p->m * nb) * sizeof(int32_t) > KILN_MM_SCRATCH_FLOATS * sizeof(float)) {
        kiln_mm_qdot(p, n0, n1, gv_dot(ty), NULL); /* X's sums do not fit the scratch (k in the millions) */
        return;
    }
    int32_t *sx = (int32_t *)scratch;
    const int has_min = ty == KILN_QP_Q4_1 || ty == KILN_QP_Q5_1;
    gv_x_sums(p, has_min ? 1 : kiln_qp_offset(ty), sx);
    for (int64_t j0 = n0; j0 < full; j0 += KILN_QP_NR) {
        const uint8_t *w0 = (const uint8_t *)p->w + (size_t)j0 * p->wstride;
        switch (p->m) {
        case 3: gv_tile(ty, bsz, p, w0, sx, j0, 3); break;
        case 2: gv_tile(ty, bsz, p, w0, sx, j0, 2); break;
        default: gv_tile(ty, bsz, p, w0, sx, j0, 1); break;
        }
    }
    if (full < n1) kiln_mm_qdot(p, full, n1, gv_dot(ty), NULL);
}

/* kiln_mm_gemv_<type>_avx512 runs the GEMV for m <= 3 and the rows of X
 * one group of three at a time beyond (only when a caller forces it). */
#define GV_KERNEL(ty, TY, block)                                                                                 \
    KILN_TARGET_AVX512VNNI void kiln_mm_gemv_##ty##_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        for (int64_t i0 = 0; i0 < p->m; i0 += GV_MAXR) {                                                         \
            kiln_mm q = *p;                                                                                      \
            q.m = p->m - i0 < GV_MAXR ? p->m - i0 : GV_MAXR;                                                     \
            q.xq = p->xq + i0 * p->kpad;                                                                         \
            q.xd = p->xd + i0 * (p->kpad / KILN_QK8_0);                                                          \
            q.y = p->y + i0 * p->n;                                                                              \
            gv_gemv(TY, sizeof(block), &q, n0, n1, s);                                                           \
        }                                                                                                        \
    }
GV_KERNEL(q4_0, KILN_QP_Q4_0, block_q4_0)
GV_KERNEL(q4_1, KILN_QP_Q4_1, block_q4_1)
GV_KERNEL(q5_0, KILN_QP_Q5_0, block_q5_0)
GV_KERNEL(q5_1, KILN_QP_Q5_1, block_q5_1)
GV_KERNEL(iq4_nl, KILN_QP_IQ4_NL, block_iq4_nl)

#else
typedef int kiln_quant_gemv_legacy_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
