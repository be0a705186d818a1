/* matmul_q6r_avx512.c — AVX-512 VNNI GEMV over repacked Q6_K weights
 * (KILN_TYPE_Q6_K_R16, layout in matmul_q6r.c): decode's matmul.
 *
 * Per-output arithmetic: the Q6_K rule of quant.h, exactly as the Q6_K dot,
 * GEMV and GEMM compute it: per super-block b the exact int32
 *     sumi = Σ_t sc_t · Σ_{e in sub-block t} q_e · x_e      (q = u - 32)
 * then lane[b % 8] = lane[b % 8] + (d_w · d_x) · float(sumi), lanes from +0,
 * result ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) — here for 16 outputs at
 * once, lane for lane.
 *
 * One step is one sub-block (16 elements) of a 16-row group: its three
 * 64-byte vectors give the four quad vectors (lane j = 4 quants of row j as
 * u8 0..63) with three ANDs and, for the fourth, three shifts, two VPTERNLOG
 * selects and an AND. Each meets its X quad, broadcast from memory, in one
 * VPDPBUSD into an accumulator that starts at −32·Σx of the sub-block (from
 * X's Q8_K bsums, computed once per call), so it ends at Σ q·x exactly;
 * one VPMULLD by the 16 rows' int8 scales (sign-extended) adds it to the
 * super-block's sum. No add tree, no transposes: lane j is row j
 * throughout. |sumi| <= 16 · 128 · 16·32·128 < 2^31.
 *
 * Memory: a group is read once, front to back (53 lines per super-block).
 * A call's groups are read as two streams side by side: the first and the
 * second half of its groups, a group of each at a time, their sub-blocks
 * alternating (each group into its own sums, so the arithmetic is that of
 * one group alone). On the Xeon, 1 thread, this measured 13-23% faster
 * from DRAM than one stream (the hardware prefetchers keep more lines in
 * flight for two streams; three or four streams, or switching every
 * super-block or every 4 or 8 sub-blocks, measured no better), and ~10%
 * faster in L2 (two independent sum chains). On Intel each line loaded
 * also prefetches one further on (r16_prefetch.h). Up to 3 X rows
 * share each unpacked quad vector. */
#include "../../quant.h"
#include "../../repack.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_pack_avx512.h"
#include "r16_prefetch.h"
#include "r16_streams.h"

enum {
    Q6R_MAXR = 3,      /* X rows per tile */
    XC_SB = 512,       /* super-blocks of −32·bsums kept per X row and call (k up to 131072 computed once) */
    Q6R_STREAMS = KILN_R16_STREAMS, /* runs of groups read side by side (q6r_rows; q6r_superblock takes 1 or 2) */
};

/* xc_fill writes −32 · bsums of super-blocks [s0, s1) of X row x (16 int32 each) into xc. */
KILN_TARGET_AVX512VNNI static void xc_fill(const block_q8_K *x, int64_t s0, int64_t s1, int32_t *xc) {
    for (int64_t s = s0; s < s1; s++) {
        const __m512i b = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)x[s].bsums));
        _mm512_storeu_si512(xc + (s - s0) * 16, _mm512_mullo_epi32(b, _mm512_set1_epi32(-32)));
    }
}

/* q6r_quads: the four quad vectors of one sub-block (v: its three vectors). */
KILN_TARGET_AVX512VNNI KILN_INLINE void q6r_quads(const __m512i *v, __m512i u[4], const int PF) {
    const __m512i m6 = _mm512_set1_epi8(0x3F), sel2 = _mm512_set1_epi8(0x03), sel4 = _mm512_set1_epi8(0x0F);
    KILN_R16_PREFETCH(v, PF);
    KILN_R16_PREFETCH(v + 1, PF);
    KILN_R16_PREFETCH(v + 2, PF);
    const __m512i v0 = _mm512_loadu_si512(v), v1 = _mm512_loadu_si512(v + 1), v2 = _mm512_loadu_si512(v + 2);
    u[0] = _mm512_and_si512(v0, m6);
    u[1] = _mm512_and_si512(v1, m6);
    u[2] = _mm512_and_si512(v2, m6);
    /* bits 6-7 of v0, v1, v2 to bits 0-1, 2-3, 4-5: 16-bit shifts, then per-bit selects
     * (0xE4: c ? a : b) keep each field from its own shift; the AND drops the neighbours' bits */
    const __m512i t = _mm512_ternarylogic_epi32(_mm512_srli_epi16(v0, 6), _mm512_srli_epi16(v1, 4), sel2, 0xE4);
    u[3] = _mm512_and_si512(_mm512_ternarylogic_epi32(t, _mm512_srli_epi16(v2, 2), sel4, 0xE4), m6);
}

// lane[q][r][s % 8] (8 float lanes of 16 outputs each) += super-block s (at sb[q]) of group q
// for X rows xk[r], q < NQ; xcs[r * XC_SB * 16 + t]: −32·bsums of sub-block t of super-block s
// of row r. With NQ = 2 the two groups' sub-blocks alternate: two streams, two sum chains.
KILN_TARGET_AVX512VNNI KILN_INLINE void q6r_superblock(const block_q8_K *const *xk, const uint8_t *const *sb, int64_t s,
                                                       const int32_t *xcs, float lane[][Q6R_MAXR][8][16], const int NQ,
                                                       const int MR, const int PF) {
    __m512i sum[Q6R_STREAMS][Q6R_MAXR];
    for (int q = 0; q < NQ; q++)
        for (int r = 0; r < MR; r++) sum[q][r] = _mm512_setzero_si512();
    for (int t = 0; t < 16; t++)
        for (int q = 0; q < NQ; q++) {
            __m512i u[4];
            if (t % 4 == 0) KILN_R16_PREFETCH(sb[q] + KILN_Q6R_SCALES(t), PF);
            q6r_quads((const __m512i *)(sb[q] + KILN_Q6R_QUANTS(t)), u, PF);
            const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(sb[q] + KILN_Q6R_SCALES(t))));
            for (int r = 0; r < MR; r++) {
                const int32_t *xq = (const int32_t *)(xk[r][s].qs + 16 * t);
                __m512i a = _mm512_set1_epi32(xcs[r * XC_SB * 16 + t]);
                a = _mm512_dpbusd_epi32(a, u[0], _mm512_set1_epi32(xq[0]));
                a = _mm512_dpbusd_epi32(a, u[1], _mm512_set1_epi32(xq[1]));
                a = _mm512_dpbusd_epi32(a, u[2], _mm512_set1_epi32(xq[2]));
                a = _mm512_dpbusd_epi32(a, u[3], _mm512_set1_epi32(xq[3]));
                sum[q][r] = _mm512_add_epi32(sum[q][r], _mm512_mullo_epi32(a, sc));
            }
        }
    for (int q = 0; q < NQ; q++) {
        KILN_R16_PREFETCH(sb[q] + KILN_Q6R_D, PF);
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sb[q] + KILN_Q6R_D)));
        for (int r = 0; r < MR; r++) {
            float *l = lane[q][r][s % 8];
            const __m512 c =
                _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(xk[r][s].d)), _mm512_cvtepi32_ps(sum[q][r]));
            _mm512_store_ps(l, _mm512_add_ps(_mm512_load_ps(l), c));
        }
    }
}

// y[i0 + r, j0:j0+16] = the fixed sum of lane[r]'s 8 float lanes, r < MR.
KILN_TARGET_AVX512VNNI KILN_INLINE void q6r_store(const kiln_mm *p, int64_t i0, int64_t j0, float lane[][8][16],
                                                  const int MR) {
    for (int r = 0; r < MR; r++) {
        __m512 l[8];
        for (int i = 0; i < 8; i++) l[i] = _mm512_load_ps(lane[r][i]);
        _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0, kiln_qp_lanes_sum16(l));
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16. The groups of [n0, n1) are
// split into Q6R_STREAMS runs of consecutive groups, and the runs are walked side by side (a
// group of each at a time, their sub-blocks alternating): two sequential streams far apart.
KILN_TARGET_AVX512VNNI KILN_INLINE void q6r_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, int32_t *xc,
                                                 const int MR, const int PF) {
    const int64_t nb = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nb * KILN_Q6R_SB_BYTES;
    const block_q8_K *xk[Q6R_MAXR];
    for (int r = 0; r < MR; r++) xk[r] = (const block_q8_K *)p->xk + (i0 + r) * nb;
    const int once = nb <= XC_SB; /* else recomputed per step of the runs and k chunk */
    if (once)
        for (int r = 0; r < MR; r++) xc_fill(xk[r], 0, nb, xc + r * XC_SB * 16);
    const kiln_r16_walk walk = kiln_r16_walk_of(n0, n1);
    for (int64_t g = 0; g < walk.steps; g++) {
        int64_t j0[Q6R_STREAMS];
        const int streams = kiln_r16_walk_step(&walk, g, j0);
        const uint8_t *grp[Q6R_STREAMS];
        for (int q = 0; q < streams; q++) grp[q] = (const uint8_t *)p->w + (size_t)(j0[q] / KILN_R16_ROWS) * gbytes;
        _Alignas(64) float lane[Q6R_STREAMS][Q6R_MAXR][8][16];
        memset(lane, 0, sizeof lane);
        for (int64_t s0 = 0; s0 < nb; s0 += XC_SB) {
            const int64_t s1 = s0 + XC_SB < nb ? s0 + XC_SB : nb;
            if (!once)
                for (int r = 0; r < MR; r++) xc_fill(xk[r], s0, s1, xc + r * XC_SB * 16);
            for (int64_t s = s0; s < s1; s++) {
                const uint8_t *sb[Q6R_STREAMS];
                for (int q = 0; q < streams; q++) sb[q] = grp[q] + (size_t)s * KILN_Q6R_SB_BYTES;
                if (streams == 2) q6r_superblock(xk, sb, s, xc + (s - s0) * 16, lane, 2, MR, PF);
                else q6r_superblock(xk, sb, s, xc + (s - s0) * 16, lane, 1, MR, PF);
            }
        }
        for (int q = 0; q < streams; q++) q6r_store(p, i0, j0[q], lane[q], MR);
    }
}

KILN_TARGET_AVX512VNNI KILN_INLINE void q6r_gemv(const kiln_mm *p, int64_t n0, int64_t n1, int32_t *xc, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) q6r_rows(p, i0, n0, n1, xc, 3, PF);
    if (p->m - i0 == 2) q6r_rows(p, i0, n0, n1, xc, 2, PF);
    else if (p->m - i0 == 1) q6r_rows(p, i0, n0, n1, xc, 1, PF);
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q6_K_R16 (n0, n1 multiples of 16), X Q8_K (p->xk).
KILN_TARGET_AVX512VNNI void kiln_mm_q6r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    _Static_assert(Q6R_MAXR * XC_SB * 16 <= KILN_MM_SCRATCH_FLOATS, "the X corrections fit the kernel scratch");
    int32_t *xc = (int32_t *)scratch;
    if (kiln_r16_prefetch_wanted()) q6r_gemv(p, n0, n1, xc, 1);
    else q6r_gemv(p, n0, n1, xc, 0);
}

#else
typedef int kiln_matmul_q6r_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
