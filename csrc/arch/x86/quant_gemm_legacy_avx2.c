/* quant_gemm_legacy_avx2.c — AVX2 GEMM (prefill) of the 32-element weight
 * types Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL against Q8_0 activations, with
 * AVX2/FMA/F16C instructions only (AVX2-only CPUs have no VNNI).
 *
 * An int8 outer product: a panel of 16 W rows (output columns) is unpacked
 * once per k block into bytes (quant_legacy_pack_avx2.h) and transposed so
 * that one ymm holds the same quad (four consecutive quants) of 8 columns,
 * one int32 lane per column; each X row's quad is broadcast to every lane
 * and vpmaddubsw adds its two pair products per int16 half-lane. Per block
 * and output the integer dot is exact (bounds below) and reaches an int32
 * lane with vpmaddwd(·, 1); the float steps are then quant.h's, in the
 * scalar reference's order, 8 outputs per instruction:
 *     lane[b % 8] = lane[b % 8] + (d·dx)·float(sumi)        (+ (m·dx)·float(Σx))
 * and the eight lanes are summed ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)), so
 * every output is the reference's and the GEMV's, bit for bit, whatever the
 * tile, the m block or the thread.
 *
 * Exact int16 sums (vpmaddubsw saturates at ±32767), |x| <= 128:
 *  - Q4_0, Q4_1: u <= 15, the eight quads of a block summed in int16:
 *    16 products per half-lane, |Σ| <= 16·15·128 = 30720.
 *  - Q5_0, Q5_1: u <= 31, four quads (half a block) per int16 sum:
 *    8 products, |Σ| <= 8·31·128 = 31744; the halves are added in int32.
 *  - IQ4_NL: vpmaddubsw(|v|, sign(x, v)), each pair <= 2·127·127 = 32258
 *    (|x| <= 127 for Q8_0 quants), widened to int32 after every quad.
 * Q4_0 and Q5_0 then take offset·Σx off (Σx: the X block's exact sum);
 * Q4_1 and Q5_1 use Σx for their min term, as the reference does.
 *
 * X is read where the quantizer put it (p->xq, p->xd: one row after
 * another), so these rows need no X layout of their own and mix freely with
 * the Q8_0 GEMM's in one kiln_matmul_multi.
 *
 * Packed panel (per thread, LG_KCB blocks), per block: the u quads of the
 * 16 columns (quad q of column j at q·16 + j), for IQ4_NL the signed values
 * the same way, then d[16] and m[16] as f32. Per X row of an m block: eight
 * lanes × 16 columns of f32 accumulators. */
#include "../../kernels.h"
#include "quant_legacy_pack_avx2.h"

#if KILN_X86

enum {
    LG_NR = 16,  /* W rows (output columns) per panel: two ymm of int32 lanes */
    LG_KCB = 16, /* blocks per k block: an 18 KB packed chunk, L1-resident */
    LG_MB = 96,  /* X rows per m block: 48 KB of lane accumulators */
    LG_MR_MAX = 6,
    LG_Q = 0, LG_S = 8 * LG_NR, LG_D = 16 * LG_NR, LG_M = LG_D + LG_NR,
    LG_BLK = LG_M + LG_NR, /* int32 per packed block */
    LG_ACC = 8 * LG_NR,    /* floats of one X row's accumulators */
};
_Static_assert(((size_t)LG_KCB * LG_BLK + (size_t)LG_MB * LG_ACC) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "the legacy GEMM's panel and accumulators must fit the per-thread scratch");
_Static_assert(LG_MB % 12 == 0, "m blocks hold whole tiles of every height (6, 4, 3)");
_Static_assert(LG_KCB % 8 == 0, "X block sums are taken eight at a time");

/* lg_mr is the type's tile height: 16 ymm hold MR·2 int16 sums (and for
 * Q5 MR·2 int32 sums, for IQ4_NL a sign temporary), 2 W vectors and X. */
KILN_LA int lg_mr(kiln_la_type ty) {
    return ty == KILN_LA_Q4_0 || ty == KILN_LA_Q4_1 ? 6 : ty == KILN_LA_IQ4_NL ? 4 : 3;
}

// pk = blocks b0 .. b0+nblk-1 of the 16 rows, packed (layout in the header comment).
KILN_LA void lg_pack(kiln_la_type ty, const uint8_t *const rows[LG_NR], size_t bsz, int64_t b0, int64_t nblk,
                     int64_t nb, int32_t *pk) {
    /* the next chunk of the 16 rows into L2 while the tiles run (16 short
     * row runs are too many streams for the hardware prefetcher) */
    const int64_t b1 = b0 + nblk, pf1 = b1 + nblk < nb ? b1 + nblk : nb;
    for (int j = 0; j < LG_NR && b1 < pf1; j++)
        for (const uint8_t *a = rows[j] + (size_t)b1 * bsz; a < rows[j] + (size_t)pf1 * bsz; a += 64)
            _mm_prefetch((const char *)a, _MM_HINT_T1);
    for (int64_t s = 0; s < nblk; s++) {
        int32_t *pb = pk + s * LG_BLK;
        uint16_t d[LG_NR], m[LG_NR];
        for (int h = 0; h < 2; h++) {
            __m256i q[8], t[8];
            for (int j = 0; j < 8; j++) {
                const uint8_t *blk = rows[8 * h + j] + (size_t)(b0 + s) * bsz;
                q[j] = kiln_la_quants(ty, blk);
                d[8 * h + j] = kiln_la_f16(blk);
                m[8 * h + j] = kiln_la_has_min(ty) ? kiln_la_f16(blk + 2) : 0;
            }
            if (ty == KILN_LA_IQ4_NL) {
                kiln_la_transpose8(q, t);
                for (int u = 0; u < 8; u++) _mm256_store_si256((__m256i *)(pb + LG_S + u * LG_NR + 8 * h), t[u]);
                for (int j = 0; j < 8; j++) q[j] = _mm256_abs_epi8(q[j]);
            }
            kiln_la_transpose8(q, t);
            for (int u = 0; u < 8; u++) _mm256_store_si256((__m256i *)(pb + LG_Q + u * LG_NR + 8 * h), t[u]);
        }
        for (int h = 0; h < 2; h++) {
            _mm256_store_ps((float *)(pb + LG_D + 8 * h), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(d + 8 * h))));
            if (kiln_la_has_min(ty))
                _mm256_store_ps((float *)(pb + LG_M + 8 * h), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(m + 8 * h))));
        }
    }
}

/* lg_x4 broadcasts the quad of X quants at p to every int32 lane. */
KILN_LA __m256i lg_x4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* lg_block_dots: sum[r][c] = the exact int32 dots, before any offset, of
 * block s of the panel (columns 8c..8c+7) with block b of X rows r < MR. */
KILN_LA void lg_block_dots(kiln_la_type ty, const int32_t *pb, const int8_t *x, int64_t xs, int64_t b,
                           __m256i sum[LG_MR_MAX][2], const int MR) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *xb = x + b * 32;
    if (ty == KILN_LA_IQ4_NL) {
#pragma GCC unroll 8
        for (int q = 0; q < 8; q++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(pb + LG_Q + q * LG_NR));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(pb + LG_Q + q * LG_NR + 8));
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                const __m256i xv = lg_x4(xb + r * xs + 4 * q);
                const __m256i s0 = _mm256_sign_epi8(xv, _mm256_load_si256((const __m256i *)(pb + LG_S + q * LG_NR)));
                const __m256i t0 = _mm256_madd_epi16(_mm256_maddubs_epi16(w0, s0), ones);
                sum[r][0] = q ? _mm256_add_epi32(sum[r][0], t0) : t0;
                kiln_la_keep(&sum[r][0]);
                const __m256i s1 = _mm256_sign_epi8(xv, _mm256_load_si256((const __m256i *)(pb + LG_S + q * LG_NR + 8)));
                const __m256i t1 = _mm256_madd_epi16(_mm256_maddubs_epi16(w1, s1), ones);
                sum[r][1] = q ? _mm256_add_epi32(sum[r][1], t1) : t1;
                kiln_la_keep(&sum[r][1]);
            }
        }
        return;
    }
    const int seg = kiln_la_five(ty) ? 4 : 8; /* quads per int16 sum (bounds above) */
    for (int q0 = 0; q0 < 8; q0 += seg) {
        __m256i a[LG_MR_MAX][2];
#pragma GCC unroll 8
        for (int q = q0; q < q0 + seg; q++) {
            const __m256i w0 = _mm256_load_si256((const __m256i *)(pb + LG_Q + q * LG_NR));
            const __m256i w1 = _mm256_load_si256((const __m256i *)(pb + LG_Q + q * LG_NR + 8));
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                const __m256i xv = lg_x4(xb + r * xs + 4 * q);
                const __m256i t0 = _mm256_maddubs_epi16(w0, xv), t1 = _mm256_maddubs_epi16(w1, xv);
                a[r][0] = q > q0 ? _mm256_add_epi16(a[r][0], t0) : t0;
                a[r][1] = q > q0 ? _mm256_add_epi16(a[r][1], t1) : t1;
                kiln_la_keep(&a[r][0]);
                kiln_la_keep(&a[r][1]);
            }
        }
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++)
            for (int c = 0; c < 2; c++) {
                const __m256i w = _mm256_madd_epi16(a[r][c], ones);
                sum[r][c] = q0 ? _mm256_add_epi32(sum[r][c], w) : w;
            }
    }
}

/* lg_tile: acc[r] += the contributions of blocks kb0 .. kb0+nblk-1 (packed
 * at pk) for the X rows r < MR at x (quants, row stride xs) and xd (scales,
 * row stride ds). */
KILN_LA void lg_tile(kiln_la_type ty, const int32_t *pk, int64_t kb0, int64_t nblk, const int8_t *x, int64_t xs,
                     const float *xd, int64_t ds, float *acc, const int MR) {
    const int off = kiln_la_offset(ty), has_min = kiln_la_has_min(ty);
    /* per row and block: offset·Σx (Q4_0, Q5_0) or float(Σx) (Q4_1, Q5_1),
     * broadcast from memory in the block loop (a load, no ALU work) */
    _Alignas(32) int32_t sx[LG_MR_MAX][LG_KCB];
    _Alignas(32) float sxf[LG_MR_MAX][LG_KCB];
    if (ty != KILN_LA_IQ4_NL)
        for (int r = 0; r < MR; r++) {
            kiln_la_block_sums(x + r * xs + kb0 * 32, nblk, sx[r]);
            for (int64_t s = 0; s < nblk; s += 8) {
                const __m256i v = _mm256_load_si256((const __m256i *)(sx[r] + s));
                if (has_min) _mm256_store_ps(sxf[r] + s, _mm256_cvtepi32_ps(v));
                else _mm256_store_si256((__m256i *)(sx[r] + s), _mm256_slli_epi32(v, off == 8 ? 3 : 4));
            }
        }
    for (int64_t s = 0; s < nblk; s++) {
        const int32_t *pb = pk + s * LG_BLK;
        const int64_t b = kb0 + s;
        __m256i sum[LG_MR_MAX][2];
        lg_block_dots(ty, pb, x, xs, b, sum, MR);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const __m256 dx = _mm256_broadcast_ss(xd + r * ds + b);
            float *lane = acc + r * LG_ACC + (b % 8) * LG_NR;
            for (int c = 0; c < 2; c++) {
                __m256i si = sum[r][c];
                if (off) si = _mm256_sub_epi32(si, _mm256_set1_epi32(sx[r][s]));
                const __m256 d = _mm256_load_ps((const float *)(pb + LG_D + 8 * c));
                __m256 f = _mm256_add_ps(_mm256_load_ps(lane + 8 * c), _mm256_mul_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(si)));
                if (has_min) {
                    const __m256 m = _mm256_load_ps((const float *)(pb + LG_M + 8 * c));
                    f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(m, dx), _mm256_broadcast_ss(&sxf[r][s])));
                }
                _mm256_store_ps(lane + 8 * c, f);
            }
        }
    }
}

/* lg_store_rows writes y[i, 0:nvalid] for `rows` rows of accumulators: the
 * fixed sum of the eight lanes, output by output. */
KILN_LA void lg_store_rows(const float *acc, int64_t rows, float *y, int64_t ldy, int nvalid) {
    for (int64_t i = 0; i < rows; i++, acc += LG_ACC) {
        _Alignas(32) float out[LG_NR];
        for (int c = 0; c < 2; c++) {
            __m256 l[8];
            for (int v = 0; v < 8; v++) l[v] = _mm256_load_ps(acc + v * LG_NR + 8 * c);
            const __m256 s = kiln_qa_lanes_sum8(l);
            _mm256_store_ps(out + 8 * c, s);
        }
        memcpy(y + i * ldy, out, sizeof(float) * (size_t)nvalid);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty (bsz bytes per block), X as Q8_0 (p->xq, p->xd).
KILN_LA void lg_gemm(kiln_la_type ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pk = (int32_t *)scratch; /* 64-byte aligned */
    float *acc = (float *)(pk + (size_t)LG_KCB * LG_BLK);
    const int64_t nb = p->k / KILN_QK8_0, ds = p->kpad / KILN_QK8_0, xs = p->kpad;
    const int MR = lg_mr(ty);
    for (int64_t j0 = n0; j0 < n1; j0 += LG_NR) {
        const int nvalid = n1 - j0 >= LG_NR ? LG_NR : (int)(n1 - j0);
        const uint8_t *rows[LG_NR]; /* rows past nvalid alias the last valid one (never stored) */
        for (int l = 0; l < LG_NR; l++)
            rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += LG_MB) {
            const int64_t mb1 = mb0 + LG_MB < p->m ? mb0 + LG_MB : p->m;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * LG_ACC);
            for (int64_t kb0 = 0; kb0 < nb; kb0 += LG_KCB) {
                const int64_t nblk = nb - kb0 < LG_KCB ? nb - kb0 : LG_KCB;
                lg_pack(ty, rows, bsz, kb0, nblk, nb, pk);
                for (int64_t i0 = mb0; i0 < mb1; i0 += MR) {
                    const int mr = mb1 - i0 < MR ? (int)(mb1 - i0) : MR;
                    const int8_t *x = p->xq + i0 * xs;
                    const float *xd = p->xd + i0 * ds;
                    float *a = acc + (i0 - mb0) * LG_ACC;
                    switch (mr) {
                    case 6: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 6); break;
                    case 5: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 5); break;
                    case 4: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 4); break;
                    case 3: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 3); break;
                    case 2: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 2); break;
                    default: lg_tile(ty, pk, kb0, nblk, x, xs, xd, ds, a, 1); break;
                    }
                }
            }
            lg_store_rows(acc, mb1 - mb0, p->y + mb0 * p->n + j0, p->n, nvalid);
        }
    }
}

#define LG_KERNEL(ty, TY, block)                                                                             \
    KILN_TARGET_AVX2 void kiln_mm_gemm_##ty##_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        lg_gemm(TY, sizeof(block), p, n0, n1, s);                                                            \
    }
LG_KERNEL(q4_0, KILN_LA_Q4_0, block_q4_0)
LG_KERNEL(q4_1, KILN_LA_Q4_1, block_q4_1)
LG_KERNEL(q5_0, KILN_LA_Q5_0, block_q5_0)
LG_KERNEL(q5_1, KILN_LA_Q5_1, block_q5_1)
LG_KERNEL(iq4_nl, KILN_LA_IQ4_NL, block_iq4_nl)

#else
typedef int kiln_quant_gemm_legacy_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
