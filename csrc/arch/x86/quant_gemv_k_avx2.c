/* quant_gemv_k_avx2.c — AVX2 GEMVs (decode, m below the GEMM's threshold)
 * of Q4_K, Q5_K and Q6_K against Q8_K activations: 8 W rows per step.
 *
 * The per-output dot (quant_k_avx2.c) pays, per row and super-block, a
 * scalar scale unpacking, a horizontal sum of its int32 lanes and scalar
 * float steps, so it reads Q4_K at about a quarter of the memory
 * bandwidth. Here each row's super-block still gives 8 int32 lanes whose
 * sum is its exact sub-block-scaled dot (vpmaddubsw, then vpmaddwd by the
 * sub-block scale broadcast from a vector of the row's scales), but the
 * horizontal sums of 8 rows are taken together (kiln_qa_hsum8) and the
 * float steps of quant.h run once per 8 rows, lane for lane the
 * reference's: the result is the reference's, bit for bit, so the GEMM's
 * and the dot's (decode ≡ prefill). Rows left over (n % 8) take the dot.
 *
 * Ranges (as the dot's): unsigned quants u <= 31 times Q8_K quants
 * |x| <= 128 give vpmaddubsw pairs <= 2·31·128 (no saturation); Q6_K's
 * 6-bit u <= 63: 2·63·128 = 16128; vpmaddwd by scales <= 63 (Q6_K |sc| <=
 * 128) is exact in int32. */
#include "../../kernels.h"
#include "quant_avx2.h"

#if KILN_X86

enum { GV_ROWS = 8 };

/* gv_scales_k4x2: the 12 packed scale bytes of two Q4_K/Q5_K blocks (a's
 * in the low 128 bits, b's in the high) unpacked with llama.cpp's 32-bit
 * masks, lane by lane: bytes 0-7 of each half are that block's eight
 * scales, bytes 8-15 its eight mins (kiln_get_scale_min_k4's values). */
KILN_QA __m256i gv_scales_k4x2(const uint8_t *a, const uint8_t *b) {
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + 4))),
                                              _mm_loadu_si128((const __m128i *)(b + 4)), 1);
    /* dwords u0 u1 u2 of each half: out = [u0 & k1, (u2 & k2) | ((u0 >> 6) & k3) << 4,
     *                                      u1 & k1, ((u2 >> 4) & k2) | ((u1 >> 6) & k3) << 4] */
    const __m256i pv = _mm256_shuffle_epi32(v, 0x98); /* [u0, u2, u1, u2] */
    const __m256i qv = _mm256_shuffle_epi32(v, 0x50); /* [u0, u0, u1, u1] */
    const __m256i k1 = _mm256_set1_epi32(0x3f3f3f3f), k2 = _mm256_set1_epi32(0x0f0f0f0f), k3 = _mm256_set1_epi32(0x03030303);
    const __m256i odd = _mm256_or_si256(_mm256_and_si256(_mm256_srlv_epi32(pv, _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4)), k2),
                                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(qv, 6), k3), 4));
    return _mm256_blend_epi32(_mm256_and_si256(pv, k1), odd, 0xAA);
}

/* gv_q45_row: one Q4_K (q5 = 0) or Q5_K super-block blk (sm8: its scales
 * and mins, gv_scales_k4x2) against X block x:
 * *acc gets 8 int32 lanes summing to Σ_j sc_j·Σ q·x, *summ 4 lanes summing
 * to Σ_j m_j·(X quant sum of sub-block j), xs16 holding those X sums. */
KILN_QA void gv_q45_row(const uint8_t *blk, __m128i sm8, int q5, const block_q8_K *x, __m128i xs16, __m256i *acc,
                        __m128i *summ) {
    const __m256i ms = _mm256_cvtepu8_epi16(sm8);
    *summ = _mm_madd_epi16(_mm256_extracti128_si256(ms, 1), xs16);
    const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(ms));
    const uint8_t *qs = blk + (q5 ? 48 : 16);
    const __m256i low4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    const __m256i hbits = q5 ? _mm256_loadu_si256((const __m256i *)(blk + 16)) : _mm256_setzero_si256();
    __m256i a = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
        const __m256i q4 = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(q4, low4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), low4);
        if (q5) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c), one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hbits, 2 * c + 1), one), 4));
        }
        /* the int16 scale of sub-blocks 2c and 2c+1 in every pair */
        const __m256i s0 = _mm256_shuffle_epi8(sc, _mm256_set1_epi16((short)((4 * c + 1) << 8 | 4 * c)));
        const __m256i s1 = _mm256_shuffle_epi8(sc, _mm256_set1_epi16((short)((4 * c + 3) << 8 | (4 * c + 2))));
        const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c)));
        const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(x->qs + 64 * c + 32)));
        a = _mm256_add_epi32(a, _mm256_add_epi32(_mm256_madd_epi16(p0, s0), _mm256_madd_epi16(p1, s1)));
    }
    *acc = a;
}

/* gv_q6_row: one Q6_K super-block against X block x: 8 int32 lanes summing
 * to Σ_g sc_g·Σ (q-32)·x — the unsigned 6-bit quants' products, less
 * 32·Σ_g sc_g·bsum_g. */
KILN_QA __m256i gv_q6_row(const block_q6_K *w, const block_q8_K *x) {
    const __m256i low4 = _mm256_set1_epi8(0xF), three = _mm256_set1_epi8(3);
    const __m128i s8 = _mm_loadu_si128((const __m128i *)w->scales);
    const __m256i s16 = _mm256_cvtepi8_epi16(s8); /* the 16 scales as int16 */
    const __m256i sh[2] = {_mm256_broadcastsi128_si256(_mm256_castsi256_si128(s16)),   /* scales 0..7 */
                           _mm256_broadcastsi128_si256(_mm256_extracti128_si256(s16, 1))}; /* 8..15 */
    __m256i a = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) {
        const __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half));
        const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w->ql + 64 * half + 32));
        const __m256i qh = _mm256_loadu_si256((const __m256i *)(w->qh + 32 * half));
        __m256i q[4];
        q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
        q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4));
        q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4));
        q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4));
#pragma GCC unroll 4
        for (int t = 0; t < 4; t++) {
            /* groups g = 8·half + 2t (low 128 bits) and g+1 (high): int16 2t and 2t+1 of sh[half] */
            const __m256i s = _mm256_shuffle_epi8(sh[half], _mm256_set_m128i(_mm_set1_epi16((short)((4 * t + 3) << 8 | (4 * t + 2))),
                                                                              _mm_set1_epi16((short)((4 * t + 1) << 8 | 4 * t))));
            const __m256i p = _mm256_maddubs_epi16(q[t], _mm256_loadu_si256((const __m256i *)(x->qs + 128 * half + 32 * t)));
            a = _mm256_add_epi32(a, _mm256_madd_epi16(p, s));
        }
    }
    const __m256i off = _mm256_madd_epi16(s16, _mm256_loadu_si256((const __m256i *)x->bsums));
    return _mm256_sub_epi32(a, _mm256_slli_epi32(off, 5));
}

/* gv_hsum8_128: lane t = the sum of v[t]'s four int32 lanes. */
KILN_QA __m256i gv_hsum8_128(const __m128i v[8]) {
    const __m256i v01 = _mm256_set_m128i(v[1], v[0]), v23 = _mm256_set_m128i(v[3], v[2]);
    const __m256i v45 = _mm256_set_m128i(v[5], v[4]), v67 = _mm256_set_m128i(v[7], v[6]);
    /* a: rows 0,2 | 1,3 (two partial sums each); b: rows 4,6 | 5,7 */
    const __m256i a = _mm256_hadd_epi32(v01, v23), b = _mm256_hadd_epi32(v45, v67);
    const __m256i s = _mm256_hadd_epi32(a, b); /* rows 0,2,4,6 | 1,3,5,7 */
    return _mm256_permutevar8x32_epi32(s, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* gv_gemv: y[0:m, n0:n1] for a Q4_K, Q5_K or Q6_K weight (ty: 4, 5, 6),
 * 8 W rows per step; leftover rows by the dot (the same bits). */
KILN_QA void gv_gemv(int ty, size_t bsz, kiln_qdot_fn dot, const kiln_mm *p, int64_t n0, int64_t n1) {
    const int64_t nb = p->k / KILN_QK_K;
    int64_t j0 = n0;
    for (; j0 + GV_ROWS <= n1; j0 += GV_ROWS) {
        const uint8_t *rows[GV_ROWS];
        for (int r = 0; r < GV_ROWS; r++) rows[r] = (const uint8_t *)p->w + (size_t)(j0 + r) * p->wstride;
        /* W rows are contiguous in the models (wstride = nb·bsz): a linear
         * prefetch of the next group, GV_ROWS blocks per super-block */
        const size_t step = GV_ROWS * bsz;
        const char *pf = (const char *)rows[0] + GV_ROWS * p->wstride, *pf_to = pf;
        for (int64_t i = 0; i < p->m; i++) {
            const block_q8_K *x = (const block_q8_K *)p->xk + i * nb;
            _Alignas(32) float lanes[8][GV_ROWS] = {{0}};
            for (int64_t b = 0; b < nb; b++) {
                if (i == 0) /* the next group of rows, as far as this one has come */
                    for (pf_to += step; pf < pf_to; pf += 64) _mm_prefetch(pf, _MM_HINT_T0);
                __m256i acc[GV_ROWS];
                __m128i summ[GV_ROWS];
                uint32_t ds[GV_ROWS]; /* the row's f16 d (and Q4_K/Q5_K dmin above it) */
                __m256i sm = _mm256_setzero_si256(); /* Q4_K/Q5_K: two rows' scales and mins */
                const __m128i xs16 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)x[b].bsums),
                                                    _mm_loadu_si128((const __m128i *)(x[b].bsums + 8)));
#pragma GCC unroll 8
                for (int r = 0; r < GV_ROWS; r++) {
                    const uint8_t *blk = rows[r] + (size_t)b * bsz;
                    if (ty == 6) {
                        const block_q6_K *w = (const block_q6_K *)blk;
                        acc[r] = gv_q6_row(w, &x[b]);
                        ds[r] = w->d;
                    } else {
                        memcpy(&ds[r], blk, 4);
                        if (r % 2 == 0) sm = gv_scales_k4x2(blk, rows[r + 1] + (size_t)b * bsz);
                        gv_q45_row(blk, r % 2 ? _mm256_extracti128_si256(sm, 1) : _mm256_castsi256_si128(sm), ty == 5, &x[b],
                                   xs16, &acc[r], &summ[r]);
                    }
                }
                /* the 8 rows' d (low 128 bits) and dmin (high) halves, built in registers
                 * (a vector load of scalar stores would stall on store forwarding) */
                const __m256i dw = _mm256_permute4x64_epi64(
                    _mm256_shuffle_epi8(_mm256_setr_epi32((int)ds[0], (int)ds[1], (int)ds[2], (int)ds[3], (int)ds[4],
                                                          (int)ds[5], (int)ds[6], (int)ds[7]),
                                        _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9,
                                                         12, 13, 2, 3, 6, 7, 10, 11, 14, 15)),
                    0xD8);
                const __m256 dx = _mm256_set1_ps(x[b].d);
                float *lane = lanes[b % 8];
                __m256 f = _mm256_load_ps(lane);
                f = _mm256_add_ps(f, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(dw)), dx),
                                                   _mm256_cvtepi32_ps(kiln_qa_hsum8(acc))));
                if (ty != 6)
                    f = _mm256_sub_ps(f, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(dw, 1)), dx),
                                                       _mm256_cvtepi32_ps(gv_hsum8_128(summ))));
                _mm256_store_ps(lane, f);
            }
            __m256 l[8];
            for (int t = 0; t < 8; t++) l[t] = _mm256_load_ps(lanes[t]);
            const __m256 s = kiln_qa_lanes_sum8(l);
            _mm256_storeu_ps(p->y + i * p->n + j0, s);
        }
    }
    for (; j0 < n1; j0++)
        for (int64_t i = 0; i < p->m; i++)
            p->y[i * p->n + j0] = dot((const uint8_t *)p->w + (size_t)j0 * p->wstride, (const block_q8_K *)p->xk + i * nb, NULL, nb);
}

KILN_TARGET_AVX2 void kiln_mm_gemv_q4_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    gv_gemv(4, sizeof(block_q4_K), kiln_dot_q4_K_avx2, p, n0, n1);
}

KILN_TARGET_AVX2 void kiln_mm_gemv_q5_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    gv_gemv(5, sizeof(block_q5_K), kiln_dot_q5_K_avx2, p, n0, n1);
}

KILN_TARGET_AVX2 void kiln_mm_gemv_q6_K_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    (void)scratch;
    gv_gemv(6, sizeof(block_q6_K), kiln_dot_q6_K_avx2, p, n0, n1);
}

#else
typedef int kiln_quant_gemv_k_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
