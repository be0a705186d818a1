/* matmul_q4kr_avx512.c — AVX-512 VNNI GEMV over repacked Q4_K weights
 * (KILN_TYPE_Q4_K_R16, layout in matmul_q4kr.c): decode's matmul.
 *
 * Per-output arithmetic: the Q4_K rule of quant.h, exactly as the Q4_K dot,
 * GEMV and GEMM compute it: per super-block b the exact int32 sums
 * sumi = Σ sc·(quants·x) and summ = Σ m·(X's 32-element sums), then
 *     lane[b % 8] = (lane[b % 8] + (d·dx)·float(sumi)) − (dmin·dx)·float(summ)
 * and the fixed lane sum ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); so its bits
 * equal theirs on GGUF-layout weights (decode ≡ prefill).
 *
 * A super-block of a group is 32 quant vectors (lane j = 4 bytes of row j)
 * and one decode of the 16 rows' packed scales (three dword planes, a dozen
 * lane-wise operations). Per vector: AND 0x0F gives sub-block 2c's quants,
 * AND 0xF0 gives 16× sub-block 2c+1's, each meets its X quad (broadcast from
 * memory) in one VPDPBUSD per X row — no shift, no add tree. After a chunk
 * of 8 vectors each sub-block's int32 dot is multiplied by its scale lane
 * by lane (VPMULLD; 8 per super-block against 64 VPDPBUSD) and the odd
 * sub-blocks' sum is divided by 16 once, exactly (it is a multiple of 16:
 * |16·32·15·128·63·4| < 2^31). The min sums are 4 VPDPWSSD of the mins (as
 * int16 pairs, VPSHUFB from the decoded bytes) against X's 32-element sums.
 * Then the float steps of 16 outputs at once; up to 3 X rows share every
 * loaded W vector, and each X quad loaded serves two groups.
 *
 * Memory: a call's groups are walked as two runs read side by side
 * (r16_streams.h), super-block by super-block, each loaded vector of one
 * run's group next to the same vector of the other's, so a core reads two
 * sequential streams some groups apart where it read one. Each group is
 * still read once, front to back; on Intel each line loaded also
 * prefetches one further on (r16_prefetch.h). Why: on the Xeon one core's
 * single stream is capped below what the core can draw (a plain read of
 * the same bytes, 8192x2048 from DRAM, 1 thread: 13.8 GB/s as one stream,
 * 15.7 as two, 16.2 as eight), and the GEMV's time is the stream's: two
 * adjacent groups side by side measured 12.2 -> 13.6 GB/s at m = 1, 11.1 ->
 * 13.3 at m = 2, 10.6 -> 12.0 at m = 3 (same run, alternating calls); the
 * runs of the walk, far apart instead of adjacent, 14.5 -> 15.4 GB/s at
 * 128256x2048 and 14.1 -> 14.5 at 8192x2048 (1 thread, weights on huge
 * pages as a model holds them, medians of 4 alternating runs; the two
 * groups' super-blocks one after the other instead of vector by vector:
 * 13.3-13.6, slower). With adjacent pairs the same loads without the
 * arithmetic (wrong results) read 15.3 GB/s where the kernel read 14.5:
 * the access pattern costs as much as the arithmetic. */

#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_pack_avx512.h"
#include "kr16_scales.h"
#include "r16_prefetch.h"
#include "r16_streams.h"

enum {
    Q4KR_MAXR = 3,  /* X rows per tile */
    Q4KR_MAXG = KILN_R16_STREAMS, /* groups (W streams) read side by side */
    Q4KR_ROWS = 16, /* W rows per group */
};

/* xquad is X's 4 quants at qs + off, broadcast to every lane. */
#define Q4KR_XQUAD(qs, off) _mm512_set1_epi32(*(const int32_t *)((qs) + (off)))

// lanes[g][r] (8 float lanes × 16 outputs) += super-block b of groups g < G (sb[g]) for X rows x[0..MR-1].
KILN_TARGET_AVX512VNNI KILN_INLINE void q4kr_superblock(const uint8_t *const sb[Q4KR_MAXG], const block_q8_K *const x[Q4KR_MAXR],
                                                       __m512 *lanes[Q4KR_MAXG][Q4KR_MAXR], const int MR, const int G,
                                                       const int PF) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), high4 = _mm512_set1_epi8((char)0xF0);
    __m512i sc[Q4KR_MAXG][2], mn[Q4KR_MAXG][2];
    for (int g = 0; g < G; g++) {
        for (int l = 0; l < 4; l++) KILN_R16_PREFETCH(sb[g] + 64 * l, PF);
        kiln_kr16_decode_avx512(sb[g] + KILN_Q4KR_SCALES, sc[g], mn[g]);
    }
    /* Σ sc·dot of the even sub-blocks; of the odd ones, ×16 */
    __m512i even[Q4KR_MAXG][Q4KR_MAXR], odd[Q4KR_MAXG][Q4KR_MAXR];
    for (int g = 0; g < G; g++)
        for (int r = 0; r < MR; r++) even[g][r] = odd[g][r] = _mm512_setzero_si512();
    #pragma GCC unroll 4 /* constant shuffle controls and offsets */
    for (int c = 0; c < 4; c++) { /* chunk c: sub-blocks 2c (low nibbles) and 2c+1 (high) */
        __m512i lo[Q4KR_MAXG][Q4KR_MAXR], hi[Q4KR_MAXG][Q4KR_MAXR];
        for (int g = 0; g < G; g++)
            for (int r = 0; r < MR; r++) lo[g][r] = hi[g][r] = _mm512_setzero_si512();
        #pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            __m512i wl[Q4KR_MAXG], wh[Q4KR_MAXG];
            for (int g = 0; g < G; g++) {
                const __m512i *q = (const __m512i *)(sb[g] + KILN_Q4KR_QUANTS + 512 * c) + u;
                KILN_R16_PREFETCH(q, PF);
                const __m512i w = _mm512_loadu_si512(q);
                wl[g] = _mm512_and_si512(w, low4);
                wh[g] = _mm512_and_si512(w, high4);
            }
            for (int r = 0; r < MR; r++) { /* each X quad meets both groups */
                const __m512i xl = Q4KR_XQUAD(x[r]->qs, 64 * c + 4 * u), xh = Q4KR_XQUAD(x[r]->qs, 64 * c + 32 + 4 * u);
                for (int g = 0; g < G; g++) {
                    lo[g][r] = _mm512_dpbusd_epi32(lo[g][r], wl[g], xl);
                    hi[g][r] = _mm512_dpbusd_epi32(hi[g][r], wh[g], xh);
                }
            }
        }
        for (int g = 0; g < G; g++) {
            const __m512i s = sc[g][c / 2];
            const __m512i se = _mm512_shuffle_epi8(s, KILN_KR16_BYTE_CTL((2 * c) % 4)),
                          so = _mm512_shuffle_epi8(s, KILN_KR16_BYTE_CTL((2 * c + 1) % 4));
            for (int r = 0; r < MR; r++) {
                even[g][r] = _mm512_add_epi32(even[g][r], _mm512_mullo_epi32(lo[g][r], se));
                odd[g][r] = _mm512_add_epi32(odd[g][r], _mm512_mullo_epi32(hi[g][r], so));
            }
        }
    }
    __m512i pairs[Q4KR_MAXR]; /* X's 32-element sums 0..7 as int16, in every 128-bit lane */
    for (int r = 0; r < MR; r++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)x[r]->bsums);
        pairs[r] = _mm512_broadcast_i32x4(_mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
    }
    for (int g = 0; g < G; g++) {
        __m512i mp[4]; /* mins of sub-blocks 2t, 2t+1 as int16 pairs */
        for (int t = 0; t < 4; t++)
            mp[t] = _mm512_shuffle_epi8(mn[g][t / 2], t % 2 ? KILN_KR16_PAIR_CTL(1) : KILN_KR16_PAIR_CTL(0));
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sb[g]));
        const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sb[g] + 32)));
        for (int r = 0; r < MR; r++) {
            __m512i summ = _mm512_setzero_si512();
            summ = _mm512_dpwssd_epi32(summ, mp[0], _mm512_shuffle_epi32(pairs[r], (_MM_PERM_ENUM)0x00));
            summ = _mm512_dpwssd_epi32(summ, mp[1], _mm512_shuffle_epi32(pairs[r], (_MM_PERM_ENUM)0x55));
            summ = _mm512_dpwssd_epi32(summ, mp[2], _mm512_shuffle_epi32(pairs[r], (_MM_PERM_ENUM)0xAA));
            summ = _mm512_dpwssd_epi32(summ, mp[3], _mm512_shuffle_epi32(pairs[r], (_MM_PERM_ENUM)0xFF));
            const __m512i sumi = _mm512_add_epi32(even[g][r], _mm512_srai_epi32(odd[g][r], 4));
            const __m512 dx = _mm512_set1_ps(x[r]->d);
            __m512 f = _mm512_add_ps(*lanes[g][r], _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi)));
            *lanes[g][r] = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmw, dx), _mm512_cvtepi32_ps(summ)));
        }
    }
}

// y[i0:i0+MR, j0[g]:j0[g]+16] for one tile of X rows and G groups.
KILN_TARGET_AVX512VNNI KILN_INLINE void q4kr_groups(const kiln_mm *p, int64_t i0, const int64_t *j0, const int MR, const int G,
                                                    const int PF) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nbk * KILN_Q4KR_SB_BYTES;
    __m512 acc[Q4KR_MAXG][Q4KR_MAXR][8];
    for (int g = 0; g < G; g++)
        for (int r = 0; r < MR; r++)
            for (int l = 0; l < 8; l++) acc[g][r][l] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nbk; b++) {
        const block_q8_K *x[Q4KR_MAXR];
        const uint8_t *sb[Q4KR_MAXG];
        __m512 *lanes[Q4KR_MAXG][Q4KR_MAXR];
        for (int r = 0; r < MR; r++) x[r] = (const block_q8_K *)p->xk + (i0 + r) * nbk + b;
        for (int g = 0; g < G; g++) {
            sb[g] = (const uint8_t *)p->w + (size_t)(j0[g] / Q4KR_ROWS) * gbytes + (size_t)b * KILN_Q4KR_SB_BYTES;
            for (int r = 0; r < MR; r++) lanes[g][r] = &acc[g][r][b % 8];
        }
        q4kr_superblock(sb, x, lanes, MR, G, PF);
    }
    for (int g = 0; g < G; g++)
        for (int r = 0; r < MR; r++)
            _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0[g], kiln_qp_lanes_sum16(acc[g][r]));
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16. The groups
// are walked as two runs read side by side (r16_streams.h, the header).
KILN_TARGET_AVX512VNNI KILN_INLINE void q4kr_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR,
                                                  const int PF) {
    const kiln_r16_walk walk = kiln_r16_walk_of(n0, n1);
    int64_t j0[KILN_R16_STREAMS];
    for (int64_t step = 0; step < walk.steps; step++) {
        if (kiln_r16_walk_step(&walk, step, j0) == 2) q4kr_groups(p, i0, j0, MR, 2, PF);
        else q4kr_groups(p, i0, j0, MR, 1, PF);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q4_K_R16 (n0, n1 multiples of 16), X as Q8_K (p->xk).
KILN_TARGET_AVX512VNNI KILN_INLINE void q4kr_gemv(const kiln_mm *p, int64_t n0, int64_t n1, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) q4kr_rows(p, i0, n0, n1, 3, PF);
    if (p->m - i0 == 2) q4kr_rows(p, i0, n0, n1, 2, PF);
    else if (p->m - i0 == 1) q4kr_rows(p, i0, n0, n1, 1, PF);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q4kr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    if (kiln_r16_prefetch_wanted()) q4kr_gemv(p, n0, n1, 1);
    else q4kr_gemv(p, n0, n1, 0);
}

#else
typedef int kiln_matmul_q4kr_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
