/* attention_avx512.c — paged-attention item kernel for AVX-512 (F/BW/VL/DQ).
 *
 * Mirrors attention_avx2.c with 16-lane vectors: scores in 4-row x 4-token
 * register blocks (each K row loaded once per 4 rows), P·V in 4-row x 32-dim
 * register blocks, head_dim tails through mask registers, F16 and Q8_0
 * tiles converted to F32 once per tile (Q8_0 exactly: int8 x f16 scale).
 * Per-row order (what keeps decode == prefill):
 *  - a score is one 16-lane accumulator fma'd over head_dim in order, folded
 *    to 8 lanes as y_i = x_i + x_(i+8), then the tree
 *    ((y0+y1)+(y2+y3)) + ((y4+y5)+(y6+y7)), then * scale;
 *  - exp is exp16 below (AVX2's polynomial), per lane;
 *  - P·V is acc = acc*alpha, then acc = fma(p_j, v_j, acc) for j in order.
 * Rows past the item's end are computed as duplicates of its last row and
 * stored with identical bits. */
#include "../../attention.h"

#if KILN_X86
#include <immintrin.h>

/* mask16 enables the first n (0..16) lanes. */
KILN_TARGET_AVX512 static inline __mmask16 mask16(int n) {
    return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

/* exp16: e^x per lane (see exp8 in attention_avx2.c); x < -87.33 gives 0. */
KILN_TARGET_AVX512 static inline __m512 exp16(__m512 x) {
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_NLT_UQ);
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);
    x = _mm512_max_ps(_mm512_set1_ps(-87.33654f), x);
    const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500e-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_maskz_mul_ps(keep, y, _mm512_castsi512_ps(e));
}

KILN_TARGET_AVX512 static inline float exp1(float x) {
    return _mm512_cvtss_f32(exp16(_mm512_set1_ps(x)));
}

/* fold: 16 lanes -> 8 lanes, y_i = x_i + x_(i+8). */
KILN_TARGET_AVX512 static inline __m256 fold(__m512 x) {
    return _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
}

/* reduce8: lane i of the result = tree-sum of a_i's 8 lanes. */
KILN_TARGET_AVX512 static inline __m256 reduce8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4,
                                                __m256 a5, __m256 a6, __m256 a7) {
    const __m256 g0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    const __m256 g1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

/* f16_tile: dst[n] = float(src[n]) (exact). */
KILN_TARGET_AVX512 static void f16_tile(const uint16_t *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    for (; i < n; i++) dst[i] = kiln_fp16_to_fp32(src[i]);
}

/* q8_half: 16 quants of a Q8_0 block times its scale d, as f32 (exact). */
KILN_TARGET_AVX512 static inline __m512 q8_half(const int8_t *qs, __m512 d) {
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)qs))), d);
}

/* kiln_attn_q8_rows_avx512: attention.h's Q8_0 tile conversion, 16 lanes
 * (the f16 scale widened by F16C, exactly as kiln_fp16_to_fp32 does). */
KILN_TARGET_AVX512 void kiln_attn_q8_rows_avx512(const void *rows, int j0, int j1, int D, float *dst) {
    const size_t rb = kiln_attn_row_bytes(KILN_TYPE_Q8_0, D);
    const int full = D / KILN_QK8_0, tail = D % KILN_QK8_0;
    for (int j = j0; j < j1; j++) {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)((const char *)rows + (size_t)j * rb);
        float *o = dst + (int64_t)j * D;
        for (int i = 0; i < full; i++, o += KILN_QK8_0) {
            const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[i].d));
            _mm512_storeu_ps(o, q8_half(b[i].qs, d));
            _mm512_storeu_ps(o + 16, q8_half(b[i].qs + 16, d));
        }
        if (tail) {
            const __m512 d = _mm512_set1_ps(_cvtsh_ss(b[full].d));
            _mm512_mask_storeu_ps(o, mask16(tail), q8_half(b[full].qs, d));
            if (tail > 16) _mm512_mask_storeu_ps(o + 16, mask16(tail - 16), q8_half(b[full].qs + 16, d));
        }
    }
}

/* score_step: the 16 accumulators a[row][token] absorb 16 dims (masked lanes zero). */
#define SCORE_STEP(LOAD)                                                           \
    do {                                                                           \
        const __m512 x0 = LOAD(q0 + d), x1 = LOAD(q1 + d), x2 = LOAD(q2 + d),      \
                     x3 = LOAD(q3 + d);                                            \
        for (int u = 0; u < 4; u++) {                                              \
            const __m512 k = LOAD(kp[u] + d);                                      \
            a[0][u] = _mm512_fmadd_ps(x0, k, a[0][u]);                             \
            a[1][u] = _mm512_fmadd_ps(x1, k, a[1][u]);                             \
            a[2][u] = _mm512_fmadd_ps(x2, k, a[2][u]);                             \
            a[3][u] = _mm512_fmadd_ps(x3, k, a[3][u]);                             \
        }                                                                          \
    } while (0)

/* scores: S[r][j] = scale * q_r·k_j for r < R, j < max n over r's 4-row block.
 * Shapes: q rows via (r / group, r % group); K [>=n][D] rows D apart; S [R][bp]. */
KILN_TARGET_AVX512 static void scores(const kiln_attn_params *p, const kiln_attn_item *it, const float *K,
                                      const kiln_attn_ws *w, int R) {
    const int D = p->head_dim, G = p->group;
    const int64_t qs = (int64_t)p->n_head * D;
    const int dfull = D & ~15;
    const __mmask16 tm = mask16(D - dfull);
    const __m256 scale = _mm256_set1_ps(p->scale);
    for (int r = 0; r < R; r += 4) {
        int rr[4], nn = 0;
        const float *qp[4];
        for (int u = 0; u < 4; u++) {
            rr[u] = r + u < R ? r + u : R - 1;
            nn = w->n[rr[u]] > nn ? w->n[rr[u]] : nn;
            qp[u] = it->q + (rr[u] / G) * qs + (int64_t)(rr[u] % G) * D;
        }
        const float *q0 = qp[0], *q1 = qp[1], *q2 = qp[2], *q3 = qp[3];
        for (int j = 0; j < nn; j += 4) {
            const float *kp[4];
            for (int u = 0; u < 4; u++) kp[u] = K + (int64_t)(j + u < nn ? j + u : nn - 1) * D;
            __m512 a[4][4];
            for (int x = 0; x < 4; x++)
                for (int u = 0; u < 4; u++) a[x][u] = _mm512_setzero_ps();
            int d = 0;
#define LOADU(ptr) _mm512_loadu_ps(ptr)
#define LOADM(ptr) _mm512_maskz_loadu_ps(tm, ptr)
            for (; d < dfull; d += 16) SCORE_STEP(LOADU);
            if (d < D) SCORE_STEP(LOADM);
#undef LOADU
#undef LOADM
            float t[16];
            _mm256_storeu_ps(t, _mm256_mul_ps(reduce8(fold(a[0][0]), fold(a[0][1]), fold(a[0][2]),
                                                      fold(a[0][3]), fold(a[1][0]), fold(a[1][1]),
                                                      fold(a[1][2]), fold(a[1][3])), scale));
            _mm256_storeu_ps(t + 8, _mm256_mul_ps(reduce8(fold(a[2][0]), fold(a[2][1]), fold(a[2][2]),
                                                          fold(a[2][3]), fold(a[3][0]), fold(a[3][1]),
                                                          fold(a[3][2]), fold(a[3][3])), scale));
            const int nj = nn - j < 4 ? nn - j : 4;
            for (int x = 0; x < 4; x++) /* duplicate rows rewrite the same bits */
                for (int u = 0; u < nj; u++) w->s[rr[x] * w->bp + j + u] = t[4 * x + u];
        }
    }
}
#undef SCORE_STEP

/* softmax: per row with n[r] > 0, turn S[r][:n] into p_j = exp(s_j - m'),
 * update m, l and set alpha; rows that see nothing of this tile get alpha 1. */
KILN_TARGET_AVX512 static void softmax(const kiln_attn_ws *w, int R) {
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
        const __m512 mv = _mm512_set1_ps(mnew);
        for (int j = 0; j < n; j += 16) /* lanes past n are padding, never read */
            _mm512_storeu_ps(s + j, exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv)));
        float ls = 0.0f;
        for (int j = 0; j < n; j++) ls += s[j];
        w->l[r] = w->l[r] * w->alpha[r] + ls;
        w->m[r] = mnew;
    }
}

/* pv_block: acc[r] = acc[r]*alpha[r] + sum_{j<n[r]} p[r][j] * V[j] for the
 * four rows rr[] and the 32 dims at d (lanes past D masked to zero in V).
 * Shapes: V [>=nmax][D] rows D apart; acc [R][dp]; P [R][bp]. */
KILN_TARGET_AVX512 static inline __attribute__((always_inline)) void
pv_block(const kiln_attn_ws *w, const float *V, int D, const int *rr, int nmin, int nmax, int d,
         int masked) {
    float *c[4];
    const float *pp[4];
    int n[4];
    __m512 x[4][2];
    const __mmask16 m0 = mask16(D - d < 16 ? D - d : 16);
    const __mmask16 m1 = mask16(D - d - 16 < 0 ? 0 : D - d - 16 < 16 ? D - d - 16 : 16);
    for (int u = 0; u < 4; u++) {
        c[u] = w->acc + rr[u] * w->dp + d;
        pp[u] = w->s + rr[u] * w->bp;
        n[u] = w->n[rr[u]];
        const __m512 al = _mm512_set1_ps(w->alpha[rr[u]]);
        x[u][0] = _mm512_mul_ps(_mm512_load_ps(c[u]), al);
        x[u][1] = _mm512_mul_ps(_mm512_load_ps(c[u] + 16), al);
    }
    for (int j = 0; j < nmax; j++) {
        const float *v = V + (int64_t)j * D + d;
        const __m512 v0 = masked ? _mm512_maskz_loadu_ps(m0, v) : _mm512_loadu_ps(v);
        const __m512 v1 = masked ? _mm512_maskz_loadu_ps(m1, v + 16) : _mm512_loadu_ps(v + 16);
        if (j < nmin) {
            for (int u = 0; u < 4; u++) {
                const __m512 b = _mm512_set1_ps(pp[u][j]);
                x[u][0] = _mm512_fmadd_ps(b, v0, x[u][0]);
                x[u][1] = _mm512_fmadd_ps(b, v1, x[u][1]);
            }
        } else { /* causal edge: only rows that still see token j */
            for (int u = 0; u < 4; u++) {
                if (j >= n[u]) continue;
                const __m512 b = _mm512_set1_ps(pp[u][j]);
                x[u][0] = _mm512_fmadd_ps(b, v0, x[u][0]);
                x[u][1] = _mm512_fmadd_ps(b, v1, x[u][1]);
            }
        }
    }
    for (int u = 0; u < 4; u++) {
        _mm512_store_ps(c[u], x[u][0]);
        _mm512_store_ps(c[u] + 16, x[u][1]);
    }
}

/* pv: every row's accumulator absorbs this tile (4-row blocks; rows past R
 * duplicate row R-1, whose loads all precede its identical stores). */
KILN_TARGET_AVX512 static void pv(const kiln_attn_ws *w, const float *V, int D, int R) {
    for (int r = 0; r < R; r += 4) {
        int rr[4], nmin = INT32_MAX, nmax = 0;
        for (int u = 0; u < 4; u++) {
            rr[u] = r + u < R ? r + u : R - 1;
            const int n = w->n[rr[u]];
            nmin = n < nmin ? n : nmin;
            nmax = n > nmax ? n : nmax;
        }
        int d = 0;
        for (; d + 32 <= D; d += 32) pv_block(w, V, D, rr, nmin, nmax, d, 0);
        if (d < D) pv_block(w, V, D, rr, nmin, nmax, d, 1);
    }
}

/* kiln_attn_item_avx512: out[i][h][D] = softmax_j(scale * q[i][h]·k_j) · v_j
 * over tokens j <= pos0+i of KV head kv_head; rows r = i*group + h. */
KILN_TARGET_AVX512 void kiln_attn_item_avx512(const kiln_attn_params *p, const kiln_attn_item *it,
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
            kiln_attn_q8_rows_avx512(K, 0, nmax, D, w.kt);
            kiln_attn_q8_rows_avx512(V, 0, nmax, D, w.vt);
            K = w.kt;
            V = w.vt;
        }
        scores(p, it, K, &w, R);
        softmax(&w, R);
        pv(&w, V, D, R);
    }
    const int dfull = D & ~15;
    const __mmask16 tm = mask16(D - dfull);
    for (int r = 0; r < R; r++) {
        const __m512 inv = _mm512_set1_ps(1.0f / w.l[r]);
        const float *c = w.acc + r * w.dp;
        float *o = it->out + (r / G) * qs + (int64_t)(r % G) * D;
        int d = 0;
        for (; d < dfull; d += 16) _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_load_ps(c + d), inv));
        if (d < D) _mm512_mask_storeu_ps(o + d, tm, _mm512_mul_ps(_mm512_load_ps(c + d), inv));
    }
}

#endif /* KILN_X86 */
