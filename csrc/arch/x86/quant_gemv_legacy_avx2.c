/* quant_gemv_legacy_avx2.c — AVX2 GEMV (decode, m below the GEMM's
 * threshold) of the 32-element weight types Q4_0, Q4_1, Q5_0, Q5_1 and
 * IQ4_NL against Q8_0 activations, and the rows of the AVX2 kernel table
 * that use it and the GEMM of quant_gemm_legacy_avx2.c.
 *
 * Per W row, eight blocks per step, two blocks per ymm: the 16 quant bytes
 * of blocks A and B side by side give, masked and shifted, their elements
 * 0..15 (low nibbles) and 16..31 (high nibbles) in one vector each, so one
 * vpmaddubsw pair covers two blocks; X is laid out once per call to match
 * (per block pair: A's first 16 quants, B's, A's last 16, B's). The unpacked
 * W is reused for up to LV_ROWS X rows. Each pair's int16 sums become int32
 * (vpmaddwd) per block half-lane, and three vphaddd give the eight blocks'
 * exact sums in one vector, lanes in block order 0,2,4,6,1,3,5,7. The float
 * steps are quant.h's, per lane: block b enters lane b % 8 as
 *     lane + (d·dx)·float(sumi)               (+ (m·dx)·float(Σx))
 * with d, dx and Σx gathered in that lane order, and the lanes are summed in
 * the reference's fixed order, so every output is the scalar reference's and
 * the GEMM's, bit for bit. Blocks past the row's end (a last group of fewer
 * than eight) are a zero block against zero X: +0 sums and ±0
 * contributions, which leave every lane unchanged.
 *
 * Exact int16 sums (quant_legacy_pack_avx2.h for the unsigned forms):
 * Q4 u <= 15 and Q5 u <= 31 against |x| <= 128 give pair sums of at most
 * 2·31·128 = 7936, and the low and high nibbles' pairs add to <= 15872;
 * IQ4_NL's sign-trick pairs (<= 32258) are widened separately. */
#include "../../kernels.h"
#include "quant_legacy_pack_avx2.h"

#if KILN_X86

enum {
    LV_ROWS = 3, /* X rows per pass over W (the GEMM takes KILN_MM_Q8G_MIN_M rows and more) */
};

/* lv_perm: vector lane p of a step's sums holds block lv_perm[p] of the eight. */
static const int lv_perm[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/* lv_x is one X row laid out for the GEMV (in the caller's scratch). */
typedef struct {
    const int8_t *q;  /* per block pair: A[0:16], B[0:16], A[16:32], B[16:32] */
    const float *dx;  /* block scales, per eight blocks in lv_perm order (0 past nb) */
    const int32_t *sx; /* block sums Σx, the same way */
} lv_x;

/* lv_bytes is the scratch one laid-out X row takes for nbp blocks. */
static inline size_t lv_bytes(int64_t nbp) { return (size_t)nbp * (32 + 4 + 4 + 4) + 64; }

/* lv_zero_block stands for the blocks past a row's end: zero quants and scales. */
static const uint8_t lv_zero_block[32];

// xl = X row x (quants) / xd (scales) of nb blocks laid out in mem (nbp = nb rounded up to 8).
KILN_LA lv_x lv_layout(const int8_t *x, const float *xd, int64_t nb, int64_t nbp, uint8_t *mem) {
    int8_t *q = (int8_t *)mem;
    float *dx = (float *)(mem + nbp * 32);
    int32_t *sx = (int32_t *)(dx + nbp), *sums = sx + nbp; /* sums: nbp more int32 */
    for (int64_t b = 0; b < nbp; b += 2) {
        const __m256i a = b < nb ? _mm256_loadu_si256((const __m256i *)(x + b * 32)) : _mm256_setzero_si256();
        const __m256i c = b + 1 < nb ? _mm256_loadu_si256((const __m256i *)(x + b * 32 + 32)) : _mm256_setzero_si256();
        _mm256_storeu_si256((__m256i *)(q + b * 32), _mm256_permute2x128_si256(a, c, 0x20));
        _mm256_storeu_si256((__m256i *)(q + b * 32 + 32), _mm256_permute2x128_si256(a, c, 0x31));
    }
    kiln_la_block_sums(x, nb, sums);
    for (int64_t g = 0; g < nbp; g += 8)
        for (int p = 0; p < 8; p++) {
            const int64_t b = g + lv_perm[p];
            dx[g + p] = b < nb ? xd[b] : 0.0f;
            sx[g + p] = b < nb ? sums[b] : 0;
        }
    return (lv_x){.q = q, .dx = dx, .sx = sx};
}

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

/* lv_scales4 packs the f16 at offset `at` of four blocks into 64 bits. */
KILN_LA uint64_t lv_scales4(const uint8_t *const blk[4], int at) {
    return (uint64_t)kiln_la_f16(blk[0] + at) | (uint64_t)kiln_la_f16(blk[1] + at) << 16 |
           (uint64_t)kiln_la_f16(blk[2] + at) << 32 | (uint64_t)kiln_la_f16(blk[3] + at) << 48;
}

/* lv_row computes out[r] = W row w · X row x[r] for r < R. */
KILN_LA void lv_row(kiln_la_type ty, const uint8_t *w, size_t bsz, int64_t nb, int64_t nbp, const lv_x *x, float *out,
                    const int R) {
    const int off = kiln_la_offset(ty), has_min = kiln_la_has_min(ty);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[LV_ROWS];
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < nbp; g += 8) {
        const uint8_t *ev[4], *od[4]; /* the even and odd blocks of the step (the zero block past nb) */
        __m256i v[LV_ROWS][4];
        const int npair = nb - g >= 8 ? 4 : (int)(nb - g + 1) / 2; /* pairs with a block of the row */
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            const int64_t a = g + 2 * p;
            ev[p] = a < nb ? w + (size_t)a * bsz : lv_zero_block;
            od[p] = a + 1 < nb ? w + (size_t)(a + 1) * bsz : lv_zero_block;
            if (p >= npair) { /* nothing to multiply: zero sums */
                for (int r = 0; r < R; r++) v[r][p] = _mm256_setzero_si256();
                continue;
            }
            __m256i lo, hi;
            lv_pair(ty, ev[p], od[p], &lo, &hi);
            if (ty == KILN_LA_IQ4_NL) {
                const __m256i alo = _mm256_abs_epi8(lo), ahi = _mm256_abs_epi8(hi);
                for (int r = 0; r < R; r++) {
                    const __m256i xl = _mm256_loadu_si256((const __m256i *)(x[r].q + a * 32));
                    const __m256i xh = _mm256_loadu_si256((const __m256i *)(x[r].q + a * 32 + 32));
                    v[r][p] = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(alo, _mm256_sign_epi8(xl, lo)), ones),
                                               _mm256_madd_epi16(_mm256_maddubs_epi16(ahi, _mm256_sign_epi8(xh, hi)), ones));
                }
            } else {
                for (int r = 0; r < R; r++) {
                    const __m256i xl = _mm256_loadu_si256((const __m256i *)(x[r].q + a * 32));
                    const __m256i xh = _mm256_loadu_si256((const __m256i *)(x[r].q + a * 32 + 32));
                    v[r][p] = _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh)), ones);
                }
            }
        }
        /* d (and m) in lane order: the even blocks 0,2,4,6, then the odd ones */
        const __m256 d = _mm256_cvtph_ps(_mm_set_epi64x((int64_t)lv_scales4(od, 0), (int64_t)lv_scales4(ev, 0)));
        const __m256 m = has_min ? _mm256_cvtph_ps(_mm_set_epi64x((int64_t)lv_scales4(od, 2), (int64_t)lv_scales4(ev, 2)))
                                 : _mm256_setzero_ps();
        for (int r = 0; r < R; r++) {
            __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(v[r][0], v[r][1]), _mm256_hadd_epi32(v[r][2], v[r][3]));
            const __m256i sx = _mm256_loadu_si256((const __m256i *)(x[r].sx + g));
            if (off) s = _mm256_sub_epi32(s, _mm256_slli_epi32(sx, off == 8 ? 3 : 4));
            const __m256 dx = _mm256_loadu_ps(x[r].dx + g);
            acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(s)));
            if (has_min) acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_mul_ps(m, dx), _mm256_cvtepi32_ps(sx)));
        }
    }
    for (int r = 0; r < R; r++) {
        float a[8], l[8];
        _mm256_storeu_ps(a, acc[r]);
        for (int p = 0; p < 8; p++) l[lv_perm[p]] = a[p];
        out[r] = kiln_q_lanes_sum(l);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty (bsz bytes per block), X as Q8_0 (p->xq, p->xd).
KILN_LA void lv_gemv(kiln_la_type ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch,
                     kiln_qdot_fn dot, kiln_qdot4_fn dot4) {
    const int64_t nb = p->k / KILN_QK8_0, nbp = (nb + 7) / 8 * 8, ds = p->kpad / KILN_QK8_0;
    if (lv_bytes(nbp) * LV_ROWS > KILN_MM_SCRATCH_FLOATS * sizeof(float)) {
        kiln_mm_qdot(p, n0, n1, dot, dot4); /* rows too long to lay out: the dots (same bits) */
        return;
    }
    for (int64_t i0 = 0; i0 < p->m; i0 += LV_ROWS) {
        const int R = p->m - i0 < LV_ROWS ? (int)(p->m - i0) : LV_ROWS;
        lv_x x[LV_ROWS];
        for (int r = 0; r < R; r++)
            x[r] = lv_layout(p->xq + (i0 + r) * p->kpad, p->xd + (i0 + r) * ds, nb, nbp,
                             (uint8_t *)scratch + (size_t)r * lv_bytes(nbp));
        for (int64_t j = n0; j < n1; j++) {
            const uint8_t *w = (const uint8_t *)p->w + (size_t)j * p->wstride;
            float out[LV_ROWS];
            switch (R) {
            case 3: lv_row(ty, w, bsz, nb, nbp, x, out, 3); break;
            case 2: lv_row(ty, w, bsz, nb, nbp, x, out, 2); break;
            default: lv_row(ty, w, bsz, nb, nbp, x, out, 1); break;
            }
            for (int r = 0; r < R; r++) p->y[(i0 + r) * p->n + j] = out[r];
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
/* The GEMM from KILN_MM_Q8G_MIN_M rows on (matmul.c sizes its work chunks
 * by that threshold), the GEMV below it. X stays in the quantizer's layout
 * (no gemm_layout), so these rows sit beside Q8_0's in one multi call. */
#define LA_ROW(TYPE, ty)                                                                          \
    do {                                                                                          \
        kiln_type_kernels *r_ = &t->types[TYPE];                                                  \
        r_->gemv = kiln_mm_gemv_##ty##_avx2;                                                      \
        r_->gemm = kiln_mm_gemm_##ty##_avx2;                                                      \
        r_->gemm_min_m = KILN_MM_Q8G_MIN_M;                                                       \
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
