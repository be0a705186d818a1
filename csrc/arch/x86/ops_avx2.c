/* ops_avx2.c — AVX2 + FMA + F16C variant of the element-wise / row-wise ops.
 *
 * Eight floats per vector. Tails (n % 8) are copied into a padded 8-wide
 * buffer and run through the same vector code, so an element's bits never
 * depend on where it sits in a span (the thread-count determinism contract).
 * Compiled without -mavx2: every function and helper here carries
 * KILN_TARGET_AVX2 and runs only when the dispatcher picked this variant. */
#include "ops.h"

#if KILN_X86
#include <immintrin.h>

#define A2 KILN_TARGET_AVX2

/* ---- helpers -------------------------------------------------------------- */

/* hsum_pd sums the four doubles of v. */
A2 static inline double hsum_pd(__m256d v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* hmax_ps is the largest of the eight floats of v. */
A2 static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* expf8 is expf on eight lanes: ARM optimized-routines' expf as ported in
 * ggml (ggml_v_expf): max error ~1.5 ulp, overflow to +inf above ~88.7,
 * correct subnormals, exp(-inf) = 0, NaN propagates. */
A2 static inline __m256 expf8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 c = _mm256_cmp_ps(absn, _mm256_set1_ps(126), _CMP_GT_OQ);
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(c)) return _mm256_fmadd_ps(j, k, k);
    /* |n| > 126: 2^n is split as s1*s2 so neither factor overflows/underflows early */
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 d = _mm256_cmp_ps(absn, _mm256_set1_ps(192), _CMP_GT_OQ);
    return _mm256_or_ps(
        _mm256_and_ps(d, _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(d, _mm256_or_ps(_mm256_and_ps(c, _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                                         _mm256_andnot_ps(c, _mm256_fmadd_ps(k, j, k)))));
}

/* silu_mul8 is (g / (1 + exp(-g))) * u, rounded at the same points as the
 * scalar reference (only exp differs). */
A2 static inline __m256 silu_mul8(__m256 g, __m256 u) {
    const __m256 e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

/* tanh8 is tanh: (1 - e)/(1 + e) with e = exp(-2|z|) (never overflows;
 * |z| large gives 1), the sign put back; below |z| = 0.1, where 1 - e
 * cancels, the odd series to z⁹ (truncation < 3e-11 relative). Within a
 * few ulp of libm's tanhf; NaN propagates. */
A2 static inline __m256 tanh8(__m256 z) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 a = _mm256_andnot_ps(sign, z);
    const __m256 e = expf8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), a));
    const __m256 big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    const __m256 z2 = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(62.0f / 2835.0f);
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-17.0f / 315.0f));
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, z2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z2), a, a);
    const __m256 t = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.1f), _CMP_LT_OQ));
    return _mm256_or_ps(t, _mm256_and_ps(sign, z));
}

/* geglu8 is gelu_tanh(g) * u, the reference's formula with tanh8. */
A2 static inline __m256 geglu8(__m256 g, __m256 u) {
    const __m256 inner = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.79788456080286535588f), g),
                                       _mm256_add_ps(_mm256_set1_ps(1.0f),
                                                     _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.044715f), g), g)));
    const __m256 gelu =
        _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), g), _mm256_add_ps(_mm256_set1_ps(1.0f), tanh8(inner)));
    return _mm256_mul_ps(gelu, u);
}

/* softcap8 is cap * tanh(x / cap). */
A2 static inline __m256 softcap8(__m256 x, __m256 cap) { return _mm256_mul_ps(cap, tanh8(_mm256_div_ps(x, cap))); }

/* f32x8_to_bf16 rounds eight floats to bf16 (nearest even, NaN -> quiet
 * NaN) exactly as kiln_fp32_to_bf16, returning them packed in 128 bits. */
A2 static inline __m128i f32x8_to_bf16(__m256 v) {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    const __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded =
        _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
    /* 32 -> 16 bits: values are < 65536 so unsigned saturation is exact */
    const __m256i p = _mm256_packus_epi32(r, r);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08));
}

/* ---- conversions ---------------------------------------------------------- */

/* f16 [n] -> f32 [n] with vcvtph2ps (exact). */
A2 static void avx2_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    if (i < n) {
        uint16_t tx[8] = {0};
        float ty[8];
        memcpy(tx, x + i, (size_t)(n - i) * 2);
        _mm256_storeu_ps(ty, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tx)));
        memcpy(y + i, ty, (size_t)(n - i) * 4);
    }
}

/* bf16 [n] -> f32 [n]: widen and shift into the high half (exact). */
A2 static void avx2_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) y[i] = kiln_bf16_to_fp32(x[i]); /* a shift: same bits either way */
}

/* f32 [n] -> f16 [n] with vcvtps2ph, round to nearest even. */
A2 static void avx2_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    if (i < n) {
        float tx[8] = {0};
        uint16_t ty[8];
        memcpy(tx, x + i, (size_t)(n - i) * 4);
        _mm_storeu_si128((__m128i *)ty,
                         _mm256_cvtps_ph(_mm256_loadu_ps(tx), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        memcpy(y + i, ty, (size_t)(n - i) * 2);
    }
}

/* f32 [n] -> bf16 [n], nearest even, NaN kept. */
A2 static void avx2_f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(y + i), f32x8_to_bf16(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tx[8] = {0};
        uint16_t ty[8];
        memcpy(tx, x + i, (size_t)(n - i) * 4);
        _mm_storeu_si128((__m128i *)ty, f32x8_to_bf16(_mm256_loadu_ps(tx)));
        memcpy(y + i, ty, (size_t)(n - i) * 2);
    }
}

/* Q8_0 [nb blocks] -> f32 [nb*32]: int8 -> int32 -> float, times d (exact
 * same single rounding as the reference). Blocks are 34 bytes, so loads are
 * unaligned 8-byte loads. */
A2 static void avx2_q8_0_to_f32(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++) {
        const __m256 d = _mm256_set1_ps(kiln_fp16_to_fp32(x[b].d));
        float *yb = y + b * KILN_QK8_0;
        for (int j = 0; j < KILN_QK8_0; j += 8) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x[b].qs + j)));
            _mm256_storeu_ps(yb + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

/* ---- row ops -------------------------------------------------------------- */

/* rmsnorm, one row x[n] -> y[n]. Squares rounded in float and accumulated in
 * double (as the reference and llama.cpp); only the summation order differs
 * (8 double lanes, then a fixed reduction), which moves the double sum by a
 * few 1e-16 relative — far below the float rounding of the mean. */
A2 static void avx2_rmsnorm_row(float *y, const float *x, const float *w, int64_t n, float eps) {
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 sq = _mm256_mul_ps(v, v);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    double sum = hsum_pd(_mm256_add_pd(acc0, acc1));
    for (int64_t t = i; t < n; t++) sum += (double)(x[t] * x[t]);
    const float mean = (float)(sum / (double)n);
    const float scale = 1.0f / sqrtf(mean + eps);
    const __m256 vs = _mm256_set1_ps(scale);
    i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
        for (; i < n; i++) y[i] = (x[i] * scale) * w[i];
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        for (; i < n; i++) y[i] = x[i] * scale;
    }
}

/* softmax, one row x[n] -> y[n]: exact max, vector expf, Σ in double, then
 * y *= (float)(1/Σ). The tail is padded with -inf (exp = 0, adds nothing). */
A2 static void avx2_softmax_row(float *y, const float *x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float max = hmax_ps(vmax);
    for (; i < n; i++) max = x[i] > max ? x[i] : max;
    const __m256 vm = _mm256_set1_ps(max);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(y + i, e);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (i < n) {
        float t[8];
        for (int l = 0; l < 8; l++) t[l] = i + l < n ? x[i + l] : -INFINITY;
        const __m256 e = expf8(_mm256_sub_ps(_mm256_loadu_ps(t), vm));
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        _mm256_storeu_ps(t, e);
        memcpy(y + i, t, (size_t)(n - i) * 4);
    }
    const float inv = (float)(1.0 / hsum_pd(_mm256_add_pd(acc0, acc1)));
    const __m256 vi = _mm256_set1_ps(inv);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), vi));
    for (; i < n; i++) y[i] *= inv;
}

/* ---- element-wise --------------------------------------------------------- */

/* swiglu span [n]: y = silu(g) * u; tail padded so it uses the same expf8. */
A2 static void avx2_swiglu(float *y, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, silu_mul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        float tg[8] = {0}, tu[8] = {0}, ty[8];
        memcpy(tg, g + i, (size_t)(n - i) * 4);
        memcpy(tu, u + i, (size_t)(n - i) * 4);
        _mm256_storeu_ps(ty, silu_mul8(_mm256_loadu_ps(tg), _mm256_loadu_ps(tu)));
        memcpy(y + i, ty, (size_t)(n - i) * 4);
    }
}

/* geglu_tanh span [n]; the tail padded so it goes through the same tanh8. */
A2 static void avx2_geglu_tanh(float *y, const float *g, const float *u, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, geglu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) {
        float tg[8] = {0}, tu[8] = {0}, ty[8];
        memcpy(tg, g + i, (size_t)(n - i) * 4);
        memcpy(tu, u + i, (size_t)(n - i) * 4);
        _mm256_storeu_ps(ty, geglu8(_mm256_loadu_ps(tg), _mm256_loadu_ps(tu)));
        memcpy(y + i, ty, (size_t)(n - i) * 4);
    }
}

/* softcap span [n]; the tail padded likewise. */
A2 static void avx2_softcap(float *y, const float *x, float cap, int64_t n) {
    const __m256 c = _mm256_set1_ps(cap);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, softcap8(_mm256_loadu_ps(x + i), c));
    if (i < n) {
        float tx[8] = {0}, ty[8];
        memcpy(tx, x + i, (size_t)(n - i) * 4);
        _mm256_storeu_ps(ty, softcap8(_mm256_loadu_ps(tx), c));
        memcpy(y + i, ty, (size_t)(n - i) * 4);
    }
}

/* add span [n]: y = a + b (IEEE add: scalar tail gives the same bits). */
A2 static void avx2_add(float *y, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* scale span [n]: y = x * s. */
A2 static void avx2_scale(float *y, const float *x, float s, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; i++) y[i] = x[i] * s;
}

/* rope, one head x[rope_dim] in place. Products and the add/sub are
 * separate roundings (no FMA), so the result is bit-identical to the
 * reference. NORMAL: addsub(x*c, swap(x)*s) gives x0c - x1s in even lanes
 * and x1c + x0s in odd lanes. */
A2 static void avx2_rope_head(float *x, const float *c, const float *s, int rope_dim, int mode) {
    if (mode == KILN_ROPE_NORMAL) {
        int i = 0;
        for (; i + 8 <= rope_dim; i += 8) {
            const __m256 v = _mm256_loadu_ps(x + i);
            const __m256 a = _mm256_mul_ps(v, _mm256_loadu_ps(c + i));
            const __m256 b = _mm256_mul_ps(_mm256_permute_ps(v, 0xB1), _mm256_loadu_ps(s + i));
            _mm256_storeu_ps(x + i, _mm256_addsub_ps(a, b));
        }
        for (; i < rope_dim; i += 2) {
            const float x0 = x[i], x1 = x[i + 1];
            x[i] = x0 * c[i] - x1 * s[i];
            x[i + 1] = x0 * s[i] + x1 * c[i];
        }
    } else {
        const int half = rope_dim / 2;
        float *x1p = x + half;
        int j = 0;
        for (; j + 8 <= half; j += 8) {
            const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x1p + j);
            const __m256 vc = _mm256_loadu_ps(c + j), vs = _mm256_loadu_ps(s + j);
            _mm256_storeu_ps(x + j, _mm256_sub_ps(_mm256_mul_ps(x0, vc), _mm256_mul_ps(x1, vs)));
            _mm256_storeu_ps(x1p + j, _mm256_add_ps(_mm256_mul_ps(x0, vs), _mm256_mul_ps(x1, vc)));
        }
        for (; j < half; j++) {
            const float x0 = x[j], x1 = x1p[j];
            x[j] = x0 * c[j] - x1 * s[j];
            x1p[j] = x0 * s[j] + x1 * c[j];
        }
    }
}

const kiln_ops_kernels kiln_ops_avx2 = {
    .f16_to_f32 = avx2_f16_to_f32,
    .bf16_to_f32 = avx2_bf16_to_f32,
    .f32_to_f16 = avx2_f32_to_f16,
    .f32_to_bf16 = avx2_f32_to_bf16,
    .q8_0_to_f32 = avx2_q8_0_to_f32,
    .rmsnorm_row = avx2_rmsnorm_row,
    .softmax_row = avx2_softmax_row,
    .swiglu = avx2_swiglu,
    .geglu_tanh = avx2_geglu_tanh,
    .softcap = avx2_softcap,
    .add = avx2_add,
    .scale = avx2_scale,
    .rope_head = avx2_rope_head,
};

#else
typedef int kiln_ops_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
