/* matmul_q6r_avx2.c — AVX2 GEMV over repacked Q6_K weights
 * (KILN_TYPE_Q6_K_R16, layout in matmul_q6r.c), for CPUs without AVX-512
 * VNNI: only AVX2, FMA and F16C instructions.
 *
 * Per-output arithmetic: the Q6_K rule of quant.h (see matmul_q6r_avx512.c):
 * per super-block b the exact int32 sumi, then lane[b % 8] = lane[b % 8] +
 * (d_w · d_x) · float(sumi), the fixed lane sum at the end.
 *
 * Each 64-byte vector of a sub-block holds rows 0-7 in its low 32 bytes and
 * rows 8-15 in its high 32, one row per 32-bit lane. Per half and sub-block:
 * the four quad vectors (u8 0..63: three ANDs; the fourth from the three
 * top-bit pairs, shifted into place without crossing bytes because the
 * masked-off bits below them are zero), VPMADDUBSW against the broadcast X
 * quads (pairs u·x within ±16128, two quads' pairs summed in int16 within
 * ±32256: exact), VPMADDWD by ones to the lane's int32, plus −32·Σx of the
 * sub-block (X's Q8_K bsums, computed once per call), times the rows' scales (VPMULLD): lane j adds
 * row j's exact sc·Σ q·x, no horizontal sums. Up to 2 X rows share each
 * unpacked quad vector; the group is read front to back as one stream. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include "r16_prefetch.h"

enum {
    Q6R2_MAXR = 2, /* X rows per tile */
    XC_SB = 512,   /* super-blocks of −32·bsums kept per X row and call (k up to 131072 computed once) */
};

/* Q6R2_ADD32(acc, v): acc += v in int32 lanes, as one VPADDD the optimiser
 * cannot see into. With the sub-block loop unrolled, plain intrinsics let
 * GCC reassociate the running sums into trees, compute every sub-block's
 * products first and spill them to the stack; one chain keeps them in
 * registers. */
#define Q6R2_ADD32(acc, v) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(v))

/* xc_fill writes −32 · bsums of super-blocks [s0, s1) of X row x (16 int32 each) into xc. */
KILN_TARGET_AVX2 static void xc_fill(const block_q8_K *x, int64_t s0, int64_t s1, int32_t *xc) {
    for (int64_t s = s0; s < s1; s++)
        for (int h = 0; h < 2; h++) {
            const __m256i b = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(x[s].bsums + 8 * h)));
            _mm256_storeu_si256((__m256i *)(xc + (s - s0) * 16 + 8 * h), _mm256_slli_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), b), 5));
        }
}

// sum[r][h] += exact Σ_t sc_t · Σ q·x over the 16 sub-blocks of rows 8h..8h+7 of super-block sb.
// xc[r * XC_SB * 16 + t]: −32·bsums[t] of the super-block for X row r.
// Sub-block outer, half inner: both halves use one broadcast of each X quad,
// and the loop is unrolled so that every offset is a constant.
KILN_TARGET_AVX2 KILN_INLINE void q6r2_superblock(const uint8_t *sb, const block_q8_K *const *x, const int32_t *xc,
                                                  __m256i sum[][2], const int MR, const int PF) {
    const __m256i m6 = _mm256_set1_epi8(0x3F), ones = _mm256_set1_epi16(1);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        if (t % 4 == 0) KILN_R16_PREFETCH(sb + KILN_Q6R_SCALES(t), PF);
        if (t == 15) KILN_R16_PREFETCH(sb + KILN_Q6R_D, PF);
        __m256i xq[Q6R2_MAXR][4], xcor[Q6R2_MAXR];
        for (int r = 0; r < MR; r++) {
            const int32_t *q = (const int32_t *)(x[r]->qs + 16 * t);
            for (int e = 0; e < 4; e++) xq[r][e] = _mm256_set1_epi32(q[e]);
            xcor[r] = _mm256_set1_epi32(xc[r * XC_SB * 16 + t]);
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *v = sb + KILN_Q6R_QUANTS(t) + 32 * h;
            if (h == 0) {
                KILN_R16_PREFETCH(v, PF);
                KILN_R16_PREFETCH(v + 64, PF);
                KILN_R16_PREFETCH(v + 128, PF);
            }
            const __m256i v0 = _mm256_loadu_si256((const __m256i *)v);
            const __m256i v1 = _mm256_loadu_si256((const __m256i *)(v + 64));
            const __m256i v2 = _mm256_loadu_si256((const __m256i *)(v + 128));
            __m256i u[4];
            u[0] = _mm256_and_si256(v0, m6);
            u[1] = _mm256_and_si256(v1, m6);
            u[2] = _mm256_and_si256(v2, m6);
            /* top pairs (bits 0-5 below them zero): ((hi0 >> 2 | hi1) >> 2 | hi2) >> 2 in 16-bit
             * lanes puts them at bits 0-1, 2-3, 4-5 of their own byte, nothing crossing in */
            const __m256i h0 = _mm256_andnot_si256(m6, v0), h1 = _mm256_andnot_si256(m6, v1), h2 = _mm256_andnot_si256(m6, v2);
            u[3] = _mm256_srli_epi16(_mm256_or_si256(_mm256_srli_epi16(_mm256_or_si256(_mm256_srli_epi16(h0, 2), h1), 2), h2), 2);
            const __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(sb + KILN_Q6R_SCALES(t) + 8 * h)));
            for (int r = 0; r < MR; r++) {
                const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(u[0], xq[r][0]), _mm256_maddubs_epi16(u[1], xq[r][1]));
                const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(u[2], xq[r][2]), _mm256_maddubs_epi16(u[3], xq[r][3]));
                __m256i a = _mm256_add_epi32(_mm256_madd_epi16(p01, ones), _mm256_madd_epi16(p23, ones));
                a = _mm256_add_epi32(a, xcor[r]);
                Q6R2_ADD32(sum[r][h], _mm256_mullo_epi32(a, sc));
            }
        }
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16.
KILN_TARGET_AVX2 KILN_INLINE void q6r2_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, int32_t *xc,
                                            const int MR, const int PF) {
    const int64_t nb = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nb * KILN_Q6R_SB_BYTES;
    const block_q8_K *xk[Q6R2_MAXR];
    for (int r = 0; r < MR; r++) xk[r] = (const block_q8_K *)p->xk + (i0 + r) * nb;
    const int once = nb <= XC_SB; /* else recomputed per group and k chunk */
    if (once)
        for (int r = 0; r < MR; r++) xc_fill(xk[r], 0, nb, xc + r * XC_SB * 16);
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_R16_ROWS) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / KILN_R16_ROWS) * gbytes;
        _Alignas(32) float lane[Q6R2_MAXR][8][16];
        memset(lane, 0, sizeof lane);
        for (int64_t s = 0; s < nb; s++) {
            if (!once && s % XC_SB == 0)
                for (int r = 0; r < MR; r++) xc_fill(xk[r], s, s + XC_SB < nb ? s + XC_SB : nb, xc + r * XC_SB * 16);
            const uint8_t *sb = grp + (size_t)s * KILN_Q6R_SB_BYTES;
            const block_q8_K *x[Q6R2_MAXR];
            for (int r = 0; r < MR; r++) x[r] = xk[r] + s;
            __m256i sum[Q6R2_MAXR][2];
            for (int r = 0; r < MR; r++) sum[r][0] = sum[r][1] = _mm256_setzero_si256();
            q6r2_superblock(sb, x, xc + (s % XC_SB) * 16, sum, MR, PF);
            for (int h = 0; h < 2; h++) {
                const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + KILN_Q6R_D + 16 * h)));
                for (int r = 0; r < MR; r++) {
                    float *l = lane[r][s % 8] + 8 * h;
                    const __m256 c = _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(x[r]->d)), _mm256_cvtepi32_ps(sum[r][h]));
                    _mm256_store_ps(l, _mm256_add_ps(_mm256_load_ps(l), c));
                }
            }
        }
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                __m256 l[8];
                for (int i = 0; i < 8; i++) l[i] = _mm256_load_ps(lane[r][i] + 8 * h);
                const __m256 even = _mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6]));
                const __m256 odd = _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7]));
                _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0 + 8 * h, _mm256_add_ps(even, odd));
            }
    }
}

KILN_TARGET_AVX2 KILN_INLINE void q6r2_gemv(const kiln_mm *p, int64_t n0, int64_t n1, int32_t *xc, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 2 <= p->m; i0 += 2) q6r2_rows(p, i0, n0, n1, xc, 2, PF);
    if (i0 < p->m) q6r2_rows(p, i0, n0, n1, xc, 1, PF);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q6_K_R16 (n0, n1 multiples of 16), X Q8_K (p->xk).
KILN_TARGET_AVX2 void kiln_mm_q6r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    _Static_assert(Q6R2_MAXR * XC_SB * 16 <= KILN_MM_SCRATCH_FLOATS, "the X corrections fit the kernel scratch");
    int32_t *xc = (int32_t *)scratch;
    if (kiln_r16_prefetch_wanted()) q6r2_gemv(p, n0, n1, xc, 1);
    else q6r2_gemv(p, n0, n1, xc, 0);
}

#else
typedef int kiln_matmul_q6r_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
