/* quant_gemv_legacy_avx2.c — AVX2 GEMV (decode, m below the GEMM's
 * threshold) of the 32-element weight types Q4_0, Q4_1, Q5_0, Q5_1 and
 * IQ4_NL against Q8_0 activations, and the rows of the AVX2 kernel table
 * that use it and the GEMM of quant_gemm_legacy_avx2.c.
 *
 * Eight W rows per step, block by block, two rows per ymm: the 16 quant
 * bytes of block b of rows A and B side by side give, masked and shifted,
 * their elements 0..15 (low nibbles) and 16..31 (high nibbles) in one
 * vector each, against X's block halves broadcast to both 128-bit lanes;
 * the unpacked W serves up to LV_ROWS X rows. Each pair's int16 sums become
 * int32 (vpmaddwd), and three vphaddd give the eight rows' exact block sums
 * in one vector, rows in the order 0,2,4,6,1,3,5,7 (lv_perm). The float
 * steps are quant.h's, for eight outputs at once: block b enters lane b % 8
 * of each output as
 *     lane + (d·dx)·float(sumi)               (+ (m·dx)·float(Σx))
 * with the eight rows' d (and m) gathered in that order, and the lanes are
 * summed in the reference's fixed order, so every output is the scalar
 * reference's and the GEMM's, bit for bit. W rows past the last valid one
 * alias it (their results are never stored).
 *
 * Exact int16 sums (quant_legacy_pack_avx2.h for the unsigned forms):
 * Q4 u <= 15 and Q5 u <= 31 against |x| <= 128 give pair sums of at most
 * 2·31·128 = 7936, and the low and high nibbles' pairs add to <= 15872;
 * IQ4_NL's sign-trick pairs (<= 32258) are widened separately. */
#include "../../kernels.h"
#include "quant_legacy_pack_avx2.h"

#if KILN_X86

enum {
    LV_ROWS = 3,     /* X rows per pass over a W tile (16 ymm: 12 sums, W and X halves) */
    LV_PREFETCH = 2, /* how many 8-row tiles ahead W is prefetched */
    LV_MAX_M = 7,    /* most X rows the GEMV takes (the rows' gemm_min_m - 1) */
};

/* lv_perm: vector lane p of a step's sums holds W row lv_perm[p] of the eight. */
static const int lv_perm[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/* lv_pair unpacks blocks a and b (bytes at pa, pb): lo = elements 0..15 of
 * a then of b, hi = elements 16..31 the same way (u, or IQ4_NL's values). */
KILN_LA void lv_pair(kiln_la_type ty, const uint8_t *pa, const uint8_t *pb, __m256i *lo, __m256i *hi) {
    const int qs = kiln_la_qs(ty);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(pa + qs))),
                                              _mm_loadu_si128((const __m128i *)(pb + qs)), 1);
    const __m256i low4 = _mm256_set1_epi8(0xF);
    __m256i l = _mm256_and_si256(v, low4), h = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    if (kiln_la_five(ty)) { /* bit e of a's qh, then of b's, as 0x10 bytes */
        uint32_t ha, hb;
        memcpy(&ha, pa + kiln_la_qh(ty), 4);
        memcpy(&hb, pb + kiln_la_qh(ty), 4);
        const __m256i bits = _mm256_set1_epi64x((int64_t)((uint64_t)ha | (uint64_t)hb << 32));
        const __m256i pick_lo = _mm256_set_epi64x(0x0505050505050505, 0x0404040404040404, 0x0101010101010101, 0);
        const __m256i pick_hi = _mm256_set_epi64x(0x0707070707070707, 0x0606060606060606, 0x0303030303030303,
                                                  0x0202020202020202);
        const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe), ones = _mm256_set1_epi64x(-1);
        const __m256i five = _mm256_set1_epi8(0x10);
        const __m256i bl = _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_shuffle_epi8(bits, pick_lo), others), ones);
        const __m256i bh = _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_shuffle_epi8(bits, pick_hi), others), ones);
        l = _mm256_or_si256(l, _mm256_and_si256(bl, five));
        h = _mm256_or_si256(h, _mm256_and_si256(bh, five));
    }
    if (ty == KILN_LA_IQ4_NL) {
        l = _mm256_shuffle_epi8(kiln_la_iq4_table(), l);
        h = _mm256_shuffle_epi8(kiln_la_iq4_table(), h);
    }
    *lo = l;
    *hi = h;
}

/* lv_f16x8 gathers the f16 at offset `at` of block b of the eight rows, in lv_perm order. */
KILN_LA __m256 lv_f16x8(const uint8_t *const rows[8], size_t off, int at) {
    return _mm256_cvtph_ps(_mm_setr_epi16(
        (short)kiln_la_f16(rows[0] + off + at), (short)kiln_la_f16(rows[2] + off + at),
        (short)kiln_la_f16(rows[4] + off + at), (short)kiln_la_f16(rows[6] + off + at),
        (short)kiln_la_f16(rows[1] + off + at), (short)kiln_la_f16(rows[3] + off + at),
        (short)kiln_la_f16(rows[5] + off + at), (short)kiln_la_f16(rows[7] + off + at)));
}

/* lv_xrow is one X row as the GEMV reads it. */
typedef struct {
    const int8_t *q;  /* quants (the quantizer's row) */
    const float *dx;  /* block scales */
    const int32_t *c; /* per block: offset·Σx (Q4_0, Q5_0), else float(Σx) as bits */
} lv_xrow;

// out[r][p] = W row rows[lv_perm[p]] · X row x[r] for r < R.
KILN_LA void lv_tile(kiln_la_type ty, const uint8_t *const rows[8], size_t bsz, int64_t nb, size_t tile_bytes,
                     const lv_xrow *x, __m256 *out, const int R) {
    const int off = kiln_la_offset(ty), has_min = kiln_la_has_min(ty);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 lanes[LV_ROWS][8];
    for (int r = 0; r < R; r++)
        for (int l = 0; l < 8; l++) lanes[r][l] = _mm256_setzero_ps();
    /* rows of a GEMV are read once, in runs of nb·bsz bytes (1 KB at k = 2048):
     * too short for the hardware prefetcher, so the tile LV_PREFETCH tiles
     * ahead (contiguous rows) is requested as this one is read */
    const char *pf = (const char *)rows[0] + LV_PREFETCH * tile_bytes, *pf_to = pf;
    for (int64_t b = 0; b < nb; b++) {
        for (pf_to += 8 * bsz; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        const size_t bo = (size_t)b * bsz;
        __m256i s[LV_ROWS][4];
        __m256i xl[LV_ROWS], xh[LV_ROWS];
        for (int r = 0; r < R; r++) {
            xl[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[r].q + b * 32)));
            xh[r] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(x[r].q + b * 32 + 16)));
        }
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            __m256i lo, hi;
            lv_pair(ty, rows[2 * p] + bo, rows[2 * p + 1] + bo, &lo, &hi);
            if (ty == KILN_LA_IQ4_NL) {
                const __m256i alo = _mm256_abs_epi8(lo), ahi = _mm256_abs_epi8(hi);
                for (int r = 0; r < R; r++)
                    s[r][p] = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(alo, _mm256_sign_epi8(xl[r], lo)), ones),
                                               _mm256_madd_epi16(_mm256_maddubs_epi16(ahi, _mm256_sign_epi8(xh[r], hi)), ones));
            } else {
                for (int r = 0; r < R; r++)
                    s[r][p] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xl[r]), _mm256_maddubs_epi16(hi, xh[r])), ones);
            }
        }
        const __m256 d = lv_f16x8(rows, bo, 0);
        const __m256 m = has_min ? lv_f16x8(rows, bo, 2) : _mm256_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m256i si = _mm256_hadd_epi32(_mm256_hadd_epi32(s[r][0], s[r][1]), _mm256_hadd_epi32(s[r][2], s[r][3]));
            if (off) si = _mm256_sub_epi32(si, _mm256_set1_epi32(x[r].c[b]));
            const __m256 dx = _mm256_broadcast_ss(x[r].dx + b);
            __m256 *lane = &lanes[r][b % 8];
            __m256 f = _mm256_add_ps(*lane, _mm256_mul_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(si)));
            if (has_min) f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(m, dx), _mm256_broadcast_ss((const float *)x[r].c + b)));
            *lane = f;
        }
    }
    for (int r = 0; r < R; r++) {
        const __m256 *l = lanes[r];
        out[r] = kiln_qa_lanes_sum8(l);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty (bsz bytes per block), X as Q8_0 (p->xq, p->xd).
// Per 8-row W tile, every pass of LV_ROWS X rows, so the tile (9 KB at
// k = 2048, Q4_0) is read from memory once and from L1 by the later passes.
KILN_LA void lv_gemv(kiln_la_type ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch,
                     kiln_qdot_fn dot, kiln_qdot4_fn dot4) {
    const int64_t nb = p->k / KILN_QK8_0, nbp = (nb + 7) / 8 * 8, ds = p->kpad / KILN_QK8_0;
    if (p->m > LV_MAX_M || (size_t)nbp * 4 * LV_MAX_M > KILN_MM_SCRATCH_FLOATS * sizeof(float)) {
        kiln_mm_qdot(p, n0, n1, dot, dot4); /* more rows than the row's threshold, or rows of over
                                               210K elements: the dots (same bits) */
        return;
    }
    lv_xrow x[LV_MAX_M];
    for (int64_t i = 0; i < p->m; i++) {
        int32_t *c = (int32_t *)scratch + (size_t)i * nbp;
        const int8_t *q = p->xq + i * p->kpad;
        kiln_la_block_sums(q, nb, c);
        for (int64_t b = 0; b < nb; b += 8) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(c + b));
            if (kiln_la_has_min(ty)) _mm256_storeu_ps((float *)(c + b), _mm256_cvtepi32_ps(v));
            else _mm256_storeu_si256((__m256i *)(c + b), _mm256_slli_epi32(v, kiln_la_offset(ty) == 8 ? 3 : 4));
        }
        x[i] = (lv_xrow){.q = q, .dx = p->xd + i * ds, .c = c};
    }
    for (int64_t j0 = n0; j0 < n1; j0 += 8) {
        const int nvalid = n1 - j0 >= 8 ? 8 : (int)(n1 - j0);
        const uint8_t *rows[8];
        for (int l = 0; l < 8; l++)
            rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
        for (int64_t i0 = 0; i0 < p->m; i0 += LV_ROWS) {
            const int R = p->m - i0 < LV_ROWS ? (int)(p->m - i0) : LV_ROWS;
            __m256 out[LV_ROWS];
            switch (R) {
            case 3: lv_tile(ty, rows, bsz, nb, 8 * p->wstride, x + i0, out, 3); break;
            case 2: lv_tile(ty, rows, bsz, nb, 8 * p->wstride, x + i0, out, 2); break;
            default: lv_tile(ty, rows, bsz, nb, 8 * p->wstride, x + i0, out, 1); break;
            }
            for (int r = 0; r < R; r++) {
                float o[8];
                _mm256_storeu_ps(o, out[r]);
                float *y = p->y + (i0 + r) * p->n + j0;
                for (int l = 0; l < 8; l++)
                    if (lv_perm[l] < nvalid) y[lv_perm[l]] = o[l];
            }
        }
    }
}

#define LV_KERNEL(ty, TY, block)                                                                             \
    KILN_TARGET_AVX2 void kiln_mm_gemv_##ty##_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        lv_gemv(TY, sizeof(block), p, n0, n1, s, kiln_dot_##ty##_avx2, kiln_dot4_##ty##_avx2);               \
    }
LV_KERNEL(q4_0, KILN_LA_Q4_0, block_q4_0)
LV_KERNEL(q4_1, KILN_LA_Q4_1, block_q4_1)
LV_KERNEL(q5_0, KILN_LA_Q5_0, block_q5_0)
LV_KERNEL(q5_1, KILN_LA_Q5_1, block_q5_1)
LV_KERNEL(iq4_nl, KILN_LA_IQ4_NL, block_iq4_nl)

/* ---- the AVX2 rows of the 32-element types -------------------------------- */
/* The GEMM from LA_GEMM_MIN_M rows on, the GEMV (in passes of three X rows
 * over each W tile) below it: measured per row, 8192x2048, W cold, 1 thread,
 * the GEMM overtakes the passes between m = 7 and 9 (q4_0 m=4 0.23 vs 0.29
 * ms, m=8 0.213 vs 0.218, m=12 0.208 vs 0.180; q5_0 and iq4_nl alike). X
 * stays in the quantizer's layout (no gemm_layout), so these rows sit beside
 * Q8_0's in one multi call. */
#ifndef LA_GEMM_MIN_M
#define LA_GEMM_MIN_M 8
#endif
_Static_assert(LA_GEMM_MIN_M - 1 <= LV_MAX_M, "the GEMV takes every m below the GEMM's threshold");
#define LA_ROW(TYPE, ty)                                                                          \
    do {                                                                                          \
        kiln_type_kernels *r_ = &t->types[TYPE];                                                  \
        r_->gemv = kiln_mm_gemv_##ty##_avx2;                                                      \
        r_->gemm = kiln_mm_gemm_##ty##_avx2;                                                      \
        r_->gemm_min_m = LA_GEMM_MIN_M;                                                           \
        r_->gemm_layout = NULL;                                                                   \
        r_->gemv_variant = "avx2 two-block dot, 3 X rows per pass (maddubs, exact int32 sums)";  \
        r_->gemm_variant = "avx2 int8 16-column outer product (maddubs, int16 block sums)";      \
    } while (0)

void kiln_quant_legacy_rows_avx2(kiln_kernels *t) {
    LA_ROW(KILN_TYPE_Q4_0, q4_0);
    LA_ROW(KILN_TYPE_Q4_1, q4_1);
    LA_ROW(KILN_TYPE_Q5_0, q5_0);
    LA_ROW(KILN_TYPE_Q5_1, q5_1);
    LA_ROW(KILN_TYPE_IQ4_NL, iq4_nl);
}

#else
typedef int kiln_quant_gemv_legacy_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
