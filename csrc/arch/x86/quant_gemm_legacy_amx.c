/* quant_gemm_legacy_amx.c — AMX-INT8 GEMM (prefill) of the 32-element
 * weight types without a min, Q4_0, Q5_0 and IQ4_NL, against Q8_0
 * activations: the block dots of amx_blockdot.h, the float steps of
 * quant.h's rule by AVX-512.
 *
 * A W panel (32 rows × LA_KCB blocks) is unpacked once per thread and k
 * block into signed int8 quants — Q4_0 q − 8, Q5_0 q − 16, IQ4_NL its
 * table's values — and transposed into B tiles, so TDPBSSD against X's
 * signed quants gives exactly the reference's int32 block sum sumi. X is
 * read in place (p->xq, p->xd; the rows keep the VNNI GEMM's X layout for
 * the calls of fewer than LA_MIN_M rows, which go to it). Per block and output the float
 * step is the reference's,
 *     lane[b % 8] = lane[b % 8] + (dw·dx)·float(sumi)
 * (lanes starting at +0), and the result ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7))
 * (kiln_q_lanes_sum), lane for lane in 16-column vectors: the bits of the
 * scalar reference, the GEMVs and the VNNI GEMM. Q4_1 and Q5_1 (whose rule
 * also needs X's block sums) keep the VNNI GEMM.
 *
 * The eight lanes of an m block's outputs (LA_MB rows × 32 columns) live
 * in the per-thread scratch: per block step the four C tiles are stored,
 * then each row's lane of the block is loaded, added to and stored. */
#include "../../kernels.h"
#include "../../quant.h"
#include "amx_blockdot.h"
#include "quant_pack_avx512.h"

#if KILN_X86

enum {
    LA_NR = KILN_ABD_NR,
    LA_MR = KILN_ABD_MR,
    LA_KCB = 32,                   /* blocks per packed k block: 32 KB of B tiles */
    LA_MB = 128,                   /* X rows per m block: 128 KB of lanes */
    LA_COLS = 2 * LA_NR,           /* columns per panel */
    LA_LANES = 8,                  /* accumulation lanes per output (quant.h) */
    LA_ROW = LA_LANES * LA_COLS,   /* floats of one X row's lanes: lane l of column c at l*32 + c */
};
#define LA_PW_BYTES ((size_t)LA_KCB * KILN_ABD_B_INTS * 4) /* one half's B tiles */
#define LA_PD_FLOATS ((size_t)LA_KCB * LA_NR)              /* one half's scales */
_Static_assert((2 * LA_PW_BYTES + (2 * LA_PD_FLOATS + (size_t)LA_MB * LA_ROW + 4 * 256) * 4 + LA_NR * 32) <=
                   KILN_MM_SCRATCH_FLOATS * 4,
               "the AMX legacy GEMM's panel, lanes, C buffer and unpack area must fit the per-thread scratch");
_Static_assert(LA_MB % (2 * LA_MR) == 0, "m blocks hold whole 32-row steps");

/* signed_quants: block blk's 32 quants as the signed values sumi is taken over. */
KILN_TARGET_AMX KILN_INLINE __m256i signed_quants(kiln_qp_legacy ty, const uint8_t *blk) {
    const __m256i u = kiln_qp_legacy_u(ty, blk); /* Q4_0 q, Q5_0 q, IQ4_NL value + 128 */
    switch (ty) {
    case KILN_QP_Q4_0: return _mm256_sub_epi8(u, _mm256_set1_epi8(8));
    case KILN_QP_Q5_0: return _mm256_sub_epi8(u, _mm256_set1_epi8(16));
    default: return _mm256_xor_si256(u, _mm256_set1_epi8((char)0x80));
    }
}

/* pack_half unpacks blocks b0..b1-1 of 16 W rows into B tiles (pw) and f32 scales (pd). */
KILN_TARGET_AMX KILN_INLINE void pack_half(kiln_qp_legacy ty, size_t bsz, const uint8_t *const *rows, int64_t b0,
                                            int64_t b1, int32_t *pw, float *pd, int8_t *q) {
    for (int64_t b = b0; b < b1; b++) {
        float *d = pd + (b - b0) * LA_NR;
        for (int j = 0; j < LA_NR; j++) {
            const uint8_t *blk = rows[j] + (size_t)b * bsz;
            uint16_t h;
            memcpy(&h, blk, 2);
            d[j] = kiln_fp16_to_fp32(h);
            _mm256_store_si256((__m256i *)(q + j * 32), signed_quants(ty, blk));
        }
        const int8_t *qr[KILN_ABD_NR];
        for (int j = 0; j < KILN_ABD_NR; j++) qr[j] = q + j * 32;
        kiln_abd_transpose(qr, pw + (b - b0) * KILN_ABD_B_INTS);
    }
}

/* lane_step: lane[r][0:16] = lane[r][0:16] + (dw·dx[r])·float(c[r][0:16]) for
 * the rows r < ROWS of one stored C tile (dx of row r at xd + r*ldx; lane
 * of row r at lane + r*LA_ROW). */
KILN_TARGET_AMX KILN_INLINE void lane_step(const int32_t *c, const float *xd, int64_t ldx, const float *pd,
                                            float *lane, const int ROWS) {
    const __m512 dw = _mm512_load_ps(pd);
#pragma GCC unroll 16
    for (int r = 0; r < ROWS; r++) {
        const __m512 s = _mm512_mul_ps(dw, _mm512_set1_ps(xd[r * ldx]));
        const __m512 dot = _mm512_cvtepi32_ps(_mm512_load_si512((const __m512i *)(c + r * LA_NR)));
        _mm512_store_ps(lane + r * LA_ROW, _mm512_add_ps(_mm512_load_ps(lane + r * LA_ROW), _mm512_mul_ps(s, dot)));
    }
}

/* step_blocks runs blocks kb0 .. kb0+nblk-1 of one step of X rows (r0 of
 * the first 16, r1 of the second) over the packed panel: the tiles' dots,
 * then their lane steps (lanes: the step's first row, lane 0, column 0). */
KILN_TARGET_AMX KILN_INLINE void step_blocks(const int8_t *xa, int64_t kpad, const float *xd, int64_t ldx,
                                              const int32_t *pw, const float *pd, int64_t kb0, int64_t nblk,
                                              float *lanes, int32_t *cbuf, int r0, int r1, kiln_abd_ahead *ahead,
                                              const int TWO_M, const int TWO_N, const int FULL) {
    const int32_t *pw1 = (const int32_t *)((const char *)pw + LA_PW_BYTES);
    const float *pd1 = pd + LA_PD_FLOATS;
    const float *x1 = xd + LA_MR * ldx;
    for (int64_t s = 0; s < nblk; s++) {
        kiln_abd_ahead_step(ahead);
        kiln_abd_step(xa + s * KILN_QK8_0, kpad, pw + s * KILN_ABD_B_INTS, pw1 + s * KILN_ABD_B_INTS, cbuf, TWO_M,
                      TWO_N);
        float *l0 = lanes + ((kb0 + s) % LA_LANES) * LA_COLS, *l1 = l0 + LA_MR * LA_ROW;
        if (FULL) {
            lane_step(cbuf, xd + s, ldx, pd + s * LA_NR, l0, LA_MR);
            lane_step(cbuf + 256, xd + s, ldx, pd1 + s * LA_NR, l0 + LA_NR, LA_MR);
            lane_step(cbuf + 512, x1 + s, ldx, pd + s * LA_NR, l1, LA_MR);
            lane_step(cbuf + 768, x1 + s, ldx, pd1 + s * LA_NR, l1 + LA_NR, LA_MR);
            continue;
        }
        for (int r = 0; r < r0; r++) { /* tails: row by row */
            lane_step(cbuf + r * LA_NR, xd + r * ldx + s, ldx, pd + s * LA_NR, l0 + r * LA_ROW, 1);
            if (TWO_N) lane_step(cbuf + 256 + r * LA_NR, xd + r * ldx + s, ldx, pd1 + s * LA_NR, l0 + r * LA_ROW + LA_NR, 1);
        }
        for (int r = 0; TWO_M && r < r1; r++) {
            lane_step(cbuf + 512 + r * LA_NR, x1 + r * ldx + s, ldx, pd + s * LA_NR, l1 + r * LA_ROW, 1);
            if (TWO_N) lane_step(cbuf + 768 + r * LA_NR, x1 + r * ldx + s, ldx, pd1 + s * LA_NR, l1 + r * LA_ROW + LA_NR, 1);
        }
    }
}

/* store_rows writes y rows [0, rows) of one column half from their lanes:
 * ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), the first `keep` lanes of 16. */
KILN_TARGET_AMX static void store_rows(const float *lanes, int64_t rows, float *y, int64_t ldy, __mmask16 keep) {
    for (int64_t r = 0; r < rows; r++) {
        const float *l = lanes + r * LA_ROW;
        __m512 v[LA_LANES];
        for (int i = 0; i < LA_LANES; i++) v[i] = _mm512_load_ps(l + i * LA_COLS);
        _mm512_mask_storeu_ps(y + r * ldy, keep, kiln_qp_lanes_sum16(v));
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty (bsz bytes a block), X as p->xq / p->xd.
KILN_TARGET_AMX static void la_gemm(kiln_qp_legacy ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1,
                                    float *scratch) {
    int32_t *pw = (int32_t *)scratch; /* 64-byte aligned: two halves of B tiles */
    float *pd = (float *)((char *)pw + 2 * LA_PW_BYTES);
    float *lanes = pd + 2 * LA_PD_FLOATS;
    int32_t *cbuf = (int32_t *)(lanes + (size_t)LA_MB * LA_ROW);
    int8_t *q = (int8_t *)(cbuf + 4 * 256);
    const int64_t nb = p->k / KILN_QK8_0, nbpad = p->kpad / KILN_QK8_0;
    const uint8_t *rows[LA_COLS];
    int cfg_rows = 2 * LA_MR;
    kiln_abd_ahead ahead = {.total = 0};
    kiln_abd_configure(cfg_rows);
    for (int64_t j0 = n0; j0 < n1; j0 += LA_COLS) {
        const int nvalid = n1 - j0 >= LA_COLS ? LA_COLS : (int)(n1 - j0);
        const int two_n = nvalid > LA_NR;
        for (int l = 0; l < LA_COLS; l++) /* rows past nvalid alias the last valid one (never stored) */
            rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += LA_MB) {
            const int64_t mb1 = mb0 + LA_MB < p->m ? mb0 + LA_MB : p->m;
            memset(lanes, 0, sizeof(float) * (size_t)(mb1 - mb0) * LA_ROW); /* lanes = +0 */
            for (int64_t kb0 = 0; kb0 < nb; kb0 += LA_KCB) {
                const int64_t nblk = nb - kb0 < LA_KCB ? nb - kb0 : LA_KCB;
                pack_half(ty, bsz, rows, kb0, kb0 + nblk, pw, pd, q);
                if (two_n)
                    pack_half(ty, bsz, rows + LA_NR, kb0, kb0 + nblk, (int32_t *)((char *)pw + LA_PW_BYTES),
                              pd + LA_PD_FLOATS, q);
                { /* what the next pack reads: this panel's next k block, its first again
                   * (next m block), or the next panel's first */
                    const int64_t steps = (mb1 - mb0 + 2 * LA_MR - 1) / (2 * LA_MR) * nblk, kb1 = kb0 + nblk;
                    const uint8_t *w0 = (const uint8_t *)p->w + (size_t)j0 * p->wstride;
                    if (kb1 < nb)
                        kiln_abd_ahead_set(&ahead, w0, p->wstride, nvalid, (size_t)kb1 * bsz,
                                           (size_t)(nb - kb1 < LA_KCB ? nb - kb1 : LA_KCB) * bsz, steps);
                    else if (mb1 < p->m || j0 + LA_COLS < n1)
                        kiln_abd_ahead_set(&ahead, mb1 < p->m ? w0 : w0 + (size_t)LA_COLS * p->wstride, p->wstride,
                                           mb1 < p->m ? nvalid : (int)(n1 - j0 - LA_COLS < LA_COLS ? n1 - j0 - LA_COLS : LA_COLS),
                                           0, (size_t)(nb < LA_KCB ? nb : LA_KCB) * bsz, steps);
                    else
                        ahead.total = 0;
                }
                for (int64_t i0 = mb0; i0 < mb1; i0 += 2 * LA_MR) {
                    const int mt = mb1 - i0 < 2 * LA_MR ? (int)(mb1 - i0) : 2 * LA_MR;
                    if (mt != cfg_rows) kiln_abd_configure(cfg_rows = mt);
                    const int r0 = mt < LA_MR ? mt : LA_MR, r1 = mt - r0;
                    float *l = lanes + (i0 - mb0) * LA_ROW;
                    const int8_t *xa = p->xq + i0 * p->kpad + kb0 * KILN_QK8_0;
                    const float *xd = p->xd + i0 * nbpad + kb0;
                    if (mt == 2 * LA_MR && two_n)
                        step_blocks(xa, p->kpad, xd, nbpad, pw, pd, kb0, nblk, l, cbuf, r0, r1, &ahead, 1, 1, 1);
                    else if (mt > LA_MR && two_n)
                        step_blocks(xa, p->kpad, xd, nbpad, pw, pd, kb0, nblk, l, cbuf, r0, r1, &ahead, 1, 1, 0);
                    else if (mt > LA_MR)
                        step_blocks(xa, p->kpad, xd, nbpad, pw, pd, kb0, nblk, l, cbuf, r0, r1, &ahead, 1, 0, 0);
                    else if (two_n)
                        step_blocks(xa, p->kpad, xd, nbpad, pw, pd, kb0, nblk, l, cbuf, r0, r1, &ahead, 0, 1, 0);
                    else
                        step_blocks(xa, p->kpad, xd, nbpad, pw, pd, kb0, nblk, l, cbuf, r0, r1, &ahead, 0, 0, 0);
                }
            }
            float *y = p->y + mb0 * p->n + j0;
            store_rows(lanes, mb1 - mb0, y, p->n, kiln_abd_keep(nvalid));
            if (two_n) store_rows(lanes + LA_NR, mb1 - mb0, y + LA_NR, p->n, kiln_abd_keep(nvalid - LA_NR));
        }
    }
    kiln_amx_end();
}

/* Below LA_MIN_M X rows the VNNI GEMM is faster (8192x2048 Q4_0, 1 thread,
 * side by side: AMX 0.79x at m = 4, 0.91x at 8, 1.07x at 16, 1.23x at 32,
 * 1.48x at 128); the rows keep its X layout, so small calls go to it. */
#define LA_MIN_M 16
#define LA_KERNEL(ty, TY, block)                                                                               \
    KILN_TARGET_AMX void kiln_mm_gemm_##ty##_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) { \
        if (p->m < LA_MIN_M)                                                                                   \
            kiln_mm_gemm_##ty##_avx512(p, n0, n1, scratch);                                                    \
        else                                                                                                   \
            la_gemm(TY, sizeof(block), p, n0, n1, scratch);                                                    \
    }
LA_KERNEL(q4_0, KILN_QP_Q4_0, block_q4_0)
LA_KERNEL(q5_0, KILN_QP_Q5_0, block_q5_0)
LA_KERNEL(iq4_nl, KILN_QP_IQ4_NL, block_iq4_nl)

#else
typedef int kiln_quant_gemm_legacy_amx_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
