/* attention_avx2.c — paged-attention item kernel for AVX2 + FMA + F16C.
 *
 * One item = n_q queries x `group` heads (rows) against one KV head. Per KV
 * tile (one cache block) it computes the rows' scores in 2-row x 4-token
 * register blocks (each K row is loaded once per row pair, not per row),
 * updates each row's online softmax, and accumulates P·V in 4-row x 16-dim
 * register blocks (each V row loaded once per 4 rows). F16 and Q8_0 tiles
 * are converted to F32 once per tile (F16C; int8 x f16 scale, exact), so a
 * Q8_0 cache gives the bits of an F32 cache holding its values.
 *
 * Per-row order (what keeps decode == prefill bit for bit):
 *  - a score is one 8-lane accumulator fma'd over head_dim in order, then
 *    the fixed tree ((x0+x1)+(x2+x3)) + ((x4+x5)+(x6+x7)), then * scale;
 *    a row's block partner and token neighbours never enter its lanes;
 *  - exp is exp8 below, per lane;
 *  - P·V is acc = acc*alpha, then acc = fma(p_j, v_j, acc) for j in order.
 * Rows past the item's end are computed as duplicates of its last row and
 * stored with identical bits, so blocks never need a ragged edge. */
#include "../../attention.h"

#if KILN_X86
#include <immintrin.h>

/* mask8 enables the first n (0..8) lanes. */
KILN_TARGET_AVX2 static inline __m256i mask8(int n) {
    static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(m + 8 - n));
}

/* exp8: e^x per lane, Cephes-style (range reduction by ln2, degree-6
 * polynomial, ~1 ulp for x <= 0); x < -87.33 gives 0, NaN stays NaN. The
 * kernel only ever passes x <= 0 (scores minus their running max). */
KILN_TARGET_AVX2 static inline __m256 exp8(__m256 x) {
    const __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-87.33654f), x);
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

KILN_TARGET_AVX2 static inline float exp1(float x) {
    return _mm256_cvtss_f32(exp8(_mm256_set1_ps(x)));
}

/* reduce8: lane i of the result = tree-sum of a_i's 8 lanes (order in the header). */
KILN_TARGET_AVX2 static inline __m256 reduce8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4,
                                              __m256 a5, __m256 a6, __m256 a7) {
    const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/* f16_tile: dst[n] = float(src[n]) (exact). */
KILN_TARGET_AVX2 static void f16_tile(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = kiln_fp16_to_fp32(src[i]);
}

/* q8_block: o[0:32] = d * qs[0:32] for one Q8_0 block (exact). */
KILN_TARGET_AVX2 static inline void q8_block(const block_q8_0 *b, float *o) {
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(b->d)); /* F16C: exact, as kiln_fp16_to_fp32 */
    for (int k = 0; k < 4; k++) {
        const __m128i q = _mm_loadl_epi64((const __m128i *)(const void *)(b->qs + 8 * k));
        _mm256_storeu_ps(o + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
    }
}

/* kiln_attn_q8_rows_avx2: attention.h's Q8_0 tile conversion, 8 lanes. */
KILN_TARGET_AVX2 void kiln_attn_q8_rows_avx2(const void *rows, int j0, int j1, int D, float *dst) {
    const size_t rb = kiln_attn_row_bytes(KILN_TYPE_Q8_0, D);
    const int full = D / KILN_QK8_0, tail = D % KILN_QK8_0;
    for (int j = j0; j < j1; j++) {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)((const char *)rows + (size_t)j * rb);
        float *o = dst + (int64_t)j * D;
        for (int i = 0; i < full; i++) q8_block(b + i, o + i * KILN_QK8_0);
        if (tail) {
            float t[KILN_QK8_0];
            q8_block(b + full, t);
            memcpy(o + full * KILN_QK8_0, t, sizeof(float) * (size_t)tail);
        }
    }
}

/* scores: S[r][j] = scale * q_r·k_j for r < R, j < max(n[r], n[partner]).
 * Shapes: q rows via qrow(r); K [>=n][D] rows D apart; S [R][bp]. */
KILN_TARGET_AVX2 static void scores(const kiln_attn_params *p, const kiln_attn_item *it, const float *K,
                                    const kiln_attn_ws *w, int R) {
    const int D = p->head_dim, G = p->group;
    const int64_t qs = (int64_t)p->n_head * D;
    const int dfull = D & ~7;
    const __m256i tm = mask8(D - dfull);
    const __m256 scale = _mm256_set1_ps(p->scale);
    for (int r = 0; r < R; r += 2) {
        const int r1 = r + 1 < R ? r + 1 : r;
        const int nn = w->n[r] > w->n[r1] ? w->n[r] : w->n[r1];
        const float *q0 = it->q + (r / G) * qs + (int64_t)(r % G) * D;
        const float *q1 = it->q + (r1 / G) * qs + (int64_t)(r1 % G) * D;
        float *s0 = w->s + r * w->bp, *s1 = w->s + r1 * w->bp;
        for (int j = 0; j < nn; j += 4) {
            const float *k0 = K + (int64_t)j * D;
            const float *k1 = K + (int64_t)(j + 1 < nn ? j + 1 : nn - 1) * D;
            const float *k2 = K + (int64_t)(j + 2 < nn ? j + 2 : nn - 1) * D;
            const float *k3 = K + (int64_t)(j + 3 < nn ? j + 3 : nn - 1) * D;
            __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
            __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            int d = 0;
            if (r1 == r) { /* a lone last row: its partner's lanes would be its own bits */
                for (; d < dfull; d += 8) {
                    const __m256 x0 = _mm256_loadu_ps(q0 + d);
                    a00 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(k0 + d), a00);
                    a01 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(k1 + d), a01);
                    a02 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(k2 + d), a02);
                    a03 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(k3 + d), a03);
                }
                if (d < D) {
                    const __m256 x0 = _mm256_maskload_ps(q0 + d, tm);
                    a00 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(k0 + d, tm), a00);
                    a01 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(k1 + d, tm), a01);
                    a02 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(k2 + d, tm), a02);
                    a03 = _mm256_fmadd_ps(x0, _mm256_maskload_ps(k3 + d, tm), a03);
                }
                const __m256 t = _mm256_mul_ps(reduce8(a00, a01, a02, a03, a00, a01, a02, a03), scale);
                _mm_storeu_ps(s0 + j, _mm256_castps256_ps128(t));
                continue;
            }
            for (; d < dfull; d += 8) {
                const __m256 x0 = _mm256_loadu_ps(q0 + d), x1 = _mm256_loadu_ps(q1 + d);
                __m256 k = _mm256_loadu_ps(k0 + d);
                a00 = _mm256_fmadd_ps(x0, k, a00);
                a10 = _mm256_fmadd_ps(x1, k, a10);
                k = _mm256_loadu_ps(k1 + d);
                a01 = _mm256_fmadd_ps(x0, k, a01);
                a11 = _mm256_fmadd_ps(x1, k, a11);
                k = _mm256_loadu_ps(k2 + d);
                a02 = _mm256_fmadd_ps(x0, k, a02);
                a12 = _mm256_fmadd_ps(x1, k, a12);
                k = _mm256_loadu_ps(k3 + d);
                a03 = _mm256_fmadd_ps(x0, k, a03);
                a13 = _mm256_fmadd_ps(x1, k, a13);
            }
            if (d < D) {
                const __m256 x0 = _mm256_maskload_ps(q0 + d, tm), x1 = _mm256_maskload_ps(q1 + d, tm);
                __m256 k = _mm256_maskload_ps(k0 + d, tm);
                a00 = _mm256_fmadd_ps(x0, k, a00);
                a10 = _mm256_fmadd_ps(x1, k, a10);
                k = _mm256_maskload_ps(k1 + d, tm);
                a01 = _mm256_fmadd_ps(x0, k, a01);
                a11 = _mm256_fmadd_ps(x1, k, a11);
                k = _mm256_maskload_ps(k2 + d, tm);
                a02 = _mm256_fmadd_ps(x0, k, a02);
                a12 = _mm256_fmadd_ps(x1, k, a12);
                k = _mm256_maskload_ps(k3 + d, tm);
                a03 = _mm256_fmadd_ps(x0, k, a03);
                a13 = _mm256_fmadd_ps(x1, k, a13);
            }
            /* lanes 0-3: row r, tokens j..j+3; lanes 4-7: row r1 (same bits
             * when r1 == r). Clamped tokens land in S's padding (bp >= 4*ceil(nn/4)). */
            const __m256 t = _mm256_mul_ps(reduce8(a00, a01, a02, a03, a10, a11, a12, a13), scale);
            _mm_storeu_ps(s0 + j, _mm256_castps256_ps128(t));
            _mm_storeu_ps(s1 + j, _mm256_extractf128_ps(t, 1));
        }
    }
}

/* softmax: per row with n[r] > 0, turn S[r][:n] into p_j = exp(s_j - m'),
 * update m, l and set alpha; rows that see nothing of this tile get alpha 1. */
KILN_TARGET_AVX2 static void softmax(const kiln_attn_ws *w, int R) {
    for (int r = 0; r < R; r++) {
        const int n = w->n[r];
        if (n == 0) {
            w->alpha[r] = 1.0f;
            continue;
        }
        float *s = w->s + r * w->bp;
        float mt = -INFINITY;
        for (int j = 0; j < n; j++) mt = s[j] > mt ? s[j] : mt;
        const float m = w->m[r], mnew = m > mt ? m : mt;
        w->alpha[r] = m == -INFINITY ? 0.0f : exp1(m - mnew);
        const __m256 mv = _mm256_set1_ps(mnew);
        for (int j = 0; j < n; j += 8) /* lanes past n are padding, never read */
            _mm256_storeu_ps(s + j, exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv)));
        float ls = 0.0f;
        for (int j = 0; j < n; j++) ls += s[j];
        w->l[r] = w->l[r] * w->alpha[r] + ls;
        w->m[r] = mnew;
    }
}

/* pv_block: acc[r] = acc[r]*alpha[r] + sum_{j<n[r]} p[r][j] * V[j] for the
 * four rows rr[] and the 16 dims at d (lanes past D masked to zero in V).
 * Shapes: V [>=nmax][D] rows D apart; acc [R][dp]; P [R][bp]. */
KILN_TARGET_AVX2 static inline __attribute__((always_inline)) void
pv_block(const kiln_attn_ws *w, const float *V, int D, const int *rr, int nmin, int nmax, int d,
         int masked, const int NR) {
    float *c0 = w->acc + rr[0] * w->dp + d, *c1 = w->acc + rr[1] * w->dp + d;
    float *c2 = w->acc + rr[2] * w->dp + d, *c3 = w->acc + rr[3] * w->dp + d;
    const float *p0 = w->s + rr[0] * w->bp, *p1 = w->s + rr[1] * w->bp;
    const float *p2 = w->s + rr[2] * w->bp, *p3 = w->s + rr[3] * w->bp;
    const int n0 = w->n[rr[0]], n1 = w->n[rr[1]], n2 = w->n[rr[2]], n3 = w->n[rr[3]];
    const __m256i m0 = mask8(D - d < 8 ? D - d : 8);
    const __m256i m1 = mask8(D - d - 8 < 0 ? 0 : D - d - 8 < 8 ? D - d - 8 : 8);
    __m256 al = _mm256_set1_ps(w->alpha[rr[0]]);
    __m256 x00 = _mm256_mul_ps(_mm256_load_ps(c0), al), x01 = _mm256_mul_ps(_mm256_load_ps(c0 + 8), al);
    al = _mm256_set1_ps(w->alpha[rr[1]]);
    __m256 x10 = _mm256_mul_ps(_mm256_load_ps(c1), al), x11 = _mm256_mul_ps(_mm256_load_ps(c1 + 8), al);
    al = _mm256_set1_ps(w->alpha[rr[2]]);
    __m256 x20 = _mm256_mul_ps(_mm256_load_ps(c2), al), x21 = _mm256_mul_ps(_mm256_load_ps(c2 + 8), al);
    al = _mm256_set1_ps(w->alpha[rr[3]]);
    __m256 x30 = _mm256_mul_ps(_mm256_load_ps(c3), al), x31 = _mm256_mul_ps(_mm256_load_ps(c3 + 8), al);
    for (int j = 0; j < nmax; j++) {
        const float *v = V + (int64_t)j * D + d;
        const __m256 v0 = masked ? _mm256_maskload_ps(v, m0) : _mm256_loadu_ps(v);
        const __m256 v1 = masked ? _mm256_maskload_ps(v + 8, m1) : _mm256_loadu_ps(v + 8);
        if (j < nmin) {
            __m256 b = _mm256_broadcast_ss(p0 + j);
            x00 = _mm256_fmadd_ps(b, v0, x00);
            x01 = _mm256_fmadd_ps(b, v1, x01);
            if (NR > 1) {
                b = _mm256_broadcast_ss(p1 + j);
                x10 = _mm256_fmadd_ps(b, v0, x10);
                x11 = _mm256_fmadd_ps(b, v1, x11);
            }
            if (NR > 2) {
                b = _mm256_broadcast_ss(p2 + j);
                x20 = _mm256_fmadd_ps(b, v0, x20);
                x21 = _mm256_fmadd_ps(b, v1, x21);
            }
            if (NR > 3) {
                b = _mm256_broadcast_ss(p3 + j);
                x30 = _mm256_fmadd_ps(b, v0, x30);
                x31 = _mm256_fmadd_ps(b, v1, x31);
            }
        } else { /* causal edge: only rows that still see token j */
            if (j < n0) {
                const __m256 b = _mm256_broadcast_ss(p0 + j);
                x00 = _mm256_fmadd_ps(b, v0, x00);
                x01 = _mm256_fmadd_ps(b, v1, x01);
            }
            if (NR > 1 && j < n1) {
                const __m256 b = _mm256_broadcast_ss(p1 + j);
                x10 = _mm256_fmadd_ps(b, v0, x10);
                x11 = _mm256_fmadd_ps(b, v1, x11);
            }
            if (NR > 2 && j < n2) {
                const __m256 b = _mm256_broadcast_ss(p2 + j);
                x20 = _mm256_fmadd_ps(b, v0, x20);
                x21 = _mm256_fmadd_ps(b, v1, x21);
            }
            if (NR > 3 && j < n3) {
                const __m256 b = _mm256_broadcast_ss(p3 + j);
                x30 = _mm256_fmadd_ps(b, v0, x30);
                x31 = _mm256_fmadd_ps(b, v1, x31);
            }
        }
    }
    _mm256_store_ps(c0, x00), _mm256_store_ps(c0 + 8, x01);
    if (NR > 1) _mm256_store_ps(c1, x10), _mm256_store_ps(c1 + 8, x11);
    if (NR > 2) _mm256_store_ps(c2, x20), _mm256_store_ps(c2 + 8, x21);
    if (NR > 3) _mm256_store_ps(c3, x30), _mm256_store_ps(c3 + 8, x31);
}

/* pv_rows runs pv_block over every 16-dim slice for NR (1..4) rows. */
KILN_TARGET_AVX2 static inline __attribute__((always_inline)) void
pv_rows(const kiln_attn_ws *w, const float *V, int D, const int *rr, int nmin, int nmax, const int NR) {
    int d = 0;
    for (; d + 16 <= D; d += 16) pv_block(w, V, D, rr, nmin, nmax, d, 0, NR);
    if (d < D) pv_block(w, V, D, rr, nmin, nmax, d, 1, NR);
}

/* pv: every row's accumulator absorbs this tile, in blocks of 4 rows (the
 * last block has the 1-3 rows left: decode of 3 query heads per KV head
 * computes 3 rows, not 4; each row's operations are the same either way). */
KILN_TARGET_AVX2 static void pv(const kiln_attn_ws *w, const float *V, int D, int R) {
    for (int r = 0; r < R; r += 4) {
        const int nr = R - r < 4 ? R - r : 4;
        int rr[4], nmin = INT32_MAX, nmax = 0;
        for (int u = 0; u < 4; u++) {
            rr[u] = r + u < R ? r + u : R - 1;
            const int n = w->n[rr[u]];
            nmin = n < nmin ? n : nmin;
            nmax = n > nmax ? n : nmax;
        }
        switch (nr) {
        case 4: pv_rows(w, V, D, rr, nmin, nmax, 4); break;
        case 3: pv_rows(w, V, D, rr, nmin, nmax, 3); break;
        case 2: pv_rows(w, V, D, rr, nmin, nmax, 2); break;
        default: pv_rows(w, V, D, rr, nmin, nmax, 1); break;
        }
    }
}

/* kiln_attn_item_avx2: out[i][h][D] = softmax_j(scale * q[i][h]·k_j) · v_j
 * over tokens j <= pos0+i of KV head kv_head; rows r = i*group + h. */
KILN_TARGET_AVX2 void kiln_attn_item_avx2(const kiln_attn_params *p, const kiln_attn_item *it,
                                          float *scratch) {
    const int D = p->head_dim, G = p->group, bs = p->block_size, R = it->n_q * G;
    const int64_t qs = (int64_t)p->n_head * D;
    const kiln_attn_ws w = kiln_attn_carve(p, R, scratch);
    memset(w.acc, 0, sizeof(float) * (size_t)(R * w.dp));
    for (int r = 0; r < R; r++) {
        w.m[r] = -INFINITY;
        w.l[r] = 0.0f;
    }
    const int end = it->pos0 + it->n_q; /* tokens the last query sees */
    for (int base = 0, t = 0; base < end; base += bs, t++) {
        for (int r = 0; r < R; r++) {
            const int c = it->pos0 + r / G + 1 - base;
            w.n[r] = c < 0 ? 0 : c < bs ? c : bs;
        }
        const int nmax = end - base < bs ? end - base : bs;
        const int block = it->block_table[t];
        if (base + bs < end) /* the next tile's rows, while this one computes */
            kiln_attn_prefetch_tile(p, it->block_table[t + 1], it->kv_head, end - base - bs < bs ? end - base - bs : bs);
        const float *K = kiln_attn_kv_rows(p, p->k_cache, block, it->kv_head);
        const float *V = kiln_attn_kv_rows(p, p->v_cache, block, it->kv_head);
        if (p->kv_type == KILN_TYPE_F16) {
            f16_tile((const uint16_t *)(const void *)K, w.kt, (int64_t)nmax * D);
            f16_tile((const uint16_t *)(const void *)V, w.vt, (int64_t)nmax * D);
            K = w.kt;
            V = w.vt;
        } else if (p->kv_type == KILN_TYPE_Q8_0) {
            kiln_attn_q8_rows_avx2(K, 0, nmax, D, w.kt);
            kiln_attn_q8_rows_avx2(V, 0, nmax, D, w.vt);
            K = w.kt;
            V = w.vt;
        }
        scores(p, it, K, &w, R);
        softmax(&w, R);
        pv(&w, V, D, R);
    }
    const int dfull = D & ~7;
    const __m256i tm = mask8(D - dfull);
    for (int r = 0; r < R; r++) {
        const __m256 inv = _mm256_set1_ps(1.0f / w.l[r]);
        const float *c = w.acc + r * w.dp;
        float *o = it->out + (r / G) * qs + (int64_t)(r % G) * D;
        int d = 0;
        for (; d < dfull; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_load_ps(c + d), inv));
        if (d < D) _mm256_maskstore_ps(o + d, tm, _mm256_mul_ps(_mm256_load_ps(c + d), inv));
    }
}

/* kiln_attn_f32_to_f16_avx2: y[n] = half(x[n]), round to nearest even (F16C). */
KILN_TARGET_AVX2 void kiln_attn_f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = kiln_fp32_to_fp16(x[i]);
}

#endif /* KILN_X86 */
