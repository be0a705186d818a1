/* attention_window.c — paged attention with a sliding window and score
 * soft-capping (gemma2/gemma3 layers, mistral's window): kiln_attn_window.
 *
 * The same paged layout and query numbering as kiln_attn_prefill; query j of
 * sequence s is at position p = ctx_lens[s] - n_q + j and sees tokens
 * max(0, p - window + 1) .. p (all of 0..p when window <= 0), with scores
 *     s = (q·k) * scale,  then  s = softcap * tanh(s / softcap) when softcap > 0.
 * Portable scalar code, one query row at a time: each row walks its visible
 * tokens one cache block at a time with the online softmax of attention.h
 * (libm expf/tanhf, plain multiplies and adds, -ffp-contract=off), so a row's
 * bits depend only on its own query and cache, never on the batch, the
 * thread count or whether it came as decode or prefill. There is no SIMD
 * variant yet: the plain (window-less, cap-less) layers keep using
 * kiln_attn_prefill's per-ISA kernels. */
#include "attention.h"

#include <stdlib.h>

typedef struct {
    kiln_attn_params p;
    const float *q;
    float *out;
    const int32_t *q_start, *ctx_lens, *block_tables;
    int max_blocks, window;
    float softcap;
    int64_t n_seq, n_items; /* item = query row * n_head_kv + kv head */
    float *scratch;
    int64_t stride;
} window_job;

/* kv_at reads element e of a cache rows block (F32 or F16, exact). */
KILN_INLINE float kv_at(const void *rows, int f16, int64_t e) {
    return f16 ? kiln_fp16_to_fp32(((const uint16_t *)rows)[e]) : ((const float *)rows)[e];
}

/* window_row computes one query row (group heads of one KV head). */
static void window_row(const window_job *j, int64_t s, int64_t qi, int g, float *scratch) {
    const kiln_attn_params *p = &j->p;
    const int D = p->head_dim, bs = p->block_size, f16 = p->kv_type == KILN_TYPE_F16;
    const int nq = j->q_start[s + 1] - j->q_start[s];
    const int pos = j->ctx_lens[s] - nq + (int)(qi - j->q_start[s]);
    const int lo = j->window > 0 && pos - j->window + 1 > 0 ? pos - j->window + 1 : 0;
    const int32_t *table = j->block_tables + s * j->max_blocks;
    float *acc = scratch, *sc = scratch + kiln_attn_pad16(D);
    for (int h = 0; h < p->group; h++) {
        const int64_t off = (qi * p->n_head + (int64_t)g * p->group + h) * D;
        const float *q = j->q + off;
        float m = -INFINITY, l = 0.0f;
        for (int d = 0; d < D; d++) acc[d] = 0.0f;
        for (int base = lo - lo % bs; base <= pos; base += bs) {
            const int j0 = base < lo ? lo - base : 0;
            const int j1 = pos - base + 1 < bs ? pos - base + 1 : bs;
            const int block = table[base / bs];
            const void *kr = kiln_attn_kv_rows(p, p->k_cache, block, g);
            const void *vr = kiln_attn_kv_rows(p, p->v_cache, block, g);
            float mt = -INFINITY;
            for (int t = j0; t < j1; t++) {
                float dot = 0.0f;
                for (int d = 0; d < D; d++) dot += q[d] * kv_at(kr, f16, (int64_t)t * D + d);
                float v = dot * p->scale;
                if (j->softcap > 0.0f) v = j->softcap * tanhf(v / j->softcap);
                sc[t] = v;
                mt = v > mt ? v : mt;
            }
            const float mnew = m > mt ? m : mt;
            const float alpha = m == -INFINITY ? 0.0f : expf(m - mnew);
            float ls = 0.0f;
            for (int t = j0; t < j1; t++) {
                sc[t] = expf(sc[t] - mnew);
                ls += sc[t];
            }
            l = l * alpha + ls;
            m = mnew;
            for (int d = 0; d < D; d++) acc[d] *= alpha;
            for (int t = j0; t < j1; t++)
                for (int d = 0; d < D; d++) acc[d] += sc[t] * kv_at(vr, f16, (int64_t)t * D + d);
        }
        const float inv = 1.0f / l;
        for (int d = 0; d < D; d++) j->out[off + d] = acc[d] * inv;
    }
}

/* window_task: worker ith takes items ith, ith+nth, ...; an item's result
 * does not depend on which worker runs it. */
static void window_task(void *arg, int ith, int nth) {
    const window_job *j = arg;
    float *scratch = j->scratch + ith * j->stride;
    int64_t s = 0;
    for (int64_t it = ith; it < j->n_items; it += nth) {
        const int64_t qi = it / j->p.n_head_kv;
        while (j->q_start[s + 1] <= qi) s++;
        window_row(j, s, qi, (int)(it % j->p.n_head_kv), scratch);
    }
}

int kiln_attn_window(const kiln_kv_layout *kv, const float *q, float *out, int64_t n_seq,
                     const int32_t *q_start, const int32_t *ctx_lens, const int32_t *block_tables,
                     int max_blocks, int window, float softcap) {
    if (!kv || !kv->k_cache || !kv->v_cache || !q || !out || !q_start || !ctx_lens || !block_tables)
        return KILN_ERR_NULL;
    if (kv->kv_type != KILN_TYPE_F32 && kv->kv_type != KILN_TYPE_F16) return KILN_ERR_TYPE;
    if (kv->n_head < 1 || kv->n_head_kv < 1 || kv->n_head % kv->n_head_kv != 0 || kv->head_dim < 1 ||
        kv->block_size < 1 || kv->n_blocks < 1 || n_seq < 0 || max_blocks < 1 || q_start[0] != 0 ||
        !(softcap >= 0.0f) || isinf(softcap))
        return KILN_ERR_SIZE;
    for (int64_t s = 0; s < n_seq; s++) {
        const int64_t nq = (int64_t)q_start[s + 1] - q_start[s];
        if (nq < 0 || ctx_lens[s] < nq) return KILN_ERR_SIZE;
        if (ctx_lens[s] > (int64_t)max_blocks * kv->block_size) return KILN_ERR_SIZE;
        const int64_t nb = ((int64_t)ctx_lens[s] + kv->block_size - 1) / kv->block_size;
        for (int64_t b = 0; b < nb; b++) {
            const int32_t blk = block_tables[s * max_blocks + b];
            if (blk < 0 || blk >= kv->n_blocks) return KILN_ERR_INDEX;
        }
    }
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    window_job j;
    memset(&j, 0, sizeof j);
    j.p.n_head = kv->n_head;
    j.p.n_head_kv = kv->n_head_kv;
    j.p.head_dim = kv->head_dim;
    j.p.block_size = kv->block_size;
    j.p.kv_type = kv->kv_type;
    j.p.group = kv->n_head / kv->n_head_kv;
    j.p.scale = kv->scale;
    j.p.k_cache = kv->k_cache;
    j.p.v_cache = kv->v_cache;
    j.q = q;
    j.out = out;
    j.q_start = q_start;
    j.ctx_lens = ctx_lens;
    j.block_tables = block_tables;
    j.max_blocks = max_blocks;
    j.window = window;
    j.softcap = softcap;
    j.n_seq = n_seq;
    j.n_items = (int64_t)q_start[n_seq] * kv->n_head_kv;
    if (j.n_items == 0) return KILN_OK;
    int64_t work = 0;
    for (int64_t s = 0; s < n_seq; s++) {
        const int64_t nq = q_start[s + 1] - q_start[s];
        work += nq * (window > 0 && window < ctx_lens[s] ? window : ctx_lens[s]);
    }
    int nth = kiln_threads_for(work * kv->n_head * kv->head_dim * 4, 1 << 17);
    if (nth > j.n_items) nth = (int)j.n_items;
    if (nth < 1) nth = 1;
    j.stride = kiln_attn_pad16(kv->head_dim) + kiln_attn_pad16(kv->block_size);
    j.scratch = aligned_alloc(64, (size_t)j.stride * (size_t)nth * sizeof(float));
    if (!j.scratch) return KILN_ERR_NOMEM;
    kiln_parallel(window_task, &j, nth);
    free(j.scratch);
    return KILN_OK;
}
