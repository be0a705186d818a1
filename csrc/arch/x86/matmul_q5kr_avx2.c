/* matmul_q5kr_avx2.c — AVX2 GEMV over repacked Q5_K weights
 * (KILN_TYPE_Q5_K_R16, layout in matmul_q5kr.c), for CPUs without VNNI:
 * only AVX2, FMA and F16C instructions.
 *
 * Per-output arithmetic: the Q5_K rule of quant.h, as in the AVX-512 VNNI
 * kernel (matmul_q5kr_avx512.c): exact int32 sumi and summ per super-block,
 *     lane[b % 8] = (lane[b % 8] + (d·dx)·float(sumi)) − (dmin·dx)·float(summ)
 * and the fixed lane sum, so the bits of the Q5_K dot, GEMV and GEMM.
 *
 * Every 64-byte quant vector of a super-block holds 4 bytes of each of the
 * 16 rows; its low 32 bytes are rows 0-7 (one row per 32-bit lane), its high
 * 32 rows 8-15, both taken per X quad broadcast. Per half and vector: the
 * low nibbles (sub-block 2c) and the high nibbles (2c+1), each with its
 * fifth bit from the fifth-bit vector at the same place (shifted to bit 4,
 * masked, ORed), are u8 0..31 that meet their X quads in VPMADDUBSW (pairs
 * of at most 2·31·128 = 7936); four vectors add in int16 to at most 31744
 * (exact), then one VPMADDWD by the sub-block's scale as an int16 pair
 * (sc, sc) gives sc·dot in int32 lanes. The mins are 4 VPMADDWD of (m, m')
 * pairs against X's 32-element sums; the scales of the 16 rows are decoded
 * from the three dword planes once per super-block. Up to 2 X rows share
 * each loaded W vector. A chunk (512 bytes) is taken a half at a time (rows
 * 0-7, then 8-15), so only one half's sums are live; the chunks are read
 * front to back. The loops are unrolled, the sums kept as asm add chains
 * (Q5KR2_ADD16/32) and the X broadcasts emitted where used (Q5KR2_XQUAD):
 * as plain intrinsics GCC spilled products and broadcasts to the stack
 * (callgrind, 512x2048, m = 1: 18.4 -> 15.3 instructions per 32 weight
 * bytes). */
#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_avx2.h"
#include "kr16_scales.h"
#include "r16_prefetch.h"

enum { Q5KR2_MAXR = 2, Q5KR2_ROWS = 16 /* W rows per group */ };

/* q5kr2_bit4 is bit `bit` of every byte of h at bit 4, every other bit 0
 * (16-bit shifts: what crosses a byte border is masked away). */
KILN_TARGET_AVX2 KILN_INLINE __m256i q5kr2_bit4(__m256i h, const int bit) {
    const __m256i s = bit <= 4 ? _mm256_slli_epi16(h, 4 - bit) : _mm256_srli_epi16(h, bit - 4);
    return _mm256_and_si256(s, _mm256_set1_epi8(0x10));
}

/* Q5KR2_XQUAD is X quants qs[off..off+3] broadcast to every 32-bit lane, as
 * one VPBROADCASTD from memory where it is used: with the halves one after
 * the other GCC would otherwise keep each broadcast for the second half and
 * spill it to the stack. */
#define Q5KR2_XQUAD(qs, off)                                                                             \
    __extension__({                                                                                      \
        __m256i xq_;                                                                                     \
        __asm__ volatile("vpbroadcastd %1, %0" : "=x"(xq_) : "m"(*(const int32_t *)((qs) + (off))));     \
        xq_;                                                                                             \
    })

/* Q5KR2_ADD16(acc, v), Q5KR2_ADD32(acc, v): acc += v in int16 / int32 lanes,
 * as one VPADDW / VPADDD the optimiser cannot see into. The running sums
 * then stay one chain of adds in registers with the chunk and quad loops
 * fully unrolled; as plain intrinsics GCC reassociates them into trees,
 * computes the products first and spills them to the stack. */
#define Q5KR2_ADD16(acc, v) __asm__("vpaddw %1, %0, %0" : "+x"(acc) : "x"(v))
#define Q5KR2_ADD32(acc, v) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(v))

// lanes[r][h] (float lane b % 8 of rows 8h..8h+7) += super-block sb for X rows x[0..MR-1].
KILN_TARGET_AVX2 KILN_INLINE void q5kr2_superblock(const uint8_t *sb, const block_q8_K *const x[Q5KR2_MAXR],
                                                   __m256 *lanes[Q5KR2_MAXR][2], const int MR, const int PF) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i sc[2][2], mn[2][2]; /* per half: scales 0..3, 4..7; mins alike (kept on the stack) */
    for (int l = 0; l < KILN_Q5KR_QH / 64; l++) KILN_R16_PREFETCH(sb + 64 * l, PF); /* d, dmin, scales */
    kiln_kr16_decode_avx2(sb + KILN_Q5KR_SCALES, 0, sc[0], mn[0]);
    kiln_kr16_decode_avx2(sb + KILN_Q5KR_SCALES, 1, sc[1], mn[1]);
    __m256i sumi[Q5KR2_MAXR][2]; /* set by the first chunk's first 4 vectors */
    const __m256i sc_ctl[4] = {KILN_KR16_SCALE_CTL2(0), KILN_KR16_SCALE_CTL2(1), KILN_KR16_SCALE_CTL2(2), KILN_KR16_SCALE_CTL2(3)};
#pragma GCC unroll 4 /* constant shifts */
    for (int c = 0; c < 4; c++) { /* chunk c: sub-blocks 2c (low nibbles, qh bit 2c) and 2c+1 (high, bit 2c+1) */
        const uint8_t *q = sb + KILN_Q5KR_QUANTS + 512 * c;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) { /* rows 8h..8h+7: the X quads are broadcast again per half */
            const __m256i s = sc[h][c / 2];
            const __m256i se = _mm256_shuffle_epi8(s, sc_ctl[(2 * c) % 4]), so = _mm256_shuffle_epi8(s, sc_ctl[(2 * c + 1) % 4]);
            __m256i lo[Q5KR2_MAXR], hi[Q5KR2_MAXR]; /* int16 sums of 4 vectors, set by the first */
#pragma GCC unroll 8
            for (int u = 0; u < 8; u++) {
                if (h == 0) { /* each line once: the quants, and the fifth bits in chunk 0 */
                    KILN_R16_PREFETCH(q + 64 * u, PF);
                    if (c == 0) KILN_R16_PREFETCH(sb + KILN_Q5KR_QH + 64 * u, PF);
                }
                const __m256i w = _mm256_loadu_si256((const __m256i *)(q + 64 * u + 32 * h));
                const __m256i f = _mm256_loadu_si256((const __m256i *)(sb + KILN_Q5KR_QH + 64 * u + 32 * h));
                const __m256i wl = _mm256_or_si256(_mm256_and_si256(w, low4), q5kr2_bit4(f, 2 * c));
                const __m256i wh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), low4), q5kr2_bit4(f, 2 * c + 1));
                for (int r = 0; r < MR; r++) {
                    const __m256i pl = _mm256_maddubs_epi16(wl, Q5KR2_XQUAD(x[r]->qs, 64 * c + 4 * u));
                    const __m256i ph = _mm256_maddubs_epi16(wh, Q5KR2_XQUAD(x[r]->qs, 64 * c + 32 + 4 * u));
                    if (u % 4 == 0) {
                        lo[r] = pl;
                        hi[r] = ph;
                    } else {
                        Q5KR2_ADD16(lo[r], pl);
                        Q5KR2_ADD16(hi[r], ph);
                    }
                    if (u % 4 == 3) { /* widened by the scales: sc·dot in int32 lanes */
                        const __m256i t = _mm256_madd_epi16(lo[r], se);
                        if (c == 0 && u == 3) sumi[r][h] = t;
                        else Q5KR2_ADD32(sumi[r][h], t);
                        Q5KR2_ADD32(sumi[r][h], _mm256_madd_epi16(hi[r], so));
                    }
                }
            }
        }
    }
    __m256i pairs[Q5KR2_MAXR]; /* X's 32-element sums 0..7 as int16, in both 128-bit lanes */
    for (int r = 0; r < MR; r++) {
        const __m256i bs = _mm256_loadu_si256((const __m256i *)x[r]->bsums);
        pairs[r] = _mm256_broadcastsi128_si256(_mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1)));
    }
    for (int h = 0; h < 2; h++) {
        __m256i mp[4];
        for (int t = 0; t < 4; t++) mp[t] = _mm256_shuffle_epi8(mn[h][t / 2], t % 2 ? KILN_KR16_PAIR_CTL2(1) : KILN_KR16_PAIR_CTL2(0));
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + 16 * h)));
        const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + 32 + 16 * h)));
        for (int r = 0; r < MR; r++) {
            const __m256i m01 = _mm256_add_epi32(_mm256_madd_epi16(mp[0], _mm256_shuffle_epi32(pairs[r], 0x00)),
                                                 _mm256_madd_epi16(mp[1], _mm256_shuffle_epi32(pairs[r], 0x55)));
            const __m256i m23 = _mm256_add_epi32(_mm256_madd_epi16(mp[2], _mm256_shuffle_epi32(pairs[r], 0xAA)),
                                                 _mm256_madd_epi16(mp[3], _mm256_shuffle_epi32(pairs[r], 0xFF)));
            const __m256i summ = _mm256_add_epi32(m01, m23);
            const __m256 dx = _mm256_set1_ps(x[r]->d);
            __m256 f = _mm256_add_ps(*lanes[r][h], _mm256_mul_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(sumi[r][h])));
            *lanes[r][h] = _mm256_sub_ps(f, _mm256_mul_ps(_mm256_mul_ps(dmw, dx), _mm256_cvtepi32_ps(summ)));
        }
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16.
KILN_TARGET_AVX2 KILN_INLINE void q5kr2_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR,
                                             const int PF) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nbk * KILN_Q5KR_SB_BYTES;
    for (int64_t j0 = n0; j0 < n1; j0 += Q5KR2_ROWS) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / Q5KR2_ROWS) * gbytes;
        __m256 acc[Q5KR2_MAXR][8][2];
        for (int r = 0; r < MR; r++)
            for (int l = 0; l < 8; l++) acc[r][l][0] = acc[r][l][1] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nbk; b++) {
            const block_q8_K *x[Q5KR2_MAXR];
            __m256 *lanes[Q5KR2_MAXR][2];
            for (int r = 0; r < MR; r++) {
                x[r] = (const block_q8_K *)p->xk + (i0 + r) * nbk + b;
                lanes[r][0] = &acc[r][b % 8][0];
                lanes[r][1] = &acc[r][b % 8][1];
            }
            q5kr2_superblock(grp + (size_t)b * KILN_Q5KR_SB_BYTES, x, lanes, MR, PF);
        }
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++) {
                __m256 l[8];
                for (int i = 0; i < 8; i++) l[i] = acc[r][i][h];
                _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0 + 8 * h, kiln_qa_lanes_sum8(l));
            }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q5_K_R16 (n0, n1 multiples of 16), X as Q8_K (p->xk).
KILN_TARGET_AVX2 KILN_INLINE void q5kr2_gemv(const kiln_mm *p, int64_t n0, int64_t n1, const int PF) {
    int64_t i0 = 0;
    for (; i0 + 2 <= p->m; i0 += 2) q5kr2_rows(p, i0, n0, n1, 2, PF);
    if (i0 < p->m) q5kr2_rows(p, i0, n0, n1, 1, PF);
}

KILN_TARGET_AVX2 void kiln_mm_q5kr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    if (kiln_r16_prefetch_wanted()) q5kr2_gemv(p, n0, n1, 1);
    else q5kr2_gemv(p, n0, n1, 0);
}

#else
typedef int kiln_matmul_q5kr_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
