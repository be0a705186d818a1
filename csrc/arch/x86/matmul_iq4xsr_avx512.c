/* matmul_iq4xsr_avx512.c — AVX-512 VNNI GEMV over repacked IQ4_XS weights
 * (KILN_TYPE_IQ4_XS_R16, layout in matmul_iq4xsr.c): decode's matmul.
 *
 * Per-output arithmetic: the IQ4_XS rule of quant.h, exactly as the IQ4_XS
 * dot, GEMV and GEMM compute it: per super-block b the exact int32 sum
 * sumi = Σ_s (ls_s − 32)·(values·x over sub-block s), then
 *     lane[b % 8] = lane[b % 8] + (d·dx)·float(sumi)
 * and the fixed lane sum ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); so its bits
 * equal theirs on GGUF-layout weights (decode ≡ prefill).
 *
 * A sub-block of a group is 4 quant vectors (lane j = 4 bytes of row j).
 * Per vector: AND 0x0F, and a shift and AND, give the low and high nibbles,
 * one VPSHUFB each looks their values up as value + 128 (unsigned, for
 * VPDPBUSD), and each meets its X quad (broadcast from memory) in one
 * VPDPBUSD per X row, into an accumulator that starts at −128·Σx over the
 * sub-block (X's 16-element sums): the sub-block's signed dot, exactly
 * (|dot| ≤ 32·127·128 < 2^19). One VPMULLD by the 16 rows' scales ls − 32
 * (decoded for 16 rows at once from the scales_l dwords and scales_h
 * words: a few lane-wise operations per sub-block) adds it to sumi
 * (|sumi| < 8·32·2^19 = 2^27). Then the float step of 16 outputs at once;
 * up to 3 X rows share every loaded W vector.
 *
 * Memory: a group is read once, front to back, one sequential stream. No
 * software prefetch (r16_prefetch.h): on the Xeon it measured 10.1-10.9
 * GB/s with and without at 8192x2048 and 2048x8192 (1 thread), and 5%
 * slower in cache; this kernel is bound by its work per byte (hot in L2
 * 43 GB/s against Q4_K_R16's 59). Nor does it walk its groups as two
 * streams like the other repacked GEMVs (r16_streams.h): without prefetch
 * that measured 5-13% slower from DRAM at 1 thread (8192x2048 10.3-10.6
 * -> 9.1 GB/s, 2048x2048 10.0-10.9 -> 9.3), alternating with the one
 * stream; two streams with prefetch are not measured yet. */
#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>
#include "quant_pack_avx512.h"

enum { IQ4XSR_MAXR = 3, IQ4XSR_ROWS = 16 /* W rows per group */ };

/* xquad is X's 4 quants at qs + off, broadcast to every lane. */
#define IQ4XSR_XQUAD(qs, off) _mm512_set1_epi32(*(const int32_t *)((qs) + (off)))

/* iq4xsr_scale is the 16 rows' scale ls − 32 of sub-block s (lane j = row
 * j) from their scales_l dwords sl and zero-extended scales_h words shw. */
KILN_TARGET_AVX512VNNI KILN_INLINE __m512i iq4xsr_scale(__m512i sl, __m512i shw, const int s) {
    const __m512i lo = _mm512_and_si512(_mm512_srli_epi32(sl, (unsigned)(4 * s)), _mm512_set1_epi32(0x0F));
    const __m512i hi = s <= 2 ? _mm512_slli_epi32(shw, (unsigned)(4 - 2 * s)) : _mm512_srli_epi32(shw, (unsigned)(2 * s - 4));
    /* lo | (hi & 0x30) (VPTERNLOGD 0xF8: A | (B & C)), then − 32 */
    return _mm512_sub_epi32(_mm512_ternarylogic_epi32(lo, hi, _mm512_set1_epi32(0x30), 0xF8), _mm512_set1_epi32(32));
}

// lanes[r] (8 float lanes × 16 outputs) += super-block sb of one group for X rows x[0..MR-1].
KILN_TARGET_AVX512VNNI KILN_INLINE void iq4xsr_superblock(const uint8_t *sb, const block_q8_K *const x[IQ4XSR_MAXR],
                                                         __m512 *lanes[IQ4XSR_MAXR], const __m512i table, const int MR) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i sl = _mm512_loadu_si512(sb + KILN_IQ4XSR_SCALES_L);
    const __m512i shw = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(sb + KILN_IQ4XSR_SCALES_H)));
    __m512i sumi[IQ4XSR_MAXR];
    for (int r = 0; r < MR; r++) sumi[r] = _mm512_setzero_si512();
    #pragma GCC unroll 8 /* constant shifts and offsets */
    for (int s = 0; s < 8; s++) {
        const __m512i *q = (const __m512i *)(sb + KILN_IQ4XSR_QUANTS + 256 * s);
        __m512i dot[IQ4XSR_MAXR];
        for (int r = 0; r < MR; r++) /* −128·Σx over the sub-block's 32 elements */
            dot[r] = _mm512_set1_epi32(-128 * (x[r]->bsums[2 * s] + x[r]->bsums[2 * s + 1]));
        #pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const __m512i w = _mm512_loadu_si512(q + u);
            const __m512i vl = _mm512_shuffle_epi8(table, _mm512_and_si512(w, low4));
            const __m512i vh = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(w, 4), low4));
            for (int r = 0; r < MR; r++) {
                dot[r] = _mm512_dpbusd_epi32(dot[r], vl, IQ4XSR_XQUAD(x[r]->qs, 32 * s + 4 * u));
                dot[r] = _mm512_dpbusd_epi32(dot[r], vh, IQ4XSR_XQUAD(x[r]->qs, 32 * s + 16 + 4 * u));
            }
        }
        const __m512i sc = iq4xsr_scale(sl, shw, s);
        for (int r = 0; r < MR; r++) sumi[r] = _mm512_add_epi32(sumi[r], _mm512_mullo_epi32(dot[r], sc));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)sb));
    for (int r = 0; r < MR; r++) {
        const __m512 dx = _mm512_set1_ps(x[r]->d);
        *lanes[r] = _mm512_add_ps(*lanes[r], _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(sumi[r])));
    }
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16.
KILN_TARGET_AVX512VNNI KILN_INLINE void iq4xsr_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, const int MR) {
    const int64_t nbk = p->k / KILN_QK_K;
    const size_t gbytes = (size_t)nbk * KILN_IQ4XSR_SB_BYTES;
    const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)),
                                           _mm512_set1_epi8((char)0x80)); /* value + 128 */
    for (int64_t j0 = n0; j0 < n1; j0 += IQ4XSR_ROWS) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / IQ4XSR_ROWS) * gbytes;
        __m512 acc[IQ4XSR_MAXR][8];
        for (int r = 0; r < MR; r++)
            for (int l = 0; l < 8; l++) acc[r][l] = _mm512_setzero_ps();
        for (int64_t b = 0; b < nbk; b++) {
            const block_q8_K *x[IQ4XSR_MAXR];
            __m512 *lanes[IQ4XSR_MAXR];
            for (int r = 0; r < MR; r++) {
                x[r] = (const block_q8_K *)p->xk + (i0 + r) * nbk + b;
                lanes[r] = &acc[r][b % 8];
            }
            iq4xsr_superblock(grp + (size_t)b * KILN_IQ4XSR_SB_BYTES, x, lanes, table, MR);
        }
        for (int r = 0; r < MR; r++) {
            _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0, kiln_qp_lanes_sum16(acc[r]));
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W IQ4_XS_R16 (n0, n1 multiples of 16), X as Q8_K (p->xk).
KILN_TARGET_AVX512VNNI void kiln_mm_iq4xsr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) iq4xsr_rows(p, i0, n0, n1, 3);
    if (p->m - i0 == 2) iq4xsr_rows(p, i0, n0, n1, 2);
    else if (p->m - i0 == 1) iq4xsr_rows(p, i0, n0, n1, 1);
}

#else
typedef int kiln_matmul_iq4xsr_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
