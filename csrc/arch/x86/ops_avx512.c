/* ops_avx512.c — AVX-512 (F/BW/VL/DQ) variant of the element-wise / row-wise ops.
 *
 * Sixteen floats per vector; tails use masked loads/stores (masked-off lanes
 * never fault), so every element goes through the same vector math wherever
 * it sits. The code mirrors ops_avx2.c step for step — same expf algorithm,
 * same rounding points — so AVX-512 and AVX2 give the same bits for every
 * span op and rope; rmsnorm/softmax differ only in the order of the double
 * sums. Every function and helper carries KILN_TARGET_AVX512. */
#include "ops.h"

#if KILN_X86
#include <immintrin.h>

#define A5 KILN_TARGET_AVX512

/* tail_mask selects the first r (< 16) lanes. */
A5 static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

/* expf16 is expf8 of ops_avx2.c on sixteen lanes, the lane selects done with
 * mask registers instead of and/or: max error ~1.5 ulp, +inf above ~88.7,
 * correct subnormals, exp(-inf) = 0, NaN propagates. */
A5 static inline __m512 expf16(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(z), 23);
    const __m512 k = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_castps_si512(_mm512_set1_ps(1))));
    const __m512 absn = _mm512_abs_ps(n);
    const __mmask16 c = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(126), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_mul_ps(_mm512_set1_ps(0x1.ffffecp-1f), b));
    const __m512 normal = _mm512_fmadd_ps(j, k, k);
    if (!c) return normal;
    /* |n| > 126: 2^n is split as s1*s2 so neither factor overflows/underflows early */
    const __mmask16 le = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
    const __m512i g = _mm512_maskz_mov_epi32(le, _mm512_set1_epi32((int)0x82000000u));
    const __m512 s1 = _mm512_castsi512_ps(_mm512_add_epi32(g, _mm512_set1_epi32(0x7f000000)));
    const __m512 s2 = _mm512_castsi512_ps(_mm512_sub_epi32(e, g));
    const __mmask16 d = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 big = _mm512_mul_ps(_mm512_fmadd_ps(s2, j, s2), s1);
    const __m512 res = _mm512_mask_blend_ps(c, normal, big);   /* c ? big : normal */
    return _mm512_mask_blend_ps(d, res, _mm512_mul_ps(s1, s1)); /* d ? s1*s1 : res */
}

/* tanh16 is tanh8 of ops_avx2.c on sixteen lanes. */
A5 static inline __m512 tanh16(__m512 z) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 a = _mm512_abs_ps(z);
    const __m512 e = expf16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), a));
    const __m512 big = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    const __m512 z2 = _mm512_mul_ps(a, a);
    __m512 p = _mm512_set1_ps(62.0f / 2835.0f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-1.0f / 3.0f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z2), a, a);
    const __m512 t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.1f), _CMP_LT_OQ), big, small);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t),
                                               _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000u))));
}

/* geglu16 is gelu_tanh(g) * u, the reference's formula with tanh16. */
A5 static inline __m512 geglu16(__m512 g, __m512 u) {
    const __m512 inner = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.79788456080286535588f), g),
                                       _mm512_add_ps(_mm512_set1_ps(1.0f),
                                                     _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), g), g)));
    const __m512 gelu =
        _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), g), _mm512_add_ps(_mm512_set1_ps(1.0f), tanh16(inner)));
    return _mm512_mul_ps(gelu, u);
}

/* silu_mul16 is (g / (1 + exp(-g))) * u, same rounding points as the reference. */
A5 static inline __m512 silu_mul16(__m512 g, __m512 u) {
    const __m512 e = expf16(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

/* f32x16_to_bf16 rounds sixteen floats to bf16 exactly as kiln_fp32_to_bf16. */
A5 static inline __m256i f32x16_to_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i abs = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(is_nan, rounded, nan)); /* values < 65536: exact */
}

/* add_pd16 widens the sixteen floats of v to double and adds them into two accumulators. */
A5 static inline void add_pd16(__m512d *acc0, __m512d *acc1, __m512 v) {
    *acc0 = _mm512_add_pd(*acc0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *acc1 = _mm512_add_pd(*acc1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

/* ---- conversions ---------------------------------------------------------- */

/* f16 [n] -> f32 [n] with vcvtph2ps (exact). */
A5 static void avx512_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)));
    }
}

/* bf16 [n] -> f32 [n]: widen and shift (exact). */
A5 static void avx512_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_ps(y + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
}

/* f32 [n] -> f16 [n] with vcvtps2ph, round to nearest even. */
A5 static void avx512_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m256i h =
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(y + i, m, h);
    }
}

/* f32 [n] -> bf16 [n], nearest even, NaN kept. */
A5 static void avx512_f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(y + i), f32x16_to_bf16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm256_mask_storeu_epi16(y + i, m, f32x16_to_bf16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* Q8_0 [nb blocks] -> f32 [nb*32]: int8 -> int32 -> float, times d. */
A5 static void avx512_q8_0_to_f32(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const __m512 d = _mm512_set1_ps(kiln_fp16_to_fp32(x[b].d));
        float *yb = y + b * KILN_QK8_0;
        for (int j = 0; j < KILN_QK8_0; j += 16) {
            const __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x[b].qs + j)));
            _mm512_storeu_ps(yb + j, _mm512_mul_ps(_mm512_cvtepi32_ps(q), d));
        }
    }
}

/* ---- row ops -------------------------------------------------------------- */

/* rmsnorm, one row x[n] -> y[n]: float squares, double sum (masked-off tail
 * lanes are +0 and add nothing), then the reference's float epilogue. */
A5 static void avx512_rmsnorm_row(float *y, const float *x, const float *w, int64_t n, float eps) {
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        add_pd16(&acc0, &acc1, _mm512_mul_ps(v, v));
    }
    if (i < n) {
        const __m512 v = _mm512_maskz_loadu_ps(tail_mask(n - i), x + i);
        add_pd16(&acc0, &acc1, _mm512_mul_ps(v, v));
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    const __m512 vs = _mm512_set1_ps(scale);
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
        if (w) v = _mm512_mul_ps(v, _mm512_loadu_ps(w + i));
        _mm512_storeu_ps(y + i, v);
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

/* softmax, one row x[n] -> y[n]: exact max, vector expf, Σ in double,
 * y *= (float)(1/Σ). Masked-off lanes load -inf, whose exp is 0. */
A5 static void avx512_softmax_row(float *y, const float *x, int64_t n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 vmax = ninf;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    if (i < n) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = expf16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(y + i, e);
        add_pd16(&acc0, &acc1, e);
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 e = expf16(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, m, x + i), vm));
        _mm512_mask_storeu_ps(y + i, m, e);
        add_pd16(&acc0, &acc1, e);
    }
    const __m512 vi = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1))));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), vi));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), vi));
    }
}

/* ---- element-wise --------------------------------------------------------- */

/* swiglu span [n]: y = silu(g) * u. */
A5 static void avx512_swiglu(float *y, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, silu_mul16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, silu_mul16(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

/* geglu_tanh span [n]; the tail masked. */
A5 static void avx512_geglu_tanh(float *y, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, geglu16(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, geglu16(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
    }
}

/* softcap span [n]: y = cap * tanh(x / cap); the tail masked. */
A5 static void avx512_softcap(float *y, const float *x, float cap, int64_t n) {
    const __m512 c = _mm512_set1_ps(cap);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(c, tanh16(_mm512_div_ps(_mm512_loadu_ps(x + i), c))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(c, tanh16(_mm512_div_ps(v, c))));
    }
}

/* add span [n]: y = a + b. */
A5 static void avx512_add(float *y, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

/* scale span [n]: y = x * s. */
A5 static void avx512_scale(float *y, const float *x, float s, int64_t n) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    }
}

/* rope_pairs16 rotates eight interleaved pairs: even lanes x0c - x1s, odd
 * lanes x1c + x0s (AVX-512 has no addsub: add, then subtract under 0x5555). */
A5 static inline __m512 rope_pairs16(__m512 v, __m512 vc, __m512 vs) {
    const __m512 a = _mm512_mul_ps(v, vc);
    const __m512 b = _mm512_mul_ps(_mm512_permute_ps(v, 0xB1), vs);
    return _mm512_mask_sub_ps(_mm512_add_ps(a, b), (__mmask16)0x5555, a, b);
}

/* rope, one head x[rope_dim] in place; no FMA, so bit-identical to the
 * reference. rope_dim is even, so a NORMAL tail holds whole pairs. */
A5 static void avx512_rope_head(float *x, const float *c, const float *s, int rope_dim, int mode) {
    if (mode == KILN_ROPE_NORMAL) {
        int i = 0;
        for (; i + 16 <= rope_dim; i += 16)
            _mm512_storeu_ps(x + i, rope_pairs16(_mm512_loadu_ps(x + i), _mm512_loadu_ps(c + i), _mm512_loadu_ps(s + i)));
        if (i < rope_dim) {
            const __mmask16 m = tail_mask(rope_dim - i);
            _mm512_mask_storeu_ps(x + i, m,
                                  rope_pairs16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, c + i),
                                               _mm512_maskz_loadu_ps(m, s + i)));
        }
    } else {
        const int half = rope_dim / 2;
        float *x1p = x + half;
        for (int j = 0; j < half; j += 16) {
            const __mmask16 m = half - j >= 16 ? (__mmask16)0xffff : tail_mask(half - j);
            const __m512 x0 = _mm512_maskz_loadu_ps(m, x + j), x1 = _mm512_maskz_loadu_ps(m, x1p + j);
            const __m512 vc = _mm512_maskz_loadu_ps(m, c + j), vs = _mm512_maskz_loadu_ps(m, s + j);
            const __m512 r0 = _mm512_sub_ps(_mm512_mul_ps(x0, vc), _mm512_mul_ps(x1, vs));
            const __m512 r1 = _mm512_add_ps(_mm512_mul_ps(x0, vs), _mm512_mul_ps(x1, vc));
            _mm512_mask_storeu_ps(x + j, m, r0);
            _mm512_mask_storeu_ps(x1p + j, m, r1);
        }
    }
}

const kiln_ops_kernels kiln_ops_avx512 = {
    .f16_to_f32 = avx512_f16_to_f32,
    .bf16_to_f32 = avx512_bf16_to_f32,
    .f32_to_f16 = avx512_f32_to_f16,
    .f32_to_bf16 = avx512_f32_to_bf16,
    .q8_0_to_f32 = avx512_q8_0_to_f32,
    .rmsnorm_row = avx512_rmsnorm_row,
    .softmax_row = avx512_softmax_row,
    .swiglu = avx512_swiglu,
    .geglu_tanh = avx512_geglu_tanh,
    .softcap = avx512_softcap,
    .add = avx512_add,
    .scale = avx512_scale,
    .rope_head = avx512_rope_head,
};

#else
typedef int kiln_ops_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
