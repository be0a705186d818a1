/* quant_gemm_legacy_avx512.c — AVX-512 VNNI GEMM (prefill) of the
 * 32-element weight types Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL against Q8_0
 * activations: the int8 outer product of quant_pack_avx512.h.
 *
 * X comes in the Q8_0 GEMM's tiled layout (kiln_mm_q8v_layout_avx512,
 * matmul_q8g_avx512.c: quads of 12-row tiles, quad Q of row r at Q*mr + r,
 * then −128·Σx of block b of row r, then the scales alike): these rows name
 * that layout as theirs, so one kiln_matmul_multi lays X out once for its
 * Q8_0 and legacy outputs together. Weights become unsigned quants (Q4_0
 * +8, Q5_0 +16, IQ4_NL +128; Q4_1/Q5_1 are unsigned) and the offset's
 * share, offset·Σx, comes from the layout's −128·Σx (exact: a shift of a
 * multiple of 128). Per block and output the int32 dot is then exact and
 * the float steps are the reference's (quant.h) into lane b % 8, so the
 * result is the scalar reference's and the GEMV's, bit for bit.
 *
 * Packed panel (per thread, GL_KCB blocks × 16 W rows), per block s:
 * q[8 quads][16] (int32 lanes), d[16] and m[16] (Q4_1/Q5_1) as f32. */
#include "../../kernels.h"
#include "../../quant.h"
#include "quant_pack_avx512.h"

#if KILN_X86

enum {
    GL_MR = KILN_MM_Q8V_MR, /* the X layout's tile height */
    GL_KCB = 32,            /* blocks per k block: a 20 KB packed chunk */
    GL_MB = 180,            /* X rows per m block: 90 KB of lane accumulators */
    GL_Q = 0, GL_D = 8 * KILN_QP_NR, GL_M = GL_D + KILN_QP_NR,
    GL_BLK = GL_M + KILN_QP_NR, /* int32 per packed block */
};
_Static_assert(((size_t)GL_KCB * GL_BLK + (size_t)GL_MB * KILN_QP_ACC) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "the legacy GEMM's panel and accumulators must fit the per-thread scratch");
_Static_assert(GL_MB % GL_MR == 0, "m blocks hold whole layout tiles");
_Static_assert(GL_MR == 12, "the tile switch below covers 1..12 rows");

typedef kiln_qp_legacy gl_type;

/* unpack_block: one block's 32 unsigned quants and its scales as f32. */
KILN_QP void unpack_block(gl_type ty, const uint8_t *blk, uint8_t *q, float *d, float *m) {
    uint16_t h[2];
    memcpy(h, blk, 4);
    *d = kiln_fp16_to_fp32(h[0]);
    if (ty == KILN_QP_Q4_1 || ty == KILN_QP_Q5_1) *m = kiln_fp16_to_fp32(h[1]);
    _mm256_store_si256((__m256i *)q, kiln_qp_legacy_u(ty, blk));
}

/* pack_chunk packs blocks b0 .. b0+nblk-1 of the 16 rows into dst. */
KILN_QP void pack_chunk(gl_type ty, const uint8_t *const rows[KILN_QP_NR], size_t bsz, int64_t b0, int64_t nblk,
                        int32_t *dst) {
    _Alignas(64) uint8_t q[KILN_QP_NR][32];
    for (int64_t s = 0; s < nblk; s++, dst += GL_BLK) {
        float *d = (float *)(dst + GL_D), *m = (float *)(dst + GL_M);
        for (int j = 0; j < KILN_QP_NR; j++) unpack_block(ty, rows[j] + (size_t)(b0 + s) * bsz, q[j], &d[j], &m[j]);
        kiln_qp_transpose32(&q[0][0], 32, dst + GL_Q);
    }
}

/* gl_tile: acc[r][lane] += the contributions of blocks kb0 .. kb0+nblk-1 for
 * the rows r < MR of the X tile (xq quads, xc −128·Σx, xd scales, tile
 * height mr = MR), from the packed chunk pk. */
KILN_QP void gl_tile(gl_type ty, const int32_t *pk, int64_t kb0, int64_t nblk, const int32_t *xq, const int32_t *xc,
                     const float *xd, float *acc, const int MR) {
    const int shift = ty == KILN_QP_Q4_0 ? 4 : ty == KILN_QP_Q5_0 ? 3 : 0; /* offset·Σx = (−128·Σx) >> shift */
    const int has_min = ty == KILN_QP_Q4_1 || ty == KILN_QP_Q5_1;
    for (int64_t s = 0; s < nblk; s++) {
        const int32_t *pb = pk + s * GL_BLK;
        const int64_t b = kb0 + s;
        __m512i dot[GL_MR];
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++)
            dot[r] = has_min ? _mm512_setzero_si512() : _mm512_set1_epi32(xc[b * MR + r] >> shift);
#pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            const __m512i w = _mm512_load_si512((const __m512i *)(pb + GL_Q + u * KILN_QP_NR));
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++)
                dot[r] = _mm512_dpbusd_epi32(dot[r], w, _mm512_set1_epi32(xq[(b * 8 + u) * MR + r]));
        }
        const __m512 dv = _mm512_load_ps((const float *)(pb + GL_D));
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            float *lane = acc + r * KILN_QP_ACC + (b % 8) * KILN_QP_NR;
            const __m512 dx = _mm512_set1_ps(xd[b * MR + r]);
            __m512 f = _mm512_add_ps(_mm512_load_ps(lane), _mm512_mul_ps(_mm512_mul_ps(dv, dx), _mm512_cvtepi32_ps(dot[r])));
            if (has_min) { /* Σx = −(−128·Σx)/128, exact */
                const __m512 mv = _mm512_load_ps((const float *)(pb + GL_M));
                f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(mv, dx), _mm512_set1_ps((float)(-(xc[b * MR + r] / 128)))));
            }
            _mm512_store_ps(lane, f);
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty, X in the Q8_0 GEMM layout (p->xp, p->xdp).
KILN_QP void gl_gemm(gl_type ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pk = (int32_t *)scratch; /* 64-byte aligned */
    float *acc = (float *)(pk + (size_t)GL_KCB * GL_BLK);
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0, nq = p->kpad / 4;
    const int32_t *corr = p->xp + p->m * nq; /* −128·Σx, after every quad */
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) {
        const int nvalid = n1 - j0 >= KILN_QP_NR ? KILN_QP_NR : (int)(n1 - j0);
        const uint8_t *rows[KILN_QP_NR];
        kiln_qp_rows(p, j0, nvalid, rows);
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += GL_MB) {
            const int64_t mb1 = mb0 + GL_MB < p->m ? mb0 + GL_MB : p->m;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * KILN_QP_ACC);
            for (int64_t kb0 = 0; kb0 < nb; kb0 += GL_KCB) {
                const int64_t nblk = nb - kb0 < GL_KCB ? nb - kb0 : GL_KCB;
                pack_chunk(ty, rows, bsz, kb0, nblk, pk);
                for (int64_t i0 = mb0; i0 < mb1; i0 += GL_MR) {
                    const int64_t mr = p->m - i0 < GL_MR ? p->m - i0 : GL_MR;
                    const int32_t *xq = p->xp + i0 * nq, *xc = corr + i0 * nbpad;
                    const float *xd = p->xdp + i0 * nbpad;
                    float *a = acc + (i0 - mb0) * KILN_QP_ACC;
                    switch (mr) {
                    case 12: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 12); break;
                    case 11: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 11); break;
                    case 10: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 10); break;
                    case 9: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 9); break;
                    case 8: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 8); break;
                    case 7: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 7); break;
                    case 6: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 6); break;
                    case 5: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 5); break;
                    case 4: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 4); break;
                    case 3: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 3); break;
                    case 2: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 2); break;
                    default: gl_tile(ty, pk, kb0, nblk, xq, xc, xd, a, 1); break;
                    }
                }
            }
            kiln_qp_store_rows(acc, mb1 - mb0, p->y + mb0 * p->n + j0, p->n, nvalid);
        }
    }
}

#define GL_KERNEL(ty, TY, block)                                                                                 \
    KILN_TARGET_AVX512VNNI void kiln_mm_gemm_##ty##_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        gl_gemm(TY, sizeof(block), p, n0, n1, s);                                                                \
    }
GL_KERNEL(q4_0, KILN_QP_Q4_0, block_q4_0)
GL_KERNEL(q4_1, KILN_QP_Q4_1, block_q4_1)
GL_KERNEL(q5_0, KILN_QP_Q5_0, block_q5_0)
GL_KERNEL(q5_1, KILN_QP_Q5_1, block_q5_1)
GL_KERNEL(iq4_nl, KILN_QP_IQ4_NL, block_iq4_nl)

#else
typedef int kiln_quant_gemm_legacy_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
