/* quant_gemm_k_avx512.c — AVX-512 VNNI GEMM (prefill) of the 256-element
 * weight types Q2_K … Q6_K and IQ4_XS against Q8_K activations: an
 * int8 outer product on VPDPBUSD (quant_pack_avx512.h says how).
 *
 * Arithmetic: per super-block and output, the exact int32 sums of quant.h
 * (sub-block dots times their integer scales; Q2_K/Q4_K/Q5_K the min sum
 * Σ mn·(X's 16- or 32-element sums); Q3_K, Q6_K and IQ4_XS the offset
 * share of their unsigned quants) and then the reference's float steps into lane b % 8.
 * The result is the scalar reference's, bit for bit, and so the GEMV's
 * (decode ≡ prefill) whatever m, tile or thread.
 *
 * Packed panel (per thread, one k block of GK_KCB super-blocks, 16 W rows):
 * for super-block s, in int32 units from s*GK_SB:
 *   q   [64 quads][16]   unsigned quants (Q3_K q + 4, Q6_K q, IQ4_XS value + 128)
 *   sc  [16][16]         int32 scale of group g (Q4_K/Q5_K/IQ4_XS: 8 groups of 32;
 *                        Q2_K/Q3_K/Q6_K: 16 groups of 16)
 *   pr  [8][16]          int16 pairs for VPDPWSSD against X's 16-element sums
 *                        (bsums[2p], bsums[2p+1]): Q4_K/Q5_K (mn_p, mn_p),
 *                        Q2_K (mn_2p, mn_2p+1), Q3_K/Q6_K (sc_2p, sc_2p+1),
 *                        IQ4_XS (sc_p, sc_p)
 *   d, dmin [16]         the super-block scales as f32
 * Unpacking and transposing happen once per panel and k block and are
 * reused by every X row of the m block (GK_MB rows).
 *
 * Microkernel (MR <= 8 X rows × 16 outputs): per quad one panel load and MR
 * VPDPBUSD with the X quad broadcast; per group MR VPMULLD by the scale;
 * per super-block 8 VPDPWSSD per row for the min/offset sums, then the
 * float steps on the lane accumulators (in L1, acc[row][lane][16]). */
#include "../../kernels.h"
#include "quant_pack_avx512.h"

#if KILN_X86

enum {
    GK_MR = 8,   /* X rows per microkernel tile */
    GK_KCB = 4,  /* super-blocks per k block: a 23 KB packed chunk (L1) */
    GK_MB = 192, /* X rows per m block: 96 KB of lane accumulators */
    GK_Q = 0, GK_SC = 64 * KILN_QP_NR, GK_PR = GK_SC + 16 * KILN_QP_NR, GK_D = GK_PR + 8 * KILN_QP_NR,
    GK_DMIN = GK_D + KILN_QP_NR,
    GK_SB = GK_DMIN + KILN_QP_NR, /* int32 per packed super-block */
};
_Static_assert(((size_t)GK_KCB * GK_SB + (size_t)GK_MB * KILN_QP_ACC) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "the K-quant GEMM's panel and accumulators must fit the per-thread scratch");
_Static_assert(GK_MB % GK_MR == 0, "m blocks hold whole tiles");

/* pack_scales writes W row j's scales of one super-block into the packed layout. */
KILN_QP void pack_scales(kiln_qp_ktype ty, const uint8_t *blk, int j, int32_t *dst) {
    kiln_qp_kscales s;
    kiln_qp_k_scales(ty, blk, &s);
    ((float *)(dst + GK_D))[j] = s.d;
    ((float *)(dst + GK_DMIN))[j] = s.dmin;
    for (int g = 0; g < 16; g++) dst[GK_SC + g * KILN_QP_NR + j] = s.sc[g];
    for (int p = 0; p < 8; p++) dst[GK_PR + p * KILN_QP_NR + j] = (int32_t)s.pair[p];
}

/* pack_superblock packs super-block b of the 16 rows into dst (GK_SB int32). */
KILN_QP void pack_superblock(kiln_qp_ktype ty, const uint8_t *const rows[KILN_QP_NR], size_t bsz, int64_t b, int32_t *dst) {
    _Alignas(64) uint8_t q[KILN_QP_NR][KILN_QK_K];
    for (int j = 0; j < KILN_QP_NR; j++) {
        const uint8_t *blk = rows[j] + (size_t)b * bsz;
        kiln_qp_k_unpack(ty, blk, q[j]);
        pack_scales(ty, blk, j, dst);
    }
    for (int c = 0; c < KILN_QK_K / 32; c++) kiln_qp_transpose32(&q[0][32 * c], KILN_QK_K, dst + GK_Q + c * 8 * KILN_QP_NR);
}

/* gk_tile: acc[r][lane] += the contributions of super-blocks kb0 .. kb0+nsb-1
 * for X rows x[r] (r < MR), from the packed chunk pk. */
KILN_QP void gk_tile(kiln_qp_ktype ty, const int32_t *pk, int64_t kb0, int64_t nsb, const block_q8_K *const *x, float *acc,
                     const int MR) {
    const int groups = kiln_qp_groups16(ty) ? 16 : 8, quads = 64 / groups;
    for (int64_t s = 0; s < nsb; s++) {
        const int32_t *pq = pk + s * GK_SB;
        const int64_t b = kb0 + s;
        __m512i sum[GK_MR], dot[GK_MR];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) sum[r] = _mm512_setzero_si512();
        for (int g = 0; g < groups; g++) {
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) dot[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int u = 0; u < quads; u++) {
                const __m512i w = _mm512_load_si512((const __m512i *)(pq + GK_Q + (g * quads + u) * KILN_QP_NR));
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++)
                    dot[r] = _mm512_dpbusd_epi32(dot[r], w, kiln_qp_x4(x[r][b].qs + 4 * (g * quads + u)));
            }
            const __m512i scv = _mm512_load_si512((const __m512i *)(pq + GK_SC + g * KILN_QP_NR));
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) sum[r] = _mm512_add_epi32(sum[r], _mm512_mullo_epi32(dot[r], scv));
        }
        /* Σ_p pr_p · (bsums[2p], bsums[2p+1]): the min sum or the offset's weight */
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) dot[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int p = 0; p < 8; p++) {
            const __m512i pv = _mm512_load_si512((const __m512i *)(pq + GK_PR + p * KILN_QP_NR));
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) dot[r] = _mm512_dpwssd_epi32(dot[r], pv, kiln_qp_x4(x[r][b].bsums + 2 * p));
        }
        const __m512 dv = _mm512_load_ps((const float *)(pq + GK_D));
        const __m512 dmv = _mm512_load_ps((const float *)(pq + GK_DMIN));
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            float *lane = acc + r * KILN_QP_ACC + (b % 8) * KILN_QP_NR;
            const __m512 dx = _mm512_set1_ps(x[r][b].d);
            __m512 f = _mm512_load_ps(lane);
            if (ty == KILN_QP_Q2_K || ty == KILN_QP_Q4_K || ty == KILN_QP_Q5_K) {
                f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(dv, dx), _mm512_cvtepi32_ps(sum[r])));
                f = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmv, dx), _mm512_cvtepi32_ps(dot[r])));
            } else {
                const int shift = ty == KILN_QP_Q3_K ? 2 : ty == KILN_QP_Q6_K ? 5 : 7; /* offset 4, 32, 128 */
                const __m512i sumi = _mm512_sub_epi32(sum[r], _mm512_slli_epi32(dot[r], shift));
                f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(dv, dx), _mm512_cvtepi32_ps(sumi)));
            }
            _mm512_store_ps(lane, f);
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty, X Q8_K-quantized (p->xk).
KILN_QP void gk_gemm(kiln_qp_ktype ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pk = (int32_t *)scratch; /* 64-byte aligned */
    float *acc = (float *)(pk + (size_t)GK_KCB * GK_SB);
    const int64_t nbk = p->k / KILN_QK_K;
    const block_q8_K *xk = p->xk;
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) {
        const int nvalid = n1 - j0 >= KILN_QP_NR ? KILN_QP_NR : (int)(n1 - j0);
        const uint8_t *rows[KILN_QP_NR];
        kiln_qp_rows(p, j0, nvalid, rows);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += GK_MB) {
            const int64_t mb1 = mb0 + GK_MB < p->m ? mb0 + GK_MB : p->m;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * KILN_QP_ACC);
            for (int64_t kb0 = 0; kb0 < nbk; kb0 += GK_KCB) {
                const int64_t nsb = nbk - kb0 < GK_KCB ? nbk - kb0 : GK_KCB;
                for (int64_t s = 0; s < nsb; s++) pack_superblock(ty, rows, bsz, kb0 + s, pk + s * GK_SB);
                for (int64_t i0 = mb0; i0 < mb1; i0 += GK_MR) {
                    const int64_t mr = mb1 - i0 < GK_MR ? mb1 - i0 : GK_MR;
                    const block_q8_K *x[GK_MR];
                    for (int r = 0; r < GK_MR; r++) x[r] = xk + (i0 + (r < mr ? r : 0)) * nbk;
                    float *a = acc + (i0 - mb0) * KILN_QP_ACC;
                    switch (mr) {
                    case 8: gk_tile(ty, pk, kb0, nsb, x, a, 8); break;
                    case 7: gk_tile(ty, pk, kb0, nsb, x, a, 7); break;
                    case 6: gk_tile(ty, pk, kb0, nsb, x, a, 6); break;
                    case 5: gk_tile(ty, pk, kb0, nsb, x, a, 5); break;
                    case 4: gk_tile(ty, pk, kb0, nsb, x, a, 4); break;
                    case 3: gk_tile(ty, pk, kb0, nsb, x, a, 3); break;
                    case 2: gk_tile(ty, pk, kb0, nsb, x, a, 2); break;
                    default: gk_tile(ty, pk, kb0, nsb, x, a, 1); break;
                    }
                }
            }
            kiln_qp_store_rows(acc, mb1 - mb0, p->y + mb0 * p->n + j0, p->n, nvalid);
        }
    }
}

#define GK_KERNEL(ty, TY, block)                                                                                 \
    KILN_TARGET_AVX512VNNI void kiln_mm_gemm_##ty##_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        gk_gemm(TY, sizeof(block), p, n0, n1, s);                                                                \
    }
GK_KERNEL(q2_K, KILN_QP_Q2_K, block_q2_K)
GK_KERNEL(q3_K, KILN_QP_Q3_K, block_q3_K)
GK_KERNEL(q4_K, KILN_QP_Q4_K, block_q4_K)
GK_KERNEL(q5_K, KILN_QP_Q5_K, block_q5_K)
GK_KERNEL(q6_K, KILN_QP_Q6_K, block_q6_K)
GK_KERNEL(iq4_xs, KILN_QP_IQ4_XS, block_iq4_xs)

#else
typedef int kiln_quant_gemm_k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
