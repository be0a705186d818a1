/* matmul_q5kr_avx512.c — AVX-512 VNNI GEMV over repacked Q5_K weights
 * (KILN_TYPE_Q5_K_R16, layout in matmul_q5kr.c): decode's matmul.
 *
 * Per-output arithmetic: the Q5_K rule of quant.h, exactly as the Q5_K dot,
 * GEMV and GEMM compute it: per super-block b the exact int32 sums
 * sumi = Σ sc·(quants·x) and summ = Σ m·(X's 32-element sums), then
 *     lane[b % 8] = (lane[b % 8] + (d·dx)·float(sumi)) − (dmin·dx)·float(summ)
 * and the fixed lane sum ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); so its bits
 * equal theirs on GGUF-layout weights (decode ≡ prefill).
 *
 * A super-block of a group is 8 fifth-bit vectors and 32 quant vectors
 * (lane j = 4 bytes of row j). Per quant vector of chunk c: AND 0x0F gives
 * sub-block 2c's nibbles, a shift and AND the high nibbles (sub-block
 * 2c+1); the fifth bits come from the matching fifth-bit vector (the same
 * 64 bytes for every chunk, so from L1 after the first) shifted to bit 4
 * and ORed in by one VPTERNLOGD. Each 5-bit vector meets its X quad
 * (broadcast from memory) in one VPDPBUSD per X row. After a chunk each
 * sub-block's int32 dot is multiplied by its scale lane by lane (VPMULLD);
 * the 6-bit scales and mins are decoded for 16 rows at once as in
 * Q4_K_R16 (matmul_q4kr_avx512.c), the min sums are 4 VPDPWSSD. Bounds:
 * a sub-block's dot is at most 32·31·128 < 2^17, times a scale of at most
 * 63 and 8 sub-blocks < 2^26: exact. Up to 3 X rows share every loaded W
 * vector.
 *
 * Memory: a group is read once, front to back, one sequential stream; on
 * Intel each line loaded also prefetches one further on (r16_prefetch.h).
 * Two streams (r16_streams.h) measured on the Xeon, m = 1, old and new
 * alternated: from DRAM 1 thread 8192x2048 10.7-11.3 -> 10.7 GB/s,
 * 2048x8192 9.9-10.3 -> 10.7; 2 threads 19.3 -> 21.4; but in L2
 * (512x2048, 1 thread) 44.3 -> 36.9: not taken. */
#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_pack_avx512.h"
#include "kr16_scales.h"
#include "r16_prefetch.h"

enum { Q5KR_MAXR = 3, Q5KR_ROWS = 16 /* W rows per group */ };

/* q5kr_bit4 moves bit `bit` of every byte of h to bit 4 (other bits: any;
 * the caller keeps bit 4 only). 16-bit shifts: what crosses a byte border
 * never lands on bit 4. */
KILN_TARGET_AVX512VNNI KILN_INLINE __m512i q5kr_bit4(__m512i h, const int bit) {
    return bit <= 4 ? _mm512_slli_epi16(h, (unsigned)(4 - bit)) : _mm512_srli_epi16(h, (unsigned)(bit - 4));
}

/* q5kr_with_bit4 is a | (b & 0x10) (VPTERNLOGD 0xF8: A | (B & C)). */
#define Q5KR_WITH_BIT4(a, b) _mm512_ternarylogic_epi32((a), (b), _mm512_set1_epi8(0x10), 0xF8)

/* xquad is X's 4 quants at qs + off, broadcast to every lane. */
#define Q5KR_XQUAD(qs, off) _mm512_set1_epi32(*(const int32_t *)((qs) + (off)))

// lanes[r] (8 float lanes × 16 outputs) += super-block b of one group for X rows x[0..MR-1].
KILN_TARGET_AVX512VNNI KILN_INLINE void q5kr_superblock(const uint8_t *sb, const block_q8_K *const x[Q5KR_MAXR],
                                                       __m512 *lanes[Q5KR_MAXR], const int MR, const int PF) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int l = 0; l < KILN_Q5KR_QUANTS / 64; l++) KILN_R16_PREFETCH(sb + 64 * l, PF); /* scales and fifth bits */
    __m512i sc[2], mn[2];
    kiln_kr16_decode_avx512(sb + KILN_Q5KR_SCALES, sc, mn);
    __m512i sumi[Q5KR_MAXR];
    for (int r = 0; r < MR; r++) sumi[r] = _mm512_setzero_si512();
    #pragma GCC unroll 4 /* constant shifts, shuffle controls and offsets */
    for (int c = 0; c < 4; c++) { /* chunk c: sub-blocks 2c (low nibbles, qh bit 2c) and 2c+1 (high, bit 2c+1) */
        const __m512i *q = (const __m512i *)(sb + KILN_Q5KR_QUANTS + 512 * c);
        const __m512i *qh = (const __m512i *)(sb + KILN_Q5KR_QH);
        __m512i lo[Q5KR_MAXR], hi[Q5KR_MAXR];
        for (int r = 0; r < MR; r++) lo[r] = hi[r] = _mm512_setzero_si512();
        #pragma GCC unroll 8
        for (int u = 0; u < 8; u++) {
            KILN_R16_PREFETCH(q + u, PF);
            const __m512i w = _mm512_loadu_si512(q + u), h = _mm512_loadu_si512(qh + u);
            const __m512i wl = Q5KR_WITH_BIT4(_mm512_and_si512(w, low4), q5kr_bit4(h, 2 * c));
            const __m512i wh = Q5KR_WITH_BIT4(_mm512_and_si512(_mm512_srli_epi16(w, 4), low4), q5kr_bit4(h, 2 * c + 1));
            for (int r = 0; r < MR; r++) {
                lo[r] = _mm512_dpbusd_epi32(lo[r], wl, Q5KR_XQUAD(x[r]->qs, 64 * c + 4 * u));
                hi[r] = _mm512_dpbusd_epi32(hi[r], wh, Q5KR_XQUAD(x[r]->qs, 64 * c + 32 + 4 * u));
            }
        }
        const __m512i s = sc[c / 2];
        const __m512i se = _mm512_shuffle_epi8(s, KILN_KR16_BYTE_CTL((2 * c) % 4)),
                      so = _mm512_shuffle_epi8(s, KILN_KR16_BYTE_CTL((2 * c + 1) % 4));
        for (int r = 0; r < MR; r++)
            sumi[r] = _mm512_add_epi32(sumi[r], _mm512_add_epi32(_mm512_mullo_epi32(lo[r], se), _mm512_mullo_epi32(hi[r], so)));
    }
    __m512i mp[4]; /* mins of sub-blocks 2t, 2t+1 as int16 pairs */
    for (int t = 0; t < 4; t++) mp[t] = _mm512_shuffle_epi8(mn[t / 2], t % 2 ? KILN_KR16_PAIR_CTL(1) : KILN_KR16_PAIR_CTL(0));
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sb));
    const __m512 dmw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sb + 32)));
    for (int r = 0; r < MR; r++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)x[r]->bsums);
        const __m512i pairs = _mm512_broadcast_i32x4( /* X's 32-element sums 0..7 as int16 */
            _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
        __m512i summ = _mm512_setzero_si512();
        summ = _mm512_dpwssd_epi32(summ, mp[0], _mm512_shuffle_epi32(pairs, (_MM_PERM_ENUM)0x00));
        summ = _mm512_dpwssd_epi32(summ, mp[1], _mm512_shuffle_epi32(pairs, (_MM_PERM_ENUM)0x55));
        summ = _mm512_dpwssd_epi32(summ, mp[2], _mm512_shuffle_epi32(pairs, (_MM_PERM_ENUM)0xAA));
        summ = _mm512_dpwssd_epi32(summ, mp[3], _mm512_shuffle_epi32(pairs, (_MM_PERM_ENUM)0xFF));
        const __m512 dx = _mm512_set1_ps(x[r]->d);
        __m512 f = _mm512_add_ps(*lanes[r], _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi[r])));
        *lanes[r] = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmw, dx), _mm512_cvtepi32_ps(summ)));
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16.
KILN_TARGET_AVX512VNNI KILN_INLINE void q5kr_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR,
                                                  const int PF) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nbk * KILN_Q5KR_SB_BYTES;
    for (int64_t j0 = n0; j0 < n1; j0 += Q5KR_ROWS) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / Q5KR_ROWS) * gbytes;
        __m512 acc[Q5KR_MAXR][8];
        for (int r = 0; r < MR; r++)
            for (int l = 0; l < 8; l++) acc[r][l] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nbk; b++) {
            const block_q8_K *x[Q5KR_MAXR];
            __m512 *lanes[Q5KR_MAXR];
            for (int r = 0; r < MR; r++) {
                x[r] = (const block_q8_K *)p->xk + (i0 + r) * nbk + b;
                lanes[r] = &acc[r][b % 8];
            }
            q5kr_superblock(grp + (size_t)b * KILN_Q5KR_SB_BYTES, x, lanes, MR, PF);
        }
        for (int r = 0; r < MR; r++) {
            _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0, kiln_qp_lanes_sum16(acc[r]));
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q5_K_R16 (n0, n1 multiples of 16), X as Q8_K (p->xk).
KILN_TARGET_AVX512VNNI KILN_INLINE void q5kr_gemv(const kiln_mm *p, int64_t n0, int64_t n1, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) q5kr_rows(p, i0, n0, n1, 3, PF);
    if (p->m - i0 == 2) q5kr_rows(p, i0, n0, n1, 2, PF);
    else if (p->m - i0 == 1) q5kr_rows(p, i0, n0, n1, 1, PF);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q5kr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    if (kiln_r16_prefetch_wanted()) q5kr_gemv(p, n0, n1, 1);
    else q5kr_gemv(p, n0, n1, 0);
}

#else
typedef int kiln_matmul_q5kr_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
