/* attention_window_avx2.c — kiln_attn_window's row kernel for AVX2 + FMA +
 * F16C: the portable kernel's algorithm (attention_window.c) with 8-lane
 * vectors. Per row the order is fixed: a score is one 8-lane FMA
 * accumulator over head_dim (a scalar tail after it), reduced by a fixed
 * tree, then * scale and the soft-cap; exp and tanh are libm's; P·V is
 * acc = acc*alpha, then acc = fma(p_j, v_j, acc) for j in order. Nothing in
 * it depends on other rows, so decode == prefill and batches are invariant. */
#include "../../attention_window.h"

#if KILN_X86
#include <immintrin.h>

/* hsum8 is ((x0+x4)+(x2+x6)) + ((x1+x5)+(x3+x7)): a fixed tree. */
KILN_TARGET_AVX2 static inline float hsum8(__m256 v) {
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    a = _mm_add_ps(a, _mm_movehl_ps(a, a));
    a = _mm_add_ss(a, _mm_movehdup_ps(a));
    return _mm_cvtss_f32(a);
}

KILN_TARGET_AVX2 static inline float dot_avx2(const float *q, const float *k, int D) {
    __m256 acc = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= D; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), acc);
    float r = hsum8(acc);
    for (; d < D; d++) r += q[d] * k[d];
    return r;
}

/* tile_f32: rows j0..j1-1 of a cache block as F32 (a view, or converted). */
KILN_TARGET_AVX2 static const float *tile_f32(const void *rows, int type, int j0, int j1, int D, float *dst) {
    if (type == KILN_TYPE_F32) return (const float *)rows;
    if (type == KILN_TYPE_Q8_0) {
        kiln_attn_q8_rows_avx2(rows, j0, j1, D, dst);
        return dst;
    }
    const uint16_t *h = rows;
    int64_t e = (int64_t)j0 * D;
    const int64_t end = (int64_t)j1 * D;
    for (; e + 8 <= end; e += 8)
        _mm256_storeu_ps(dst + e, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + e))));
    for (; e < end; e++) dst[e] = kiln_fp16_to_fp32(h[e]);
    return dst;
}

KILN_TARGET_AVX2 void kiln_window_row_avx2(const kiln_window_job *j, int64_t s, int64_t qi, int g, float *scratch) {
    const kiln_attn_params *p = &j->p;
    const int D = p->head_dim, bs = p->block_size, G = p->group, type = p->kv_type;
    const int64_t dp = kiln_attn_pad16(D);
    int lo, pos;
    kiln_window_span(j, s, qi, &lo, &pos);
    const int32_t *table = j->block_tables + s * j->max_blocks;
    float *acc = scratch;
    float *sc = acc + G * dp;
    float *kt = sc + kiln_attn_pad16(bs);
    float *vt = kt + kiln_attn_pad16((int64_t)bs * D);
    float *m = vt + kiln_attn_pad16((int64_t)bs * D);
    float *l = m + kiln_attn_pad16(G);
    const float *q0 = j->q + (qi * p->n_head + (int64_t)g * G) * D;
    for (int h = 0; h < G; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
        for (int d = 0; d < D; d++) acc[h * dp + d] = 0.0f;
    }
    for (int base = lo - lo % bs; base <= pos; base += bs) {
        const int j0 = base < lo ? lo - base : 0;
        const int j1 = pos - base + 1 < bs ? pos - base + 1 : bs;
        const int block = table[base / bs];
        const float *K = tile_f32(kiln_attn_kv_rows(p, p->k_cache, block, g), type, j0, j1, D, kt);
        const float *V = tile_f32(kiln_attn_kv_rows(p, p->v_cache, block, g), type, j0, j1, D, vt);
        for (int h = 0; h < G; h++) {
            const float *q = q0 + (int64_t)h * D;
            float *a = acc + h * dp;
            float mt = -INFINITY;
            for (int t = j0; t < j1; t++) {
                float v = dot_avx2(q, K + (int64_t)t * D, D) * p->scale;
                if (j->softcap > 0.0f) v = j->softcap * tanhf(v / j->softcap);
                sc[t] = v;
                mt = v > mt ? v : mt;
            }
            const float mnew = m[h] > mt ? m[h] : mt;
            const float alpha = m[h] == -INFINITY ? 0.0f : expf(m[h] - mnew);
            float ls = 0.0f;
            for (int t = j0; t < j1; t++) {
                sc[t] = expf(sc[t] - mnew);
                ls += sc[t];
            }
            l[h] = l[h] * alpha + ls;
            m[h] = mnew;
            const __m256 va = _mm256_set1_ps(alpha);
            int d = 0;
            for (; d + 8 <= D; d += 8) _mm256_storeu_ps(a + d, _mm256_mul_ps(_mm256_loadu_ps(a + d), va));
            for (; d < D; d++) a[d] *= alpha;
            for (int t = j0; t < j1; t++) {
                const float *vr = V + (int64_t)t * D;
                const __m256 w = _mm256_set1_ps(sc[t]);
                for (d = 0; d + 8 <= D; d += 8)
                    _mm256_storeu_ps(a + d, _mm256_fmadd_ps(w, _mm256_loadu_ps(vr + d), _mm256_loadu_ps(a + d)));
                for (; d < D; d++) a[d] += sc[t] * vr[d];
            }
        }
    }
    for (int h = 0; h < G; h++) {
        const float inv = 1.0f / l[h];
        float *out = j->out + (qi * p->n_head + (int64_t)g * G + h) * D;
        for (int d = 0; d < D; d++) out[d] = acc[h * dp + d] * inv;
    }
}
#endif
