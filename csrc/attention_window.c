/* attention_window.c — paged attention with a sliding window and score
 * soft-capping (gemma2/gemma3 layers, mistral's window): kiln_attn_window.
 *
 * The same paged layout and query numbering as kiln_attn_prefill; query j of
 * sequence s is at position p = ctx_lens[s] - n_q + j and sees tokens
 * max(0, p - window + 1) .. p (all of 0..p when window <= 0), with scores
 *     s = (q·k) * scale,  then  s = softcap * tanh(s / softcap) when softcap > 0.
 * Portable C, one query row (a KV head's group of query heads) at a time:
 * each row walks its visible tokens one cache block at a time (an F16 or
 * Q8_0 tile converted once for the group, attention.h's exact conversion) with the online softmax of attention.h,
 * scores as 8 interleaved partial sums in a fixed tree (which compilers map
 * to SIMD lanes without reassociating), libm expf/tanhf, plain multiplies
 * and adds (-ffp-contract=off). A row's bits depend only on its own query
 * and cache, never on the batch, the thread count or whether it came as
 * decode or prefill, and are the same on every machine. The AVX2 variant
 * (arch/x86/attention_window_avx2.c) keeps the same per-row independence
 * with FMA lanes; it serves every non-scalar ISA. */
#include "attention_window.h"

#include <stdlib.h>

/* dot8 is q·k over D elements in 8 interleaved partial sums, then a fixed
 * tree: plain C multiplies and adds in an order that does not depend on the
 * call, which the compiler may run in SIMD lanes (no reassociation). */
KILN_INLINE float dot8(const float *q, const float *k, int D) {
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int d = 0;
    for (; d + 8 <= D; d += 8)
        for (int i = 0; i < 8; i++) p[i] += q[d + i] * k[d + i];
    for (int i = 0; d < D; d++, i++) p[i] += q[d] * k[d];
    return ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
}

/* tile_rows returns rows j0..j1-1 of a cache block as F32 (a view of an
 * F32 cache, or a conversion into dst for an F16 or Q8_0 one); row j at j*D. */
static const float *tile_rows(const void *rows, int type, int j0, int j1, int D, float *dst) {
    if (type == KILN_TYPE_F32) return (const float *)rows;
    if (type == KILN_TYPE_Q8_0) {
        kiln_attn_q8_rows_ref(rows, j0, j1, D, dst);
        return dst;
    }
    const uint16_t *h = rows;
    for (int64_t e = (int64_t)j0 * D; e < (int64_t)j1 * D; e++) dst[e] = kiln_fp16_to_fp32(h[e]);
    return dst;
}

/* kiln_window_row_ref computes one query row: the group heads of one KV
 * head. Per visible cache block it converts the K/V tile once, then updates
 * each head's online softmax (attention.h's per-row order, dot8 scores). */
void kiln_window_row_ref(const kiln_window_job *j, int64_t s, int64_t qi, int g, float *scratch) {
    const kiln_attn_params *p = &j->p;
    const int D = p->head_dim, bs = p->block_size, G = p->group, type = p->kv_type;
    const int64_t dp = kiln_attn_pad16(D);
    int lo, pos;
    kiln_window_span(j, s, qi, &lo, &pos);
    const int32_t *table = j->block_tables + s * j->max_blocks;
    float *acc = scratch;                              /* [G][dp] */
    float *sc = acc + G * dp;                          /* [bs] */
    float *kt = sc + kiln_attn_pad16(bs);              /* [bs][D] */
    float *vt = kt + kiln_attn_pad16((int64_t)bs * D); /* [bs][D] */
    float *m = vt + kiln_attn_pad16((int64_t)bs * D);  /* [G] */
    float *l = m + kiln_attn_pad16(G);                 /* [G] */
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
        const float *K = tile_rows(kiln_attn_kv_rows(p, p->k_cache, block, g), type, j0, j1, D, kt);
        const float *V = tile_rows(kiln_attn_kv_rows(p, p->v_cache, block, g), type, j0, j1, D, vt);
        for (int h = 0; h < G; h++) {
            const float *q = q0 + (int64_t)h * D;
            float *a = acc + h * dp;
            float mt = -INFINITY;
            for (int t = j0; t < j1; t++) {
                float v = dot8(q, K + (int64_t)t * D, D) * p->scale;
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
            for (int d = 0; d < D; d++) a[d] *= alpha;
            for (int t = j0; t < j1; t++) {
                const float w = sc[t], *vr = V + (int64_t)t * D;
                for (int d = 0; d < D; d++) a[d] += w * vr[d];
            }
        }
    }
    for (int h = 0; h < G; h++) {
        const float inv = 1.0f / l[h];
        float *out = j->out + (qi * p->n_head + (int64_t)g * G + h) * D;
        for (int d = 0; d < D; d++) out[d] = acc[h * dp + d] * inv;
    }
}

/* window_task: worker ith takes items ith, ith+nth, ...; an item's result
 * does not depend on which worker runs it. */
static void window_task(void *arg, int ith, int nth) {
    const kiln_window_job *j = arg;
    float *scratch = j->scratch + ith * j->stride;
    int64_t s = 0;
    for (int64_t it = ith; it < j->n_items; it += nth) {
        const int64_t qi = it / j->p.n_head_kv;
        while (j->q_start[s + 1] <= qi) s++;
        j->row(j, s, qi, (int)(it % j->p.n_head_kv), scratch);
    }
}

int kiln_attn_window(const kiln_kv_layout *kv, const float *q, float *out, int64_t n_seq,
                     const int32_t *q_start, const int32_t *ctx_lens, const int32_t *block_tables,
                     int max_blocks, int window, float softcap) {
    kiln_window_job j;
    memset(&j, 0, sizeof j);
    int rc = kiln_attn_check_layout(kv, &j.p);
    if (rc != KILN_OK) return rc;
    if (!q || !out || !q_start || !ctx_lens || !block_tables) return KILN_ERR_NULL;
    if (n_seq < 0 || max_blocks < 1 || q_start[0] != 0 || !(softcap >= 0.0f) || isinf(softcap))
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
    if ((rc = kiln_ensure_init()) != KILN_OK) return rc;
    j.row = kiln_window_row_ref;
#if KILN_X86
    if (kiln_get_isa() != KILN_ISA_SCALAR) j.row = kiln_window_row_avx2; /* AVX-512 CPUs run it too */
#endif
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
    const int G = kv->n_head / kv->n_head_kv;
    j.stride = kiln_window_scratch_floats(G, kv->head_dim, kv->block_size);
    j.scratch = aligned_alloc(64, (size_t)j.stride * (size_t)nth * sizeof(float));
    if (!j.scratch) return KILN_ERR_NOMEM;
    kiln_parallel(window_task, &j, nth);
    free(j.scratch);
    return KILN_OK;
}
