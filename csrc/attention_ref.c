/* attention_ref.c — portable scalar paged attention (the KILN_ISA_SCALAR
 * variant and the reference the SIMD variants are tested against).
 *
 * It walks each query row on its own, one cache block (KV tile) at a time,
 * with the per-row operation order attention.h fixes; every float operation
 * is a plain C multiply or add (the build uses -ffp-contract=off) and exp is
 * libm's expf, so decode and prefill give the same bits on any machine. */
#include "attention.h"

/* kv_value reads element d of row j of a cache tile (F32, F16 or Q8_0;
 * exact: a Q8_0 value is its f16 scale times its int8, as
 * kiln_attn_q8_rows_ref writes it). */
KILN_INLINE float kv_value(const void *rows, int type, int D, int j, int d) {
    if (type == KILN_TYPE_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)((const char *)rows +
                                                                 (size_t)j * kiln_attn_row_bytes(type, D)) +
                              d / KILN_QK8_0;
        return kiln_fp16_to_fp32(b->d) * (float)b->qs[d % KILN_QK8_0];
    }
    const int64_t e = (int64_t)j * D + d;
    return type == KILN_TYPE_F16 ? kiln_fp16_to_fp32(((const uint16_t *)rows)[e]) : ((const float *)rows)[e];
}

/* kiln_attn_item_ref: out[i][h][D] = softmax_j(q[i][h]·k_j * scale) · v_j over
 * tokens j <= pos0+i of the item's KV head; one row at a time. */
void kiln_attn_item_ref(const kiln_attn_params *p, const kiln_attn_item *it, float *scratch) {
    const int D = p->head_dim, G = p->group, bs = p->block_size;
    const int type = p->kv_type;
    const int64_t qstride = (int64_t)p->n_head * D;
    kiln_attn_ws w = kiln_attn_carve(p, 1, scratch);
    float *acc = w.acc, *s = w.s;

    for (int i = 0; i < it->n_q; i++) {
        const int npos = it->pos0 + i + 1; /* tokens this query sees */
        for (int h = 0; h < G; h++) {
            const float *q = it->q + i * qstride + (int64_t)h * D;
            float *out = it->out + i * qstride + (int64_t)h * D;
            float m = -INFINITY, l = 0.0f;
            for (int d = 0; d < D; d++) acc[d] = 0.0f;
            for (int base = 0, t = 0; base < npos; base += bs, t++) {
                const int n = npos - base < bs ? npos - base : bs;
                const int block = it->block_table[t];
                const void *kr = kiln_attn_kv_rows(p, p->k_cache, block, it->kv_head);
                const void *vr = kiln_attn_kv_rows(p, p->v_cache, block, it->kv_head);
                float mt = -INFINITY;
                for (int j = 0; j < n; j++) {
                    float dot = 0.0f;
                    for (int d = 0; d < D; d++) dot += q[d] * kv_value(kr, type, D, j, d);
                    s[j] = dot * p->scale;
                    mt = s[j] > mt ? s[j] : mt;
                }
                const float mnew = m > mt ? m : mt;
                const float alpha = m == -INFINITY ? 0.0f : expf(m - mnew);
                float ls = 0.0f;
                for (int j = 0; j < n; j++) {
                    s[j] = expf(s[j] - mnew);
                    ls += s[j];
                }
                l = l * alpha + ls;
                m = mnew;
                for (int d = 0; d < D; d++) acc[d] *= alpha;
                for (int j = 0; j < n; j++)
                    for (int d = 0; d < D; d++) acc[d] += s[j] * kv_value(vr, type, D, j, d);
            }
            const float inv = 1.0f / l;
            for (int d = 0; d < D; d++) out[d] = acc[d] * inv;
        }
    }
}

/* kiln_attn_f32_to_f16_ref: y[n] = half(x[n]), round to nearest even. */
void kiln_attn_f32_to_f16_ref(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = kiln_fp32_to_fp16(x[i]);
}

void kiln_attn_q8_rows_ref(const void *rows, int j0, int j1, int D, float *dst) {
    const size_t rb = kiln_attn_row_bytes(KILN_TYPE_Q8_0, D);
    for (int j = j0; j < j1; j++) {
        const block_q8_0 *b = (const block_q8_0 *)(const void *)((const char *)rows + (size_t)j * rb);
        for (int d = 0; d < D; d++)
            dst[(int64_t)j * D + d] = kiln_fp16_to_fp32(b[d / KILN_QK8_0].d) * (float)b[d / KILN_QK8_0].qs[d % KILN_QK8_0];
    }
}
