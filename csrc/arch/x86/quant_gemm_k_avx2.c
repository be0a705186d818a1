/* quant_gemm_k_avx2.c — AVX2 GEMM (prefill) of the 256-element weight types
 * Q2_K … Q6_K and IQ4_XS against Q8_K activations, for CPUs without
 * AVX-512 VNNI (AVX2, FMA and F16C instructions only): an int8 outer
 * product on vpmaddubsw + vpmaddwd.
 *
 * Arithmetic: per super-block and output, the exact int32 sums of quant.h
 * (sub-block dots times their integer scales; Q2_K/Q4_K/Q5_K the min sum
 * Σ mn·(X's 16- or 32-element sums); Q3_K and Q6_K the offset share of
 * their unsigned quants) and then the reference's float steps into lane
 * b % 8, vectorized across 8 outputs lane for lane. The result is the
 * scalar reference's, bit for bit, and so the GEMV's (decode ≡ prefill)
 * whatever m, tile or thread.
 *
 * Packed panel (per thread, one k block of K2_KCB super-blocks, 16 W rows):
 * for super-block s, in int32 units from s*K2_SB:
 *   q   [64 quads][16]  quants as bytes, four consecutive ones (a "quad")
 *                       per int32 lane, one lane per W row: unsigned (Q3_K
 *                       q + 4, Q6_K q + 32) except IQ4_XS, whose values are
 *                       kept signed
 *   sc  [16][16]        int16 pair (sc_g, sc_g) of group g (Q4_K/Q5_K/IQ4_XS:
 *                       8 groups of 32; Q2_K/Q3_K/Q6_K: 16 groups of 16)
 *   pr  [8][16]         int16 pairs against X's element sums (kiln_qp_kscales):
 *                       Q4_K/Q5_K (mn_2p, mn_2p+1) against its 32-element sums
 *                       (4 pairs), Q2_K/Q3_K/Q6_K 8 pairs against its bsums
 *   d, dmin [16]        the super-block scales as f32
 * Unpacking and transposing happen once per panel and k block and are
 * reused by every X row of the m block (K2_MB rows).
 *
 * Microkernel (MR X rows × 8·NV outputs): per quad, NV panel loads, per X
 * row one vpbroadcastd of its quad and NV vpmaddubsw (W unsigned, X signed)
 * added in int16 (vpaddw) over up to `flush` quads, then one vpmaddwd by
 * the group's scale pair into the int32 sums (vpaddd). Why nothing
 * saturates or wraps — Q8_K quants x lie in [-127, 127] (quantize_row_q8_K:
 * |x/max·127| rounds to at most 127), |x| <= 128 is all the bounds use
 * except IQ4_XS's:
 *   vpmaddubsw adds two products u·x into int16 with saturation, |pair| <=
 *   2·umax·128: Q2_K 768, Q3_K 1792, Q4_K 3840, Q5_K 7936, Q6_K 16128, in
 *   range; the int16 sums of `flush` quads (2·flush products) stay within
 *   ±32767: Q2_K/Q3_K 4 quads (3072, 7168), Q4_K 8 (30720), Q5_K 4 (31744),
 *   Q6_K 2 (32256).
 *   IQ4_XS values v are signed (-127..113), so its product is
 *   vpmaddubsw(|v|, sign(x, v)) (x·sign(v) is exact for x != -128): |pair|
 *   <= 2·127·127 = 32258, one quad per flush.
 *   vpmaddwd of such an int16 pair sum by a scale pair (|sc| <= 128) is
 *   exact in int32, and a super-block's whole sum is below 256·127·128·128
 *   < 2^31.
 * Per super-block 4 (Q4_K/Q5_K) or 8 vpmaddwd per row and vector for the
 * min/offset sums (pairs against a broadcast pair of X's sums), then the
 * float steps on the lane accumulators (in L1, acc[row][lane][16]).
 * vpmaddubsw, vpmaddwd and the float multiplies share the multiply pipes,
 * which bound the kernel; the min sums against X's 32-element sums halve
 * Q4_K's and Q5_K's extra vpmaddwd (2048x2048 m=128 q4_K 5.58 -> 5.36 ms). */
#include "../../kernels.h"
#include "quant_pack_k_avx2.h"

#if KILN_X86

enum {
    K2_NR = 16,  /* W rows (output columns) per panel: two ymm of 8 int32 lanes */
    K2_LANES = 8, /* accumulation lanes per output (quant.h) */
    K2_ACC = K2_LANES * K2_NR, /* floats of one X row's accumulators */
    K2_MR = 3,   /* X rows per microkernel tile (× 16 columns) */
    K2_KCB = 4,  /* super-blocks per k block: a 23 KB packed chunk (L1) */
    K2_MB = 192, /* X rows per m block: 96 KB of lane accumulators */
    K2_Q = 0, K2_SC = 64 * K2_NR, K2_PR = K2_SC + 16 * K2_NR, K2_D = K2_PR + 8 * K2_NR, K2_DMIN = K2_D + K2_NR,
    K2_SB = K2_DMIN + K2_NR, /* int32 per packed super-block */
};
_Static_assert(((size_t)K2_KCB * K2_SB + (size_t)K2_MB * K2_ACC) * 4 <= KILN_MM_SCRATCH_FLOATS * 4,
               "the K-quant GEMM's panel and accumulators must fit the per-thread scratch");

/* k2_transpose8 stores 32 quants of each of 8 rows (row j's at src + j*stride)
 * as dst[q*K2_NR + j] = quad q of row j, q = 0..7 (an 8×8 int32 transpose). */
KILN_QA void k2_transpose8(const uint8_t *src, size_t stride, int32_t *dst) {
    __m256i z[8], t[8], u[8];
    for (int r = 0; r < 8; r++) z[r] = _mm256_load_si256((const __m256i *)(src + r * stride));
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(z[2 * i], z[2 * i + 1]);     /* quads 0,1 | 4,5 of rows 2i, 2i+1 */
        t[2 * i + 1] = _mm256_unpackhi_epi32(z[2 * i], z[2 * i + 1]); /* quads 2,3 | 6,7 */
    }
    for (int h = 0; h < 2; h++) { /* rows 4h .. 4h+3 */
        u[4 * h + 0] = _mm256_unpacklo_epi64(t[4 * h], t[4 * h + 2]);     /* quad 0 | 4 */
        u[4 * h + 1] = _mm256_unpackhi_epi64(t[4 * h], t[4 * h + 2]);     /* quad 1 | 5 */
        u[4 * h + 2] = _mm256_unpacklo_epi64(t[4 * h + 1], t[4 * h + 3]); /* quad 2 | 6 */
        u[4 * h + 3] = _mm256_unpackhi_epi64(t[4 * h + 1], t[4 * h + 3]); /* quad 3 | 7 */
    }
    for (int i = 0; i < 4; i++) {
        _mm256_store_si256((__m256i *)(dst + i * K2_NR), _mm256_permute2x128_si256(u[i], u[4 + i], 0x20));
        _mm256_store_si256((__m256i *)(dst + (i + 4) * K2_NR), _mm256_permute2x128_si256(u[i], u[4 + i], 0x31));
    }
}

/* k2_signed: the type's packed quants are its signed values (multiplied
 * by the sign trick), else unsigned (an offset or min is taken off after).
 * Q6_K stays unsigned: its signed form would need a vpsignb per product,
 * measured 7% slower than two vpmaddwd per group plus the offset's. */
#define k2_signed(ty) ((ty) == KILN_QP_IQ4_XS)

/* k2_pairs: the min/offset pairs per super-block (Q4_K/Q5_K: 4, against
 * X's 32-element sums; Q2_K/Q3_K: 8, against its 16-element sums; none
 * for the signed types). */
#define k2_pairs(ty) ((ty) == KILN_QP_Q4_K || (ty) == KILN_QP_Q5_K ? 4 : k2_signed(ty) ? 0 : 8)

/* k2_pack packs super-block b of the 16 W rows into dst (K2_SB int32). */
KILN_QA void k2_pack(kiln_qp_ktype ty, const uint8_t *const rows[K2_NR], size_t bsz, int64_t b, int32_t *dst) {
    _Alignas(32) uint8_t q[K2_NR][KILN_QK_K];
    float *d = (float *)(dst + K2_D), *dmin = (float *)(dst + K2_DMIN);
    for (int j = 0; j < K2_NR; j++) {
        const uint8_t *blk = rows[j] + (size_t)b * bsz;
        kiln_qp_k_unpack(ty, blk, q[j]);
        if (k2_signed(ty)) /* IQ4_XS: value + 128 back to the value */
            for (int c = 0; c < KILN_QK_K; c += 32)
                _mm256_store_si256((__m256i *)&q[j][c], _mm256_xor_si256(_mm256_load_si256((const __m256i *)&q[j][c]),
                                                                         _mm256_set1_epi8((char)0x80)));
        kiln_qp_kscales s;
        kiln_qp_k_scales(ty, blk, &s);
        d[j] = s.d;
        dmin[j] = s.dmin;
        for (int g = 0; g < 16; g++) dst[K2_SC + g * K2_NR + j] = (int32_t)kiln_qp_pair16(s.sc[g], s.sc[g]);
        if (ty == KILN_QP_Q4_K || ty == KILN_QP_Q5_K) /* (mn_2p, mn_2p+1) against X's 32-element sums */
            for (int p = 0; p < 4; p++)
                dst[K2_PR + p * K2_NR + j] = (int32_t)((s.pair[2 * p] & 0xFFFF) | s.pair[2 * p + 1] << 16);
        else
            for (int p = 0; p < 8; p++) dst[K2_PR + p * K2_NR + j] = (int32_t)s.pair[p];
    }
    for (int h = 0; h < 2; h++)
        for (int c = 0; c < KILN_QK_K / 32; c++) k2_transpose8(&q[8 * h][32 * c], KILN_QK_K, dst + K2_Q + c * 8 * K2_NR + 8 * h);
}

/* k2_x4 broadcasts the four bytes (or two int16) at p to every int32 lane. */
KILN_QA __m256i k2_x4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* k2_tile: acc[r][lane][c0 + 8v] += the contributions of super-blocks kb0 ..
 * kb0+nsb-1 for X rows x[r] (r < MR) and the NV vectors of 8 outputs from
 * column c0 of the packed chunk pk. */
KILN_QA void k2_tile(kiln_qp_ktype ty, const int32_t *pk, int64_t kb0, int64_t nsb, const block_q8_K *const *x, float *acc,
                     const int MR, const int NV, const int c0) {
    const int groups = kiln_qp_groups16(ty) ? 16 : 8, quads = 64 / groups;
    const int flush = ty == KILN_QP_Q5_K ? 4 : ty == KILN_QP_Q6_K ? 2 : ty == KILN_QP_IQ4_XS ? 1 : quads;
    for (int64_t s = 0; s < nsb; s++) {
        const int32_t *pq = pk + s * K2_SB + c0;
        const int64_t b = kb0 + s;
        __m256i sum[K2_MR * 2][2], a[K2_MR * 2][2];
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) sum[r][v] = _mm256_setzero_si256();
        for (int g = 0; g < groups; g++) {
            for (int h = 0; h < quads; h += flush) {
#pragma GCC unroll 8
                for (int u = 0; u < flush; u++) {
                    const int qd = g * quads + h + u;
                    __m256i w[2], wa[2];
#pragma GCC unroll 2
                    for (int v = 0; v < NV; v++) {
                        w[v] = _mm256_load_si256((const __m256i *)(pq + K2_Q + qd * K2_NR + 8 * v));
                        if (k2_signed(ty)) wa[v] = _mm256_abs_epi8(w[v]);
                    }
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) {
                        const __m256i xb = k2_x4(x[r][b].qs + 4 * qd);
#pragma GCC unroll 2
                        for (int v = 0; v < NV; v++) {
                            const __m256i pv = k2_signed(ty) ? _mm256_maddubs_epi16(wa[v], _mm256_sign_epi8(xb, w[v]))
                                                             : _mm256_maddubs_epi16(w[v], xb);
                            a[r][v] = u == 0 ? pv : _mm256_add_epi16(a[r][v], pv);
                        }
                    }
                }
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++) {
                    const __m256i scv = _mm256_load_si256((const __m256i *)(pq + K2_SC + g * K2_NR + 8 * v));
#pragma GCC unroll 8
                    for (int r = 0; r < MR; r++) sum[r][v] = _mm256_add_epi32(sum[r][v], _mm256_madd_epi16(a[r][v], scv));
                }
            }
        }
        /* Σ_p pr_p · (X's sums pair p): the min sum or the offset's weight */
        if (k2_pairs(ty)) {
            int32_t xs32[K2_MR * 2][4]; /* Q4_K/Q5_K: X's 32-element sums, in int16 pairs */
            if (k2_pairs(ty) == 4)
                for (int r = 0; r < MR; r++)
                    _mm_storeu_si128((__m128i *)xs32[r], _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)x[r][b].bsums),
                                                                        _mm_loadu_si128((const __m128i *)(x[r][b].bsums + 8))));
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++) a[r][v] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int p = 0; p < 8; p++) {
                if (p == k2_pairs(ty)) break;
                __m256i pv[2];
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++) pv[v] = _mm256_load_si256((const __m256i *)(pq + K2_PR + p * K2_NR + 8 * v));
#pragma GCC unroll 8
                for (int r = 0; r < MR; r++) {
                    const __m256i xb = k2_pairs(ty) == 4 ? _mm256_set1_epi32(xs32[r][p]) : k2_x4(x[r][b].bsums + 2 * p);
#pragma GCC unroll 2
                    for (int v = 0; v < NV; v++) a[r][v] = _mm256_add_epi32(a[r][v], _mm256_madd_epi16(pv[v], xb));
                }
            }
        }
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            const __m256 dv = _mm256_load_ps((const float *)(pq + K2_D + 8 * v));
            const __m256 dmv = _mm256_load_ps((const float *)(pq + K2_DMIN + 8 * v));
#pragma GCC unroll 8
            for (int r = 0; r < MR; r++) {
                float *lane = acc + r * K2_ACC + (b % 8) * K2_NR + c0 + 8 * v;
                const __m256 dx = _mm256_set1_ps(x[r][b].d);
                __m256 f = _mm256_load_ps(lane);
                if (ty == KILN_QP_Q2_K || ty == KILN_QP_Q4_K || ty == KILN_QP_Q5_K) {
                    f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(dv, dx), _mm256_cvtepi32_ps(sum[r][v])));
                    f = _mm256_sub_ps(f, _mm256_mul_ps(_mm256_mul_ps(dmv, dx), _mm256_cvtepi32_ps(a[r][v])));
                } else {
                    __m256i sumi = sum[r][v];
                    if (ty == KILN_QP_Q3_K) sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(a[r][v], 2)); /* offset 4 */
                    if (ty == KILN_QP_Q6_K) sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(a[r][v], 5)); /* offset 32 */
                    f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(dv, dx), _mm256_cvtepi32_ps(sumi)));
                }
                _mm256_store_ps(lane, f);
            }
        }
    }
}

/* k2_store_rows writes y[i, j0 : j0+nvalid] for `rows` rows of accumulators
 * (K2_ACC floats each): the fixed sum of the eight lanes, output by output. */
KILN_QA void k2_store_rows(const float *acc, int64_t rows, float *y, int64_t ldy, int nvalid) {
    for (int64_t i = 0; i < rows; i++, acc += K2_ACC) {
        _Alignas(32) float out[K2_NR];
        for (int v = 0; v < K2_NR / 8; v++) {
            __m256 l[8];
            for (int t = 0; t < 8; t++) l[t] = _mm256_load_ps(acc + t * K2_NR + 8 * v);
            const __m256 s = kiln_qa_lanes_sum8(l);
            if (nvalid == K2_NR) _mm256_storeu_ps(y + i * ldy + 8 * v, s);
            else _mm256_store_ps(out + 8 * v, s);
        }
        if (nvalid < K2_NR) memcpy(y + i * ldy, out, sizeof(float) * (size_t)nvalid);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty, X Q8_K-quantized (p->xk).
KILN_QA void k2_gemm(kiln_qp_ktype ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    int32_t *pk = (int32_t *)scratch; /* 64-byte aligned */
    float *acc = (float *)(pk + (size_t)K2_KCB * K2_SB);
    const int64_t nbk = p->k / KILN_QK_K;
    const block_q8_K *xk = p->xk;
    for (int64_t j0 = n0; j0 < n1; j0 += K2_NR) {
        const int nvalid = n1 - j0 >= K2_NR ? K2_NR : (int)(n1 - j0);
        const uint8_t *rows[K2_NR]; /* rows past nvalid alias the last valid one (results never stored) */
        for (int l = 0; l < K2_NR; l++) rows[l] = (const uint8_t *)p->w + (size_t)(j0 + (l < nvalid ? l : nvalid - 1)) * p->wstride;
        for (int64_t mb0 = 0; mb0 < p->m; mb0 += K2_MB) {
            const int64_t mb1 = mb0 + K2_MB < p->m ? mb0 + K2_MB : p->m;
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * K2_ACC);
            for (int64_t kb0 = 0; kb0 < nbk; kb0 += K2_KCB) {
                const int64_t nsb = nbk - kb0 < K2_KCB ? nbk - kb0 : K2_KCB;
                for (int64_t s = 0; s < nsb; s++) k2_pack(ty, rows, bsz, kb0 + s, pk + s * K2_SB);
                for (int64_t i0 = mb0; i0 < mb1; i0 += K2_MR) {
                    const int64_t mr = mb1 - i0 < K2_MR ? mb1 - i0 : K2_MR;
                    const block_q8_K *x[K2_MR];
                    for (int r = 0; r < K2_MR; r++) x[r] = xk + (i0 + (r < mr ? r : 0)) * nbk;
                    float *a = acc + (i0 - mb0) * K2_ACC;
                    switch (mr) {
                    case 3: k2_tile(ty, pk, kb0, nsb, x, a, 3, 2, 0); break;
                    case 2: k2_tile(ty, pk, kb0, nsb, x, a, 2, 2, 0); break;
                    default: k2_tile(ty, pk, kb0, nsb, x, a, 1, 2, 0); break;
                    }
                }
            }
            k2_store_rows(acc, mb1 - mb0, p->y + mb0 * p->n + j0, p->n, nvalid);
        }
    }
}

#define K2_KERNEL(ty, TY, block)                                                                             \
    KILN_TARGET_AVX2 void kiln_mm_gemm_##ty##_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        k2_gemm(TY, sizeof(block), p, n0, n1, s);                                                            \
    }
K2_KERNEL(q2_K, KILN_QP_Q2_K, block_q2_K)
K2_KERNEL(q3_K, KILN_QP_Q3_K, block_q3_K)
K2_KERNEL(q4_K, KILN_QP_Q4_K, block_q4_K)
K2_KERNEL(q5_K, KILN_QP_Q5_K, block_q5_K)
K2_KERNEL(q6_K, KILN_QP_Q6_K, block_q6_K)
K2_KERNEL(iq4_xs, KILN_QP_IQ4_XS, block_iq4_xs)

/* K2_MIN_M: the GEMM from this many X rows on; below it the dot kernels
 * (four X rows per unpacked weight block) are as fast as packing a panel. */
#ifndef K2_MIN_M
#define K2_MIN_M 4
#endif

void kiln_quant_rows_k_mm_avx2(kiln_kernels *t) {
#define K2_ROW(TYPE, ty)                                                                     \
    do {                                                                                     \
        t->types[TYPE].gemm = kiln_mm_gemm_##ty##_avx2;                                      \
        t->types[TYPE].gemm_min_m = K2_MIN_M;                                                \
        t->types[TYPE].gemm_variant = "avx2 int8 16-column outer product (maddubs)";         \
    } while (0)
    K2_ROW(KILN_TYPE_Q2_K, q2_K);
    K2_ROW(KILN_TYPE_Q3_K, q3_K);
    K2_ROW(KILN_TYPE_Q4_K, q4_K);
    K2_ROW(KILN_TYPE_Q5_K, q5_K);
    K2_ROW(KILN_TYPE_Q6_K, q6_K);
    K2_ROW(KILN_TYPE_IQ4_XS, iq4_xs);
#undef K2_ROW
#define GV_ROW(TYPE, ty)                                                           \
    do {                                                                           \
        t->types[TYPE].gemv = kiln_mm_gemv_##ty##_avx2;                            \
        t->types[TYPE].gemv_variant = "avx2 8-row dot (maddubs, exact int32 sums)"; \
    } while (0)
    GV_ROW(KILN_TYPE_Q4_K, q4_K);
    GV_ROW(KILN_TYPE_Q5_K, q5_K);
    GV_ROW(KILN_TYPE_Q6_K, q6_K);
#undef GV_ROW
}

#else
typedef int kiln_quant_gemm_k_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
