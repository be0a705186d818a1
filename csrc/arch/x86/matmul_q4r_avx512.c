/* matmul_q4r_avx512.c — AVX-512 VNNI GEMV over repacked Q4_0, Q5_0,
 * IQ4_NL, Q4_1 and Q5_1 weights (KILN_TYPE_Q4_0_R16, KILN_TYPE_Q5_0_R16,
 * KILN_TYPE_IQ4_NL_R16, KILN_TYPE_Q4_1_R16, KILN_TYPE_Q5_1_R16, layouts in
 * matmul_q4r.c, matmul_q5r.c and matmul_q41r.c; IQ4_NL_R16 is Q4_0_R16's):
 * decode's matmul. All share everything but a block's unpacking, so one
 * loop nest serves them (FIVE: fifth-bit masks; NL: the nibbles index
 * IQ4_NL's values; MIN: each block has a min m beside d).
 *
 * Per-output arithmetic: the Q4_0 (Q5_0) rule of quant.h, exactly as the
 * GEMV and GEMM compute it: eight float lanes start at +0, block b enters
 * lane b % 8 as
 *     lane = lane + (dw_b * dx_b) * float(int32 dot_b)
 * and the lanes are summed ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); so an
 * output has the bits of the Q4_0 weights it came from (decode ≡ prefill).
 *
 * One step is one block of a 16-row group: its 4 quant vectors (lane j =
 * 4 bytes of row j) give, masked, elements 4u..4u+3 of the 16 rows as u8
 * 0..15 and, shifted and masked, elements 4u+16..4u+19; each meets the
 * matching X quad broadcast from memory in one VPDPBUSD, so lane j
 * accumulates row j's Σu·x with no add tree, in two chains (low and high
 * nibbles) added once. The −8 offset: the low chain starts at −8·Σx of the
 * X block (computed once per call for up to XC_BLOCKS blocks), so the sum
 * ends at the exact int32 Σ(u−8)·x. Then one convert, two multiplies and
 * one add for 16 outputs; the eight lane vectors of each X row stay in
 * registers (the block loop is unrolled by 8, so block b's lane is known).
 * Up to 3 X rows share each unpacked quant vector.
 *
 * Q5_0: each nibble vector comes with two 64-bit fifth-bit masks (bit i =
 * byte i), loaded as byte masks: one masked add of 16 per vector gives the
 * u8 quants 0..31 (the high nibbles are shifted down first, no ×16 form);
 * the offset is −16·Σx.
 *
 * IQ4_NL: VPSHUFB looks each nibble's value up as value + 128 (unsigned,
 * for VPDPBUSD; the high nibbles shifted down first); the offset is
 * −128·Σx, and the rule is Q4_0's (lane + (dw·dx)·float(dot)).
 *
 * Q4_1, Q5_1 (MIN): unsigned quants, no offset; the X block's Σx (kept
 * where the offsets are) enters the float step as quant.h says:
 * lane = (lane + (dw·dx)·float(dot)) + (mw·dx)·float(Σx).
 *
 * Memory: a group is read once, front to back (9 lines per block pair);
 * at m = 1 a call's groups are walked as two runs side by side, one block
 * of each in turn (r16_streams.h): two sequential streams per core instead
 * of one. Tiles of 2-3 X rows keep one stream: their 16-24 lane registers
 * twice over spill, and in L2 (512x2048) m = 3 measured 8-20% slower.
 * Measured on the Xeon, m = 1, from DRAM, old and new alternated (GB/s,
 * one stream -> two): 8192x2048, 1 thread, Q4_0 10.9-11.5 -> 13.9, Q5_0
 * 10.9-11.4 -> 13.8, Q4_1 10.8-11.2 -> 13.2, Q5_1 10.7-10.9 -> 12.9,
 * IQ4_NL 11.1-11.7 -> 13.2; 2 threads Q4_0 21.0 -> 26.2, IQ4_NL 19.5 ->
 * 26.6; 128256x2048, 1 thread, Q4_0 12.4 -> 14.3.
 * On Intel each line loaded also prefetches one further on (r16_prefetch.h). */
#include "../../kernels.h"
#include "quant_pack_avx512.h"
#include "r16_prefetch.h"
#include "r16_streams.h"

#if KILN_X86

enum {
    Q4R_MAXR = 3,     /* X rows per tile */
    XC_BLOCKS = 1024, /* −offset·Σx kept per X row and call: k up to 32768 computed once (a multiple of 8) */
};

/* xc_fill writes −offset·Σ(32 quants) of blocks [b0, b1) of X row xq (s8) into xc. */
KILN_TARGET_AVX512VNNI static void xc_fill(const int8_t *xq, int64_t b0, int64_t b1, int offset, int32_t *xc) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int64_t b = b0; b < b1; b++) {
        const __m256i x = _mm256_load_si256((const __m256i *)(xq + b * KILN_QK8_0));
        __m256i c = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, x); /* 8 sums of 4 */
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        xc[b - b0] = -offset * _mm_cvtsi128_si32(h);
    }
}

/* q4r_dot is a block's exact int32 dot from its chains: Q4_0's high
 * nibbles' sums are exact multiples of 16 (|Σ| <= 16·15·128·16 < 2^31), so
 * the arithmetic shift divides them exactly; Q5_0's and IQ4_NL's are plain. */
KILN_TARGET_AVX512VNNI KILN_INLINE __m512i q4r_dot(__m512i lo0, __m512i lo1, __m512i hi0, __m512i hi1, const int PLAIN) {
    const __m512i hi = _mm512_add_epi32(hi0, hi1);
    return _mm512_add_epi32(_mm512_add_epi32(lo0, lo1), PLAIN ? hi : _mm512_srai_epi32(hi, 4));
}

// lane[r] += block b of one group against X rows i0..i0+MR-1 (quant.h's
// float step); xc[r * XC_BLOCKS + c]: −offset·Σx of the chunk's block c = b - b0.
KILN_TARGET_AVX512VNNI KILN_INLINE void q4r_block(const kiln_mm *p, int64_t i0, const uint8_t *grp, int64_t b,
                                                  int64_t c, const int32_t *xc, __m512 *lane[Q4R_MAXR],
                                                  const int MR, const int FIVE, const int NL, const int MIN, const int PF) {
    const int64_t nbpad = p->kpad / KILN_QK8_0;
    const uint8_t *pair = grp + (size_t)(b >> 1) * KILN_Q4R_PAIR_OF(FIVE, MIN);
    const uint8_t *blk = pair + (MIN ? 128 : 64) + (size_t)(b & 1) * (FIVE ? KILN_Q5R_BLOCK_BYTES : KILN_Q4R_BLOCK_BYTES);
    const __m512i *q = (const __m512i *)(blk + (FIVE ? 64 : 0));
    const __m512i low4 = _mm512_set1_epi8(0x0F), high4 = _mm512_set1_epi8((char)0xF0), five = _mm512_set1_epi8(0x10);
    __m512i lo[2][Q4R_MAXR], hi[2][Q4R_MAXR]; /* chains: low nibbles, high nibbles (Q4_0: ×16); vectors 0-1, 2-3 */
    const int32_t *xb[Q4R_MAXR];
    for (int r = 0; r < MR; r++) {
        lo[0][r] = MIN ? _mm512_setzero_si512() : _mm512_set1_epi32(xc[r * XC_BLOCKS + c]);
        lo[1][r] = hi[0][r] = hi[1][r] = _mm512_setzero_si512();
        xb[r] = (const int32_t *)(p->xq + (i0 + r) * p->kpad + b * KILN_QK8_0);
    }
    if (!(b & 1)) KILN_R16_PREFETCH(pair, PF);
    if (FIVE) KILN_R16_PREFETCH(blk, PF);
    for (int u = 0; u < 4; u++) {
        KILN_R16_PREFETCH(q + u, PF);
        const __m512i v = _mm512_loadu_si512(q + u);
        __m512i vl = _mm512_and_si512(v, low4), vh;
        if (FIVE) {
            vh = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            uint64_t m[2];
            memcpy(m, blk + 16 * u, 16);
            vl = _mm512_mask_add_epi8(vl, _cvtu64_mask64(m[0]), vl, five);
            vh = _mm512_mask_add_epi8(vh, _cvtu64_mask64(m[1]), vh, five);
        } else if (NL) {
            const __m512i table = _mm512_xor_si512( /* value + 128 */
                _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values)), _mm512_set1_epi8((char)0x80));
            vl = _mm512_shuffle_epi8(table, vl);
            vh = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
        } else
            vh = _mm512_and_si512(v, high4);
        for (int r = 0; r < MR; r++) {
            lo[u >> 1][r] = _mm512_dpbusd_epi32(lo[u >> 1][r], vl, _mm512_set1_epi32(xb[r][u]));
            hi[u >> 1][r] = _mm512_dpbusd_epi32(hi[u >> 1][r], vh, _mm512_set1_epi32(xb[r][u + 4]));
        }
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pair + (size_t)(b & 1) * 32)));
    for (int r = 0; r < MR; r++) {
        const __m512 dx = _mm512_set1_ps(p->xd[(i0 + r) * nbpad + b]);
        const __m512 f = _mm512_add_ps(*lane[r], _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(q4r_dot(lo[0][r], lo[1][r], hi[0][r], hi[1][r], FIVE || NL))));
        if (MIN) {
            const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pair + 64 + (size_t)(b & 1) * 32)));
            *lane[r] = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(mw, dx), _mm512_set1_ps((float)xc[r * XC_BLOCKS + c])));
        } else
            *lane[r] = f;
    }
}

// y[i0:i0+MR, j0[g]:j0[g]+16] for one tile of X rows and G groups read side
// by side (G ≤ KILN_R16_STREAMS), block by block; xc as q4r_rows left it.
KILN_TARGET_AVX512VNNI KILN_INLINE void q4r_groups(const kiln_mm *p, int64_t i0, const int64_t *j0, int32_t *xc,
                                                   const int once, const int G, const int MR, const int FIVE,
                                                   const int NL, const int MIN, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0;
    const size_t gbytes = (size_t)(nb / 2) * KILN_Q4R_PAIR_OF(FIVE, MIN);
    const int offset = MIN ? -1 : FIVE ? 16 : NL ? 128 : 8; /* MIN: xc holds Σx */
    const uint8_t *grp[KILN_R16_STREAMS];
    __m512 lanes[KILN_R16_STREAMS][Q4R_MAXR][KILN_QP_LANES];
    for (int g = 0; g < G; g++) {
        grp[g] = (const uint8_t *)p->w + (size_t)(j0[g] / KILN_QP_NR) * gbytes;
        for (int r = 0; r < MR; r++)
            for (int e = 0; e < KILN_QP_LANES; e++) lanes[g][r][e] = _mm512_setzero_ps();
    }
    for (int64_t b0 = 0; b0 < nb; b0 += XC_BLOCKS) {
        const int64_t b1 = b0 + XC_BLOCKS < nb ? b0 + XC_BLOCKS : nb;
        if (!once)
            for (int r = 0; r < MR; r++) xc_fill(p->xq + (i0 + r) * p->kpad, b0, b1, offset, xc + r * XC_BLOCKS);
        for (int64_t b = b0; b < b1; b += KILN_QP_LANES) /* b0 % 8 == 0: block b + e goes to lane e */
#pragma GCC unroll 8
            for (int e = 0; e < KILN_QP_LANES; e++)
                if (b + e < b1)
                    for (int g = 0; g < G; g++) {
                        __m512 *lane[Q4R_MAXR];
                        for (int r = 0; r < MR; r++) lane[r] = &lanes[g][r][e];
                        q4r_block(p, i0, grp[g], b + e, b + e - b0, xc, lane, MR, FIVE, NL, MIN, PF);
                    }
    }
    for (int g = 0; g < G; g++)
        for (int r = 0; r < MR; r++) _mm512_storeu_ps(p->y + (i0 + r) * p->n + j0[g], kiln_qp_lanes_sum16(lanes[g][r]));
}

// y[i0:i0+MR, n0:n1] for one tile of X rows; n0, n1 multiples of 16: for
// one X row (decode) the groups walked as two streams (r16_streams.h).
KILN_TARGET_AVX512VNNI KILN_INLINE void q4r_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, int32_t *xc,
                                                 const int MR, const int FIVE, const int NL, const int MIN, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0;
    const int offset = MIN ? -1 : FIVE ? 16 : NL ? 128 : 8; /* MIN: xc holds Σx */
    const int once = nb <= XC_BLOCKS; /* else recomputed per step of the walk and k chunk */
    if (once)
        for (int r = 0; r < MR; r++) xc_fill(p->xq + (i0 + r) * p->kpad, 0, nb, offset, xc + r * XC_BLOCKS);
    if (MR > 1) { /* two streams' lanes (16 per X row) would not fit the registers: one stream */
        for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) q4r_groups(p, i0, &j0, xc, once, 1, MR, FIVE, NL, MIN, PF);
        return;
    }
    const kiln_r16_walk walk = kiln_r16_walk_of(n0, n1);
    for (int64_t g = 0; g < walk.steps; g++) {
        int64_t j0[KILN_R16_STREAMS];
        if (kiln_r16_walk_step(&walk, g, j0) == 2) q4r_groups(p, i0, j0, xc, once, 2, MR, FIVE, NL, MIN, PF);
        else q4r_groups(p, i0, j0, xc, once, 1, MR, FIVE, NL, MIN, PF);
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q4_0_R16, Q5_0_R16 (FIVE),
// IQ4_NL_R16 (NL), Q4_1_R16 (MIN) or Q5_1_R16 (FIVE, MIN; n0, n1 multiples
// of 16), X q8_0-quantized (p->xq, p->xd).
KILN_TARGET_AVX512VNNI KILN_INLINE void q4r_gemv(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch, const int FIVE,
                                                 const int NL, const int MIN, const int PF) {
    _Static_assert(Q4R_MAXR * XC_BLOCKS <= KILN_MM_SCRATCH_FLOATS, "the X corrections fit the kernel scratch");
    _Static_assert(XC_BLOCKS % KILN_QP_LANES == 0, "k chunks keep block b in lane b % 8");
    _Static_assert(KILN_R16_STREAMS == 2, "a step of the walk has one or two groups");
    int32_t *xc = (int32_t *)scratch;
    int64_t i0 = 0;
    for (; i0 + 3 <= p->m; i0 += 3) q4r_rows(p, i0, n0, n1, xc, 3, FIVE, NL, MIN, PF);
    if (p->m - i0 == 2) q4r_rows(p, i0, n0, n1, xc, 2, FIVE, NL, MIN, PF);
    else if (p->m - i0 == 1) q4r_rows(p, i0, n0, n1, xc, 1, FIVE, NL, MIN, PF);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q4r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r_gemv(p, n0, n1, scratch, 0, 0, 0, 1);
    else q4r_gemv(p, n0, n1, scratch, 0, 0, 0, 0);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q5r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r_gemv(p, n0, n1, scratch, 1, 0, 0, 1);
    else q4r_gemv(p, n0, n1, scratch, 1, 0, 0, 0);
}

KILN_TARGET_AVX512VNNI void kiln_mm_iq4nlr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r_gemv(p, n0, n1, scratch, 0, 1, 0, 1);
    else q4r_gemv(p, n0, n1, scratch, 0, 1, 0, 0);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q41r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r_gemv(p, n0, n1, scratch, 0, 0, 1, 1);
    else q4r_gemv(p, n0, n1, scratch, 0, 0, 1, 0);
}

KILN_TARGET_AVX512VNNI void kiln_mm_q51r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r_gemv(p, n0, n1, scratch, 1, 0, 1, 1);
    else q4r_gemv(p, n0, n1, scratch, 1, 0, 1, 0);
}

#else
typedef int kiln_matmul_q4r_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
