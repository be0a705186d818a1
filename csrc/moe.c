/* moe.c — kiln_moe_ffn: a mixture-of-experts feed-forward of a whole batch
 * in one call and one claim-mode pool task.
 *
 * Per layer, the per-expert path (one kiln_matmul_multi for gate and up,
 * kiln_swiglu, kiln_matmul for down, then a kiln_scale and kiln_add per
 * slot) costs three pool hand-offs per chosen expert, requantizes the same
 * token for every expert it chose, and splits each small expert matrix
 * (768×2048 at qwen3-30b-a3b) over the threads on its own, so the threads
 * wait for each other once per matrix. Here the caller groups the
 * (token, slot) pairs by expert and one task runs six phases, each a run of
 * items the threads claim from a shared counter, with a barrier on a
 * done-counter between phases (kiln_spin_until_at_least), so a thread the OS
 * runs late is not waited for:
 *   0 quantize each token's X row to Q8_K once;
 *   1 gather the quantized rows of every expert chosen by more than one token
 *     (an expert with one token reads that token's row in place);
 *   2 the gate and up column chunks of every chosen expert, all experts in
 *     one run (each expert's weights read once per call, as a GEMM over its
 *     tokens when it has gemm_min_m of them, else the type's GEMV);
 *   3 SwiGLU of each pair's row, quantized to Q8_K;
 *   4 the down column chunks of every chosen expert;
 *   5 each token's weighted sum of its slots, in slot order.
 * Every output is computed by the kernels kiln_matmul, kiln_swiglu,
 * kiln_scale and kiln_add use, on the same inputs, so the result is bit for
 * bit that of the per-expert path, whatever the batch around a row and the
 * thread count. */
#include "kernels.h"
#include "quant.h"

#include <stdatomic.h>
#include <string.h>

/* Multiply-adds per thread below which the call stays on the caller (matmul.c's figure). */
#define MOE_MIN_MACS_PER_THREAD ((int64_t)1 << 16)
/* Column chunk of one expert matrix: about this many bytes of W, in whole
 * 16-column runs (matmul.c's GEMV chunk: long enough to stream, short enough
 * to balance). */
#define MOE_CHUNK_BYTES ((int64_t)256 << 10)
#define MOE_SPLIT_ALIGN 16
/* An expert with at most this many rows takes its type's GEMV, not the
 * GEMM: the GEMM unpacks every 16-row W panel for the rows it has, the
 * 16-row GEMVs stream W once per three rows, mostly from L2 after the first.
 * Measured at qwen3-30b-a3b's expert shapes, 1 thread: four rows per expert
 * (a 16-token batch, 8 of 32 experts each) 9.3-9.7 -> 6.7-6.9 ms for Q4_K
 * experts, 9.6-10.0 -> 9.0-9.1 ms with Q6_K down; sixteen rows are faster
 * through the GEMM (18.0 against 20.8-21.5 ms). Both give the same bits. */
#define MOE_GEMV_MAX_M 8
/* Largest sizes accepted (keeps every product in int64 and size_t). */
#define MOE_MAX_DIM ((int64_t)1 << 24)

enum { PH_QUANT, PH_GATHER, PH_GATE_UP, PH_ACT, PH_DOWN, PH_COMBINE, PH_COUNT };
enum { W_GATE, W_UP, W_DOWN };

typedef struct {
    const kiln_kernels *kt;
    int64_t d, f, t, k;
    int wtype[3];
    const char *w[3];   /* expert 0's matrix of each kind */
    size_t wstride[3];  /* bytes per W row */
    size_t wexpert[3];  /* bytes per expert */
    const float *x, *weight;
    float *y;
    /* grouping by expert (filled by the caller before the task) */
    int64_t used;      /* experts chosen by at least one token */
    int32_t *eid;      /* [used] their ids, ascending */
    int64_t *gstart;   /* [used+1] their runs of pairs */
    int32_t *ptok;     /* [t*k] token of each pair, pairs in expert order */
    int64_t *pos;      /* [t*k] pair index of (token, slot) */
    /* buffers */
    block_q8_K *xk;    /* [t, d/256] tokens */
    block_q8_K *xg;    /* [t*k, d/256] gathered rows (experts with > 1 token) */
    float *gate, *up;  /* [t*k, f] */
    block_q8_K *hk;    /* [t*k, f/256] SwiGLU rows quantized */
    float *out;        /* [t*k, d] expert outputs */
    float *scratch;    /* KILN_MM_SCRATCH_FLOATS per thread */
    /* work */
    int64_t chunk[3], chunks[3]; /* columns per chunk and chunks per expert matrix */
    int64_t items[PH_COUNT];
    _Atomic int64_t next[PH_COUNT], done[PH_COUNT];
} moe_task;

/* run_mm computes chunk c of matrix kind wk of group g (its pairs' rows). */
static void run_mm(const moe_task *t, int wk, int64_t g, int64_t c, float *scratch) {
    const int64_t p0 = t->gstart[g], cnt = t->gstart[g + 1] - p0;
    const int64_t kin = wk == W_DOWN ? t->f : t->d, n = wk == W_DOWN ? t->d : t->f;
    const int64_t nbk = kin / KILN_QK_K;
    kiln_mm p = {.wtype = t->wtype[wk], .wstride = t->wstride[wk], .m = cnt, .n = n, .k = kin, .kpad = kin};
    p.w = t->w[wk] + (size_t)t->eid[g] * t->wexpert[wk];
    if (wk == W_DOWN) {
        p.xk = t->hk + p0 * nbk;
        p.y = t->out + p0 * n;
    } else {
        p.xk = cnt == 1 ? t->xk + (int64_t)t->ptok[p0] * nbk : t->xg + p0 * nbk;
        p.y = (wk == W_GATE ? t->gate : t->up) + p0 * n;
    }
    const int64_t n0 = c * t->chunk[wk], n1 = n0 + t->chunk[wk] < n ? n0 + t->chunk[wk] : n;
    const kiln_type_kernels *row = &t->kt->types[p.wtype];
    kiln_mm_kernel fn = cnt > MOE_GEMV_MAX_M && cnt >= row->gemm_min_m ? row->gemm : row->gemv;
    fn(&p, n0, n1, scratch);
}

/* run_item does item i of phase ph. */
static void run_item(moe_task *t, int ph, int64_t i, float *scratch) {
    const int64_t d = t->d, f = t->f, nbd = d / KILN_QK_K, nbf = f / KILN_QK_K;
    const kiln_ops_kernels *ops = &t->kt->ops;
    switch (ph) {
    case PH_QUANT: kiln_mm_quantize_rows_q8_K(t->x, t->xk, d, i, i + 1); break;
    case PH_GATHER: {
        const int64_t p0 = t->gstart[i], p1 = t->gstart[i + 1];
        if (p1 - p0 > 1)
            for (int64_t p = p0; p < p1; p++) memcpy(t->xg + p * nbd, t->xk + (int64_t)t->ptok[p] * nbd, (size_t)nbd * sizeof(block_q8_K));
        break;
    }
    case PH_GATE_UP: {
        const int64_t per = t->chunks[W_GATE] + t->chunks[W_UP], g = i / per, r = i % per;
        if (r < t->chunks[W_GATE]) run_mm(t, W_GATE, g, r, scratch);
        else run_mm(t, W_UP, g, r - t->chunks[W_GATE], scratch);
        break;
    }
    case PH_ACT: {
        float *g = t->gate + i * f;
        ops->swiglu(g, g, t->up + i * f, f);
        kiln_quantize_row_q8_K_ref(g, t->hk + i * nbf, f);
        break;
    }
    case PH_DOWN: run_mm(t, W_DOWN, i / t->chunks[W_DOWN], i % t->chunks[W_DOWN], scratch); break;
    case PH_COMBINE: { /* y = ((w0·r0 + w1·r1) + w2·r2) + ..., as kiln_scale then kiln_add */
        float *yt = t->y + i * d;
        for (int64_t j = 0; j < t->k; j++) {
            float *r = t->out + t->pos[i * t->k + j] * d;
            ops->scale(r, r, t->weight[i * t->k + j], d);
            if (j == 0) memcpy(yt, r, (size_t)d * sizeof(float));
            else ops->add(yt, yt, r, d);
        }
        break;
    }
    }
}

/* moe_worker claims the items of each phase in turn; between phases it
 * waits until every item of the phase is done (by whichever thread). */
static void moe_worker(void *arg, int ith, int nth) {
    (void)nth;
    moe_task *t = arg;
    float *scratch = t->scratch + (size_t)ith * KILN_MM_SCRATCH_FLOATS;
    for (int ph = 0; ph < PH_COUNT; ph++) {
        for (;;) {
            const int64_t i = atomic_fetch_add_explicit(&t->next[ph], 1, memory_order_relaxed);
            if (i >= t->items[ph]) break;
            run_item(t, ph, i, scratch);
            atomic_fetch_add_explicit(&t->done[ph], 1, memory_order_release);
        }
        if (ph + 1 < PH_COUNT) kiln_spin_until_at_least(&t->done[ph], t->items[ph]);
    }
}

/* chunk_cols splits n columns of rows of row_bytes into equal chunks of about
 * MOE_CHUNK_BYTES, in whole MOE_SPLIT_ALIGN runs. */
static int64_t chunk_cols(int64_t n, size_t row_bytes) {
    int64_t want = MOE_CHUNK_BYTES / (int64_t)row_bytes;
    if (want < 1) want = 1;
    const int64_t chunks = (n + want - 1) / want;
    int64_t c = (n + chunks - 1) / chunks;
    c = (c + MOE_SPLIT_ALIGN - 1) / MOE_SPLIT_ALIGN * MOE_SPLIT_ALIGN;
    return c < n ? c : n;
}

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

int kiln_moe_ffn(const kiln_moe_shape *s, const void *gate, const void *up, const void *down, const float *x,
                 const int32_t *pick, const float *weight, float *y) {
    if (!s || !gate || !up || !down || !x || !pick || !weight || !y) return KILN_ERR_NULL;
    const int64_t d = s->d, f = s->f, nt = s->t, k = s->k, ne = s->n_expert;
    if (d <= 0 || f <= 0 || nt <= 0 || k <= 0 || ne <= 0 || k > ne) return KILN_ERR_SIZE;
    if (d > MOE_MAX_DIM || f > MOE_MAX_DIM || nt > MOE_MAX_DIM || ne > MOE_MAX_DIM || nt * k > MOE_MAX_DIM)
        return KILN_ERR_SIZE;
    if (d % KILN_QK_K || f % KILN_QK_K) return KILN_ERR_ALIGN;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    moe_task t = {.kt = kiln_kernels_active(), .d = d, .f = f, .t = nt, .k = k, .x = x, .weight = weight, .y = y};
    const int types[3] = {s->gate_type, s->up_type, s->down_type};
    const void *ws[3] = {gate, up, down};
    for (int wk = 0; wk < 3; wk++) {
        const kiln_type_kernels *row = kiln_kernels_row(t.kt, types[wk]);
        if (!row || row->x_form != KILN_X_Q8_K) return KILN_ERR_TYPE;
        const int64_t kin = wk == W_DOWN ? f : d, n = wk == W_DOWN ? d : f;
        t.wtype[wk] = types[wk];
        t.w[wk] = ws[wk];
        t.wstride[wk] = kiln_row_size(types[wk], kin);
        t.wexpert[wk] = (size_t)n * t.wstride[wk];
        t.chunk[wk] = chunk_cols(n, t.wstride[wk]);
        t.chunks[wk] = (n + t.chunk[wk] - 1) / t.chunk[wk];
    }
    const int64_t pairs = nt * k;
    for (int64_t i = 0; i < pairs; i++)
        if (pick[i] < 0 || pick[i] >= ne) return KILN_ERR_INDEX;

    const int64_t nbd = d / KILN_QK_K, nbf = f / KILN_QK_K;
    const int nth = kiln_threads_for(pairs * 3 * f * d, MOE_MIN_MACS_PER_THREAD);
    const size_t sz_acc = align64((size_t)nth * KILN_MM_SCRATCH_FLOATS * sizeof(float));
    const size_t sz_xk = align64((size_t)(nt * nbd) * sizeof(block_q8_K));
    const size_t sz_xg = align64((size_t)(pairs * nbd) * sizeof(block_q8_K));
    const size_t sz_gu = align64((size_t)(pairs * f) * sizeof(float));
    const size_t sz_hk = align64((size_t)(pairs * nbf) * sizeof(block_q8_K));
    const size_t sz_out = align64((size_t)(pairs * d) * sizeof(float));
    const size_t sz_group = align64((size_t)(ne + 1) * sizeof(int64_t)) + align64((size_t)ne * sizeof(int32_t)) +
                            align64((size_t)pairs * sizeof(int32_t)) + align64((size_t)pairs * sizeof(int64_t));
    char *area = kiln_scratch_take(sz_acc + sz_xk + sz_xg + 2 * sz_gu + sz_hk + sz_out + sz_group + 64);
    if (!area) return KILN_ERR_NOMEM;
    char *a = area;
    t.scratch = (float *)a, a += sz_acc;
    t.xk = (block_q8_K *)a, a += sz_xk;
    t.xg = (block_q8_K *)a, a += sz_xg;
    t.gate = (float *)a, a += sz_gu;
    t.up = (float *)a, a += sz_gu;
    t.hk = (block_q8_K *)a, a += sz_hk;
    t.out = (float *)a, a += sz_out;
    t.gstart = (int64_t *)a, a += align64((size_t)(ne + 1) * sizeof(int64_t));
    t.eid = (int32_t *)a, a += align64((size_t)ne * sizeof(int32_t));
    t.ptok = (int32_t *)a, a += align64((size_t)pairs * sizeof(int32_t));
    t.pos = (int64_t *)a;

    /* Counting sort of the pairs by expert, tokens ascending within one;
     * gstart first holds every expert's run, then is packed to the chosen ones. */
    int64_t *start = t.gstart;
    memset(start, 0, (size_t)(ne + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < pairs; i++) start[pick[i] + 1]++;
    for (int64_t e = 0; e < ne; e++) start[e + 1] += start[e];
    for (int64_t i = 0; i < pairs; i++) { /* pos first counts each expert's fill */
        const int64_t e = pick[i], p = start[e]++;
        t.ptok[p] = (int32_t)(i / k);
        t.pos[i] = p;
    }
    /* start[e] is now the end of e's run: pack the non-empty runs */
    int64_t prev = 0;
    for (int64_t e = 0; e < ne; e++) {
        const int64_t end = start[e];
        if (end > prev) {
            t.eid[t.used] = (int32_t)e;
            start[t.used++] = prev;
            prev = end;
        }
    }
    start[t.used] = prev;

    t.items[PH_QUANT] = nt;
    t.items[PH_GATHER] = t.used;
    t.items[PH_GATE_UP] = t.used * (t.chunks[W_GATE] + t.chunks[W_UP]);
    t.items[PH_ACT] = pairs;
    t.items[PH_DOWN] = t.used * t.chunks[W_DOWN];
    t.items[PH_COMBINE] = nt;
    for (int ph = 0; ph < PH_COUNT; ph++) {
        atomic_store_explicit(&t.next[ph], 0, memory_order_relaxed);
        atomic_store_explicit(&t.done[ph], 0, memory_order_relaxed);
    }
    kiln_parallel_claim(moe_worker, &t, nth);
    kiln_scratch_give(area);
    return KILN_OK;
}
