/* attention.c — public paged-attention entry points: kiln_kv_store,
 * kiln_attn_decode, kiln_attn_prefill (F32, F16 or Q8_0 caches).
 *
 * Each call is validated completely before anything is written (sizes, types,
 * every block id a sequence will touch, every slot), then cut into work
 * items — (sequence, KV head) for decode, (sequence, KV head, query tile)
 * for prefill — which the pool's threads take in a fixed stride. A query's
 * bits never depend on its item: decode and prefill run the same per-ISA item
 * kernel, whose per-row operation order ignores the other rows (attention.h). */
#include "kernels.h"

#include <stdatomic.h>

#include <stdlib.h>

/* Work per thread below which a call stays on the caller (flops). */
#define KILN_ATTN_MIN_WORK (1 << 17)

/* pick_kernel is the active ISA's item kernel (the kernel table's). */
static kiln_attn_item_fn pick_kernel(void) { return kiln_kernels_active()->attn_item; }

int kiln_attn_check_layout(const kiln_kv_layout *kv, kiln_attn_params *p) {
    if (!kv || !kv->k_cache || !kv->v_cache) return KILN_ERR_NULL;
    if (kv->kv_type != KILN_TYPE_F32 && kv->kv_type != KILN_TYPE_F16 && kv->kv_type != KILN_TYPE_Q8_0)
        return KILN_ERR_TYPE;
    if (kv->n_head < 1 || kv->n_head_kv < 1 || kv->n_head % kv->n_head_kv != 0 || kv->head_dim < 1 ||
        kv->block_size < 1 || kv->n_blocks < 1)
        return KILN_ERR_SIZE;
    /* the pool's byte count must fit comfortably in int64 (and size_t) */
    const int64_t lim = INT64_MAX / 8;
    int64_t rows = kv->n_blocks;
    const int64_t f[3] = {kv->n_head_kv, kv->block_size,
                          (int64_t)kiln_attn_row_bytes(kv->kv_type, kv->head_dim)};
    for (int i = 0; i < 3; i++) {
        if (rows > lim / f[i]) return KILN_ERR_SIZE;
        rows *= f[i];
    }
    if ((uint64_t)rows > (uint64_t)SIZE_MAX / 2) return KILN_ERR_SIZE;
    p->n_head = kv->n_head;
    p->n_head_kv = kv->n_head_kv;
    p->head_dim = kv->head_dim;
    p->block_size = kv->block_size;
    p->kv_type = kv->kv_type;
    p->group = kv->n_head / kv->n_head_kv;
    p->scale = kv->scale;
    p->k_cache = kv->k_cache;
    p->v_cache = kv->v_cache;
    return KILN_OK;
}

/* check_blocks: the first n_tok tokens of a sequence must fit its table row
 * (KILN_ERR_SIZE) and name blocks inside the pool (KILN_ERR_INDEX). */
static int check_blocks(const kiln_kv_layout *kv, const int32_t *row, int max_blocks, int64_t n_tok) {
    if (n_tok > (int64_t)max_blocks * kv->block_size) return KILN_ERR_SIZE;
    const int64_t nb = (n_tok + kv->block_size - 1) / kv->block_size;
    for (int64_t b = 0; b < nb; b++)
        if (row[b] < 0 || row[b] >= kv->n_blocks) return KILN_ERR_INDEX;
    return KILN_OK;
}

/* ---- kv_store ------------------------------------------------------------ */
typedef struct {
    const kiln_attn_params *p;
    const float *k, *v;
    const int32_t *slots;
    int64_t n_tokens;
    void (*to_f16)(const float *, uint16_t *, int64_t);
} store_job;

/* store_q8_0 writes one row of D values as ceil(D/32) GGUF Q8_0 blocks
 * (llama.cpp's quantize_row_q8_0_ref per block; a partial last block is
 * quantized zero-padded, which leaves its scale that of the real values). */
static void store_q8_0(const float *x, int D, block_q8_0 *y) {
    const int full = D / KILN_QK8_0, tail = D % KILN_QK8_0;
    for (int b = 0; b < full; b++) kiln_q8_0_quantize_block_ref(x + b * KILN_QK8_0, y + b);
    if (tail) {
        float t[KILN_QK8_0] = {0};
        memcpy(t, x + full * KILN_QK8_0, sizeof(float) * (size_t)tail);
        kiln_q8_0_quantize_block_ref(t, y + full);
    }
}

/* store_task: worker ith writes its share of KV heads for every token, in
 * token order (so a slot named twice ends with the later token). A row's
 * stored bytes depend on that row alone, whatever the batch. */
static void store_task(void *arg, int ith, int nth) {
    const store_job *j = arg;
    const kiln_attn_params *p = j->p;
    const int D = p->head_dim, bs = p->block_size;
    int64_t g0, g1;
    kiln_split(p->n_head_kv, ith, nth, 1, &g0, &g1);
    for (int64_t i = 0; i < j->n_tokens; i++) {
        const int32_t slot = j->slots[i];
        if (slot < 0) continue;
        const int block = slot / bs, off = slot % bs;
        for (int64_t g = g0; g < g1; g++) {
            const float *src_k = j->k + (i * p->n_head_kv + g) * D;
            const float *src_v = j->v + (i * p->n_head_kv + g) * D;
            const size_t e = (size_t)off * kiln_attn_row_bytes(p->kv_type, D);
            char *dk = (char *)kiln_attn_kv_rows(p, p->k_cache, block, (int)g) + e;
            char *dv = (char *)kiln_attn_kv_rows(p, p->v_cache, block, (int)g) + e;
            if (p->kv_type == KILN_TYPE_F16) {
                j->to_f16(src_k, (uint16_t *)(void *)dk, D);
                j->to_f16(src_v, (uint16_t *)(void *)dv, D);
            } else if (p->kv_type == KILN_TYPE_Q8_0) {
                store_q8_0(src_k, D, (block_q8_0 *)(void *)dk);
                store_q8_0(src_v, D, (block_q8_0 *)(void *)dv);
            } else {
                memcpy(dk, src_k, (size_t)D * 4);
                memcpy(dv, src_v, (size_t)D * 4);
            }
        }
    }
}

int kiln_kv_store(const kiln_kv_layout *kv, const float *k, const float *v, const int32_t *slots,
                  int64_t n_tokens) {
    kiln_attn_params p;
    if (!k || !v || !slots) return KILN_ERR_NULL;
    int rc = kiln_attn_check_layout(kv, &p);
    if (rc != KILN_OK) return rc;
    if (n_tokens < 0) return KILN_ERR_SIZE;
    const int64_t n_slots = (int64_t)kv->n_blocks * kv->block_size;
    for (int64_t i = 0; i < n_tokens; i++)
        if (slots[i] >= n_slots) return KILN_ERR_INDEX;
    if ((rc = kiln_ensure_init()) != KILN_OK) return rc;
    store_job j = {&p, k, v, slots, n_tokens, kiln_kernels_active()->kv_to_f16};
    int nth = kiln_threads_for(n_tokens * kv->n_head_kv * kv->head_dim, 1 << 15);
    if (nth > kv->n_head_kv) nth = kv->n_head_kv;
    kiln_parallel(store_task, &j, nth);
    return KILN_OK;
}

/* ---- decode / prefill ---------------------------------------------------- */
typedef struct {
    kiln_attn_params p;
    kiln_attn_item_fn kernel;
    const float *q;
    float *out;
    const int32_t *block_tables;
    int max_blocks;
    int64_t n_items;
    /* decode: item = s*n_head_kv + g. prefill: item = T*n_head_kv + g for the
     * T-th query tile of the call; tile_start[s] is sequence s's first tile. */
    const int32_t *seq_lens;    /* decode */
    const int32_t *q_start;     /* prefill */
    const int32_t *ctx_lens;    /* prefill */
    const int64_t *tile_start;  /* prefill, n_seq+1 entries */
    int64_t n_seq;
    int q_tile;                 /* prefill queries per item */
    float *scratch;
    int64_t scratch_stride;     /* floats per thread */
    _Atomic int64_t next_item;  /* the next unclaimed item */
} attn_job;

/* item_of fills it for item idx of the call. */
static void item_of(const attn_job *j, int64_t idx, kiln_attn_item *it) {
    const kiln_attn_params *p = &j->p;
    const int g = (int)(idx % p->n_head_kv);
    int64_t s, q0;
    if (!j->tile_start) {
        s = idx / p->n_head_kv;
        q0 = s;
        it->n_q = 1;
        it->pos0 = j->seq_lens[s] - 1;
    } else {
        const int64_t T = idx / p->n_head_kv;
        int64_t lo = 0, hi = j->n_seq; /* last s with tile_start[s] <= T */
        while (hi - lo > 1) {
            const int64_t mid = (lo + hi) / 2;
            if (j->tile_start[mid] <= T) lo = mid;
            else hi = mid;
        }
        s = lo;
        const int64_t first = (T - j->tile_start[s]) * j->q_tile;
        const int nq = j->q_start[s + 1] - j->q_start[s];
        q0 = j->q_start[s] + first;
        it->n_q = (int)(nq - first < j->q_tile ? nq - first : j->q_tile);
        it->pos0 = (int)(j->ctx_lens[s] - nq + first);
    }
    const int64_t off = (q0 * p->n_head + (int64_t)g * p->group) * p->head_dim;
    it->q = j->q + off;
    it->out = j->out + off;
    it->block_table = j->block_tables + s * j->max_blocks;
    it->kv_head = g;
}

/* attn_task claims items one at a time from a shared counter: items differ
 * in length (ragged contexts), and a thread the OS runs late should not hold
 * the others up — so it runs as a claim task (kiln_parallel_claim): a worker
 * that wakes after the items are gone skips it instead of being waited for.
 * An item's result does not depend on which thread runs it. */
static void attn_task(void *arg, int ith, int nth) {
    (void)nth;
    attn_job *j = arg;
    float *scratch = j->scratch + ith * j->scratch_stride;
    for (;;) {
        const int64_t idx = atomic_fetch_add_explicit(&j->next_item, 1, memory_order_relaxed);
        if (idx >= j->n_items) return;
        kiln_attn_item it;
        item_of(j, idx, &it);
        j->kernel(&j->p, &it, scratch);
    }
}

/* run_items allocates per-thread scratch for items of up to `rows` rows and
 * runs the job; work (flops) sizes the thread count. */
static int run_items(attn_job *j, int rows, int64_t work) {
    int nth = kiln_threads_for(work, KILN_ATTN_MIN_WORK);
    if (nth > j->n_items) nth = (int)j->n_items;
    if (nth < 1) return KILN_OK;
    j->scratch_stride = kiln_attn_pad16(kiln_attn_scratch_floats(&j->p, rows));
    const size_t bytes = (size_t)j->scratch_stride * (size_t)nth * sizeof(float);
    j->scratch = aligned_alloc(64, bytes);
    if (!j->scratch) return KILN_ERR_NOMEM;
    j->kernel = pick_kernel();
    atomic_store_explicit(&j->next_item, 0, memory_order_relaxed);
    kiln_parallel_claim(attn_task, j, nth);
    free(j->scratch);
    return KILN_OK;
}

int kiln_attn_decode(const kiln_kv_layout *kv, const float *q, float *out, int64_t n_seq,
                     const int32_t *block_tables, int max_blocks, const int32_t *seq_lens) {
    attn_job j;
    memset(&j, 0, sizeof j);
    if (!q || !out || !block_tables || !seq_lens) return KILN_ERR_NULL;
    int rc = kiln_attn_check_layout(kv, &j.p);
    if (rc != KILN_OK) return rc;
    if (n_seq < 0 || max_blocks < 1) return KILN_ERR_SIZE;
    int64_t tokens = 0;
    for (int64_t s = 0; s < n_seq; s++)
        if (seq_lens[s] < 1) return KILN_ERR_SIZE;
    for (int64_t s = 0; s < n_seq; s++) {
        if ((rc = check_blocks(kv, block_tables + s * max_blocks, max_blocks, seq_lens[s])) != KILN_OK)
            return rc;
        tokens += seq_lens[s];
    }
    if ((rc = kiln_ensure_init()) != KILN_OK) return rc;
    j.q = q;
    j.out = out;
    j.block_tables = block_tables;
    j.max_blocks = max_blocks;
    j.seq_lens = seq_lens;
    j.n_seq = n_seq;
    j.n_items = n_seq * kv->n_head_kv;
    return run_items(&j, j.p.group, tokens * kv->n_head * kv->head_dim * 4);
}

int kiln_attn_prefill(const kiln_kv_layout *kv, const float *q, float *out, int64_t n_seq,
                      const int32_t *q_start, const int32_t *ctx_lens, const int32_t *block_tables,
                      int max_blocks) {
    attn_job j;
    memset(&j, 0, sizeof j);
    if (!q || !out || !q_start || !ctx_lens || !block_tables) return KILN_ERR_NULL;
    int rc = kiln_attn_check_layout(kv, &j.p);
    if (rc != KILN_OK) return rc;
    if (n_seq < 0 || max_blocks < 1 || q_start[0] != 0) return KILN_ERR_SIZE;
    for (int64_t s = 0; s < n_seq; s++) {
        const int64_t nq = (int64_t)q_start[s + 1] - q_start[s];
        if (nq < 0 || ctx_lens[s] < nq) return KILN_ERR_SIZE;
    }
    for (int64_t s = 0; s < n_seq; s++)
        if ((rc = check_blocks(kv, block_tables + s * max_blocks, max_blocks, ctx_lens[s])) != KILN_OK)
            return rc;
    if ((rc = kiln_ensure_init()) != KILN_OK) return rc;

    const int G = j.p.group;
    j.q_tile = KILN_ATTN_ROWS / G > 1 ? KILN_ATTN_ROWS / G : 1;
    int64_t *tile_start = malloc((size_t)(n_seq + 1) * sizeof(int64_t));
    if (!tile_start) return KILN_ERR_NOMEM;
    int64_t work = 0;
    tile_start[0] = 0;
    for (int64_t s = 0; s < n_seq; s++) {
        const int64_t nq = q_start[s + 1] - q_start[s];
        tile_start[s + 1] = tile_start[s] + (nq + j.q_tile - 1) / j.q_tile;
        work += nq * (int64_t)ctx_lens[s]; /* ~2x the causal pairs: fine for sizing */
    }
    j.q = q;
    j.out = out;
    j.block_tables = block_tables;
    j.max_blocks = max_blocks;
    j.q_start = q_start;
    j.ctx_lens = ctx_lens;
    j.tile_start = tile_start;
    j.n_seq = n_seq;
    j.n_items = tile_start[n_seq] * kv->n_head_kv;
    rc = run_items(&j, j.q_tile * G, work * kv->n_head * kv->head_dim * 2);
    free(tile_start);
    return rc;
}
