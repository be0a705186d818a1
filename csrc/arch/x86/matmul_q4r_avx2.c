/* matmul_q4r_avx2.c — AVX2 GEMV over repacked Q4_0, Q5_0, IQ4_NL, Q4_1
 * and Q5_1 weights (KILN_TYPE_*_R16, layouts in matmul_q4r.c, matmul_q5r.c
 * and matmul_q41r.c; IQ4_NL_R16 is Q4_0_R16's), for CPUs without VNNI
 * (AVX2-only EPYCs): only AVX2, FMA and F16C instructions. One loop nest
 * serves them (FIVE: fifth-bit masks; NL: IQ4_NL's values; MIN: a min m
 * per block, Q4_1 and Q5_1).
 *
 * Per-output arithmetic: the Q4_0 rule of quant.h, exactly as the AVX2
 * Q4_0 GEMV and GEMM compute it: block b enters lane b % 8 of the output
 * as lane + (dw_b·dx_b)·float(int32 dot_b), and the eight lanes are summed
 * in the reference's fixed order, so the bits are the Q4_0 weights'.
 *
 * A block of a group is 4 quant vectors of 64 bytes; the low 32 bytes of
 * vector u hold bytes 4u..4u+3 of rows 0-7 (one row per 32-bit lane), the
 * high 32 of rows 8-15. Per half and vector: masked, the low nibbles are
 * elements 4u..4u+3 as u8 0..15, shifted and masked the high nibbles are
 * elements 4u+16..4u+19; VPMADDUBSW against the X quads broadcast gives
 * pair sums of at most 2·15·128 = 3840, and the block's 8 such vectors add
 * in int16 to at most 30720 (never saturated), so one VPMADDWD by ones
 * leaves lane j = row j's exact Σu·x. Adding −8·Σx (computed once per
 * call) gives the int32 dot. Then one convert, two multiplies and one add
 * per 8 outputs into the lane accumulators. Up to 2 X rows share each
 * unpacked W vector; the group is read front to back as one stream.
 *
 * Instructions: the loops are unrolled (8 blocks with constant lane and
 * byte offsets), the sums kept as asm add chains (Q4R2_ADD16/32) so GCC
 * neither reassociates nor spills them. Callgrind, 512x2048, m = 1 without
 * prefetch, per 32 weight bytes: Q4_0 11.4 -> 10.1, Q5_0 18.8 -> 16.6,
 * IQ4_NL 18.6 -> 17.0. On the Xeon from DRAM with prefetch this measured
 * 1-5% below the previous nest (Q4_0 12.1 -> 11.6 GB/s), equal without.
 *
 * Q5_0: each 32-bit half of a fifth-bit mask word is spread over the 32
 * bytes of its half vector (shuffle, test, compare) and ORed in as 16, so
 * the quants are u8 0..31; pairs reach 2·31·128 = 7936, so the int16 sums
 * are widened after every two vectors (4 pairs, <= 31744), and the offset
 * is −16·Σx.
 *
 * IQ4_NL: VPSHUFB looks each nibble's value up (int8), VPSIGNB moves its
 * sign onto the X quad and VPMADDUBSW multiplies |value| (at most 127) by
 * ±x: pairs of at most 32512, so each product vector is widened on its
 * own (VPMADDWD by ones); no offset.
 *
 * Q4_1, Q5_1 (MIN): unsigned quants, no offset; xc holds the X blocks' Σx,
 * which enters the float step as quant.h says:
 * lane = (lane + (dw·dx)·float(dot)) + (mw·dx)·float(Σx). */
#include "../../quant.h" /* matmul.h, and kiln_iq4nl_values */

#if KILN_X86
#include <immintrin.h>
#include "quant_avx2.h"
#include "r16_prefetch.h"

enum {
    Q4R2_MAXR = 2,     /* X rows per tile */
    Q4R2_LANES = 8,    /* accumulation lanes per output (quant.h) */
    XC2_BLOCKS = 2048, /* −offset·Σx kept per X row and call (a multiple of 8) */
};

/* xc2_fill writes −offset·Σ(32 quants) of blocks [b0, b1) of X row xq (s8) into xc. */
KILN_TARGET_AVX2 static void xc2_fill(const int8_t *xq, int64_t b0, int64_t b1, int offset, int32_t *xc) {
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int64_t b = b0; b < b1; b++) {
        const __m256i x = _mm256_load_si256((const __m256i *)(xq + b * KILN_QK8_0));
        const __m256i c = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, x), ones16); /* 8 sums of 4 */
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
        xc[b - b0] = -offset * _mm_cvtsi128_si32(h);
    }
}

/* q5r2_bits spreads mask word wi (bits 32·wi..32·wi+31) of the 16 bytes in
 * m4 (in both 128-bit lanes) over 32 bytes: byte i = 16 if bit i of the word
 * is set, else 0. One 16-byte broadcast serves a quad's four words. */
KILN_TARGET_AVX2 KILN_INLINE __m256i q5r2_bits(__m256i m4, const int wi) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, /* byte i/8 of the word */
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((int64_t)0x8040201008040201ull); /* 1 << (i % 8) */
    const __m256i t = _mm256_and_si256(_mm256_shuffle_epi8(m4, _mm256_add_epi8(spread, _mm256_set1_epi8((char)(4 * wi)))), bit);
    return _mm256_and_si256(_mm256_cmpeq_epi8(t, bit), _mm256_set1_epi8(0x10));
}

/* Q4R2_ADD16(acc, v), Q4R2_ADD32(acc, v): acc += v in int16 / int32 lanes,
 * as one VPADDW / VPADDD the optimiser cannot see into. The running sums
 * then stay one chain of adds in registers with the quad loop fully
 * unrolled; as plain intrinsics GCC reassociates them into trees, computes
 * the products first and spills them to the stack. */
#define Q4R2_ADD16(acc, v) __asm__("vpaddw %1, %0, %0" : "+x"(acc) : "x"(v))
#define Q4R2_ADD32(acc, v) __asm__("vpaddd %1, %0, %0" : "+x"(acc) : "x"(v))

/* Q4R2_XQUAD is X quants xb[off..off+3] broadcast to every 32-bit lane. */
#define Q4R2_XQUAD(xb, off) _mm256_set1_epi32(*(const int32_t *)((xb) + (off)))

// lane[r][h] (rows 8h..8h+7 of one group, this block's lane) += block e of
// the pair at `pair` for X rows r < MR: xb[r] its 32 quants, dx[r] its scale,
// xc[r] −offset·Σx of its quants (Σx with MIN). Quad u of both halves is
// taken before quad u + 1, so only quad u's X broadcasts are live.
KILN_TARGET_AVX2 KILN_INLINE void q4r2_block(const uint8_t *pair, const int e, const int8_t *const xb[Q4R2_MAXR],
                                             const float dx[Q4R2_MAXR], const int32_t xc[Q4R2_MAXR],
                                             __m256 *lane[Q4R2_MAXR][2], const int MR, const int FIVE, const int NL,
                                             const int MIN, const int PF) {
    const uint8_t *blk = pair + (MIN ? 128 : 64) + e * (FIVE ? KILN_Q5R_BLOCK_BYTES : KILN_Q4R_BLOCK_BYTES);
    const uint8_t *q = blk + (FIVE ? 64 : 0);
    const __m256i low4 = _mm256_set1_epi8(0xF), ones = _mm256_set1_epi16(1);
    if (e == 0) KILN_R16_PREFETCH(pair, PF);
    if (FIVE) KILN_R16_PREFETCH(blk, PF);
    __m256i s[Q4R2_MAXR][2], s32[Q4R2_MAXR][2]; /* int16 sums (not NL), int32 dots; set by their first term */
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) {
        KILN_R16_PREFETCH(q + 64 * u, PF);
        __m256i xl[Q4R2_MAXR], xh[Q4R2_MAXR]; /* elements 4u..4u+3 and 4u+16..4u+19 */
        for (int r = 0; r < MR; r++) {
            xl[r] = Q4R2_XQUAD(xb[r], 4 * u);
            xh[r] = Q4R2_XQUAD(xb[r], 16 + 4 * u);
        }
        for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(q + 64 * u + 32 * h));
            __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            if (FIVE) { /* quad u's words: low nibbles' of rows 0-7, of 8-15, high nibbles' alike */
                const __m256i m4 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 16 * u)));
                lo = _mm256_or_si256(lo, q5r2_bits(m4, h));
                hi = _mm256_or_si256(hi, q5r2_bits(m4, 2 + h));
            }
            if (NL) {
                const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kiln_iq4nl_values));
                const __m256i vl = _mm256_shuffle_epi8(table, lo), vh = _mm256_shuffle_epi8(table, hi);
                const __m256i al = _mm256_abs_epi8(vl), ah = _mm256_abs_epi8(vh);
                for (int r = 0; r < MR; r++) {
                    const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(al, _mm256_sign_epi8(xl[r], vl)), ones);
                    const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(ah, _mm256_sign_epi8(xh[r], vh)), ones);
                    if (u == 0) s32[r][h] = pl;
                    else Q4R2_ADD32(s32[r][h], pl);
                    Q4R2_ADD32(s32[r][h], ph);
                }
                continue;
            }
            for (int r = 0; r < MR; r++) {
                const __m256i pl = _mm256_maddubs_epi16(lo, xl[r]), ph = _mm256_maddubs_epi16(hi, xh[r]);
                if (FIVE ? !(u & 1) : u == 0) s[r][h] = pl; /* Q5: int16 sums of 2 vectors (4 pairs) */
                else Q4R2_ADD16(s[r][h], pl);
                Q4R2_ADD16(s[r][h], ph);
                if (FIVE ? u & 1 : u == 3) {
                    const __m256i w = _mm256_madd_epi16(s[r][h], ones);
                    if (u == 1 || !FIVE) s32[r][h] = w;
                    else Q4R2_ADD32(s32[r][h], w);
                }
            }
        }
    }
    for (int h = 0; h < 2; h++) { /* the scales after the quants, as in the AVX-512 kernel */
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pair + 32 * e + 16 * h)));
        const __m256 mw = MIN ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pair + 64 + 32 * e + 16 * h))) : dw;
        for (int r = 0; r < MR; r++) {
            const __m256 vdx = _mm256_set1_ps(dx[r]);
            const __m256i dot = NL || MIN ? s32[r][h] : _mm256_add_epi32(s32[r][h], _mm256_set1_epi32(xc[r]));
            const __m256 f = _mm256_add_ps(*lane[r][h], _mm256_mul_ps(_mm256_mul_ps(dw, vdx), _mm256_cvtepi32_ps(dot)));
            if (MIN) *lane[r][h] = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(mw, vdx), _mm256_set1_ps((float)xc[r])));
            else *lane[r][h] = f;
        }
    }
}

// q4r2_block for block b of the group (block e of the pair at `pair`), X rows
// i0..i0+MR-1, into lanes[r][h][lane]; c: b's index in the k chunk (xc).
KILN_TARGET_AVX2 KILN_INLINE void q4r2_block_at(const kiln_mm *p, int64_t i0, const uint8_t *pair, const int e, int64_t b,
                                                int64_t c, const int32_t *xc, __m256 lanes[][2][Q4R2_LANES], int lane,
                                                const int MR, const int FIVE, const int NL, const int MIN, const int PF) {
    const int64_t nbpad = p->kpad / KILN_QK8_0;
    const int8_t *xb[Q4R2_MAXR];
    float dx[Q4R2_MAXR];
    int32_t xcb[Q4R2_MAXR];
    __m256 *l[Q4R2_MAXR][2];
    for (int r = 0; r < MR; r++) {
        xb[r] = p->xq + (i0 + r) * p->kpad + b * KILN_QK8_0;
        dx[r] = p->xd[(i0 + r) * nbpad + b];
        xcb[r] = NL ? 0 : xc[r * XC2_BLOCKS + c];
        l[r][0] = &lanes[r][0][lane];
        l[r][1] = &lanes[r][1][lane];
    }
    q4r2_block(pair, e, xb, dx, xcb, l, MR, FIVE, NL, MIN, PF);
}

KILN_TARGET_AVX2 KILN_INLINE void q4r2_rows(const kiln_mm *p, int64_t i0, int64_t n0, int64_t n1, int32_t *xc,
                                            const int MR, const int FIVE, const int NL, const int MIN, const int PF) {
    const int64_t nb = p->k / KILN_QK8_0;
    const size_t pbytes = KILN_Q4R_PAIR_OF(FIVE, MIN);
    const size_t gbytes = (size_t)(nb / 2) * pbytes;
    const int offset = MIN ? -1 : FIVE ? 16 : 8; /* MIN: xc holds Σx */
    const int once = NL || nb <= XC2_BLOCKS; /* else recomputed per group and k chunk (IQ4_NL: no offset) */
    if (once && !NL)
        for (int r = 0; r < MR; r++) xc2_fill(p->xq + (i0 + r) * p->kpad, 0, nb, offset, xc + r * XC2_BLOCKS);
    for (int64_t j0 = n0; j0 < n1; j0 += 16) {
        const uint8_t *grp = (const uint8_t *)p->w + (size_t)(j0 / 16) * gbytes;
        __m256 lanes[Q4R2_MAXR][2][Q4R2_LANES];
        for (int r = 0; r < MR; r++)
            for (int h = 0; h < 2; h++)
                for (int e = 0; e < Q4R2_LANES; e++) lanes[r][h][e] = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += XC2_BLOCKS) {
            const int64_t b1 = b0 + XC2_BLOCKS < nb ? b0 + XC2_BLOCKS : nb;
            if (!once)
                for (int r = 0; r < MR; r++) xc2_fill(p->xq + (i0 + r) * p->kpad, b0, b1, offset, xc + r * XC2_BLOCKS);
            const uint8_t *pair = grp + (size_t)(b0 / 2) * pbytes;
            /* k % 64 == 0 and b0 % 8 == 0: whole pairs, block b in lane b % 8; by 8
             * blocks (4 pairs unrolled: constant lane and byte offsets), then pairs */
            int64_t b = b0;
            for (; b + Q4R2_LANES <= b1; b += Q4R2_LANES, pair += 4 * pbytes)
#pragma GCC unroll 8
                for (int e = 0; e < Q4R2_LANES; e++)
                    q4r2_block_at(p, i0, pair + (e / 2) * pbytes, e & 1, b + e, b + e - b0, xc, lanes, e, MR, FIVE, NL, MIN, PF);
            for (; b < b1; b += 2, pair += pbytes)
#pragma GCC unroll 2
                for (int e = 0; e < 2; e++)
                    q4r2_block_at(p, i0, pair, e, b + e, b + e - b0, xc, lanes, (int)(b & 7) + e, MR, FIVE, NL, MIN, PF);
        }
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0, kiln_qa_lanes_sum8(lanes[r][0]));
            _mm256_storeu_ps(p->y + (i0 + r) * p->n + j0 + 8, kiln_qa_lanes_sum8(lanes[r][1]));
        }
    }
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W Q4_0_R16, Q5_0_R16 (FIVE),
// IQ4_NL_R16 (NL), Q4_1_R16 (MIN) or Q5_1_R16 (FIVE, MIN; n0, n1 multiples
// of 16), X q8_0-quantized (p->xq, p->xd).
KILN_TARGET_AVX2 KILN_INLINE void q4r2_gemv(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch, const int FIVE,
                                            const int NL, const int MIN, const int PF) {
    _Static_assert(Q4R2_MAXR * XC2_BLOCKS <= KILN_MM_SCRATCH_FLOATS, "the X corrections fit the kernel scratch");
    _Static_assert(XC2_BLOCKS % Q4R2_LANES == 0, "k chunks keep block b in lane b % 8");
    int32_t *xc = (int32_t *)scratch;
    int64_t i0 = 0;
    for (; i0 + 2 <= p->m; i0 += 2) q4r2_rows(p, i0, n0, n1, xc, 2, FIVE, NL, MIN, PF);
    if (i0 < p->m) q4r2_rows(p, i0, n0, n1, xc, 1, FIVE, NL, MIN, PF);
}

KILN_TARGET_AVX2 void kiln_mm_q4r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r2_gemv(p, n0, n1, scratch, 0, 0, 0, 1);
    else q4r2_gemv(p, n0, n1, scratch, 0, 0, 0, 0);
}

KILN_TARGET_AVX2 void kiln_mm_q5r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r2_gemv(p, n0, n1, scratch, 1, 0, 0, 1);
    else q4r2_gemv(p, n0, n1, scratch, 1, 0, 0, 0);
}

KILN_TARGET_AVX2 void kiln_mm_iq4nlr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r2_gemv(p, n0, n1, scratch, 0, 1, 0, 1);
    else q4r2_gemv(p, n0, n1, scratch, 0, 1, 0, 0);
}

KILN_TARGET_AVX2 void kiln_mm_q41r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r2_gemv(p, n0, n1, scratch, 0, 0, 1, 1);
    else q4r2_gemv(p, n0, n1, scratch, 0, 0, 1, 0);
}

KILN_TARGET_AVX2 void kiln_mm_q51r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    if (kiln_r16_prefetch_wanted()) q4r2_gemv(p, n0, n1, scratch, 1, 0, 1, 1);
    else q4r2_gemv(p, n0, n1, scratch, 1, 0, 1, 0);
}

#else
typedef int kiln_matmul_q4r_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
