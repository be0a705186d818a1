/* matmul.c — kiln_matmul, kiln_matmul_multi and kiln_quantize_q8_0:
 * validation, scratch, ISA choice and the split of output columns over the
 * thread pool.
 *
 * One call is one Go->C crossing and one pool hand-off (kiln_matmul_multi:
 * several outputs over one X). For Q8_0 weights the threads first claim
 * groups of X rows to quantize into scratch, wait until every row is done,
 * then claim column chunks of Y from a shared counter.
 * Columns (W rows) are split, not rows of X, so every thread streams
 * disjoint runs of W (the dominant traffic) and an output never depends on
 * the split (see matmul.h for the arithmetic rule). Which kernels run is
 * the active ISA's kernel table's (kernels.h): the row of each weight type. */
#include "repack.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Multiply-adds per thread below which a call stays on the calling thread:
 * handing a share to a spinning worker costs about a microsecond, 64k MACs
 * of Q8_0 GEMV take about three (576x576 GEMV: 13.5 us alone, 9.3 us on two). */
#define KILN_MM_MIN_MACS_PER_THREAD ((int64_t)1 << 16)
/* Column split granularity: a multiple of every kernel's NR, so tiles stay whole. */
#define KILN_MM_SPLIT_ALIGN 16
/* Largest m*k, n*k or m*n accepted (elements): keeps every index in int64 and size_t. */
#define KILN_MM_MAX_ELEMS ((int64_t)1 << 46)

/* ---- the blocked driver shared by the SIMD variants ----------------------- */
/* Loop nest, outermost first: n block (NB W rows, kept in L2), m block (MB X
 * rows, bounds the accumulator scratch), k block (KC elements; the whole of
 * k when m is below the tile height, so a GEMV streams each W row once from
 * start to end), X row group (MR rows, kept in L1), W row group (NR rows).
 * Tiles only change which outputs are computed together, never how. */
void kiln_mm_blocked(const kiln_mm *p, const kiln_mm_tiles *tl, int64_t n0, int64_t n1, float *acc) {
    const int64_t m = p->m, k = p->k;
    const kiln_mm_tile_fn fn = tl->fn;
    const int64_t kc = m < tl->mr ? k : KILN_MM_KC;
    for (int64_t nb0 = n0; nb0 < n1; nb0 += KILN_MM_NB) {
        const int64_t nb1 = nb0 + KILN_MM_NB < n1 ? nb0 + KILN_MM_NB : n1;
        for (int64_t mb0 = 0; mb0 < m; mb0 += KILN_MM_MB) {
            const int64_t mb1 = mb0 + KILN_MM_MB < m ? mb0 + KILN_MM_MB : m;
            for (int64_t kb0 = 0; kb0 < k; kb0 += kc) {
                kiln_mm_tile t = {.p = p, .c0 = kb0, .c1 = kb0 + kc < k ? kb0 + kc : k,
                                  .first = kb0 == 0, .acc_ld = KILN_MM_NB * KILN_MM_MAXVL};
                t.last = t.c1 == k;
                for (int64_t i0 = mb0; i0 < mb1;) {
                    const int mr = mb1 - i0 >= tl->mr ? tl->mr : 1;
                    const int nr = mr > 1 ? tl->nr : tl->nr1;
                    t.i0 = i0;
                    for (int64_t j0 = nb0; j0 < nb1;) {
                        const int w = nb1 - j0 >= nr ? nr : 1;
                        t.j0 = j0;
                        t.acc = acc + ((i0 - mb0) * KILN_MM_NB + (j0 - nb0)) * KILN_MM_MAXVL;
                        fn(&t, mr, w);
                        j0 += w;
                    }
                    i0 += mr;
                }
            }
        }
    }
}

/* ---- parallel bodies ----------------------------------------------------- */
/* mm_task is one kiln_matmul_multi call: up to KILN_MATMUL_MAX_OUTS problems
 * over the same X. Their columns, laid end to end (output i owns columns
 * off[i] .. off[i+1]-1 of the run), are cut into chunks that threads claim
 * from one shared counter, so one hand-off covers every output. */
typedef struct {
    kiln_mm p[KILN_MATMUL_MAX_OUTS];
    int count;
    kiln_mm xq; /* Q8_0 only: the quantized X every Q8_0 output reads (x, xq, xd, xp, xdp, m, k, kpad) */
    const kiln_kernels *kt; /* the active ISA's table */
    const kiln_type_kernels *q8row; /* Q8_0 X: the row whose gemm_layout tiles X (if xq.xp) */
    const kiln_type_kernels *qkrow; /* Q8_K X: the row whose gemm_layout lays out X (if xq.xkt) */
    float *scratch;  /* scratch_floats per thread */
    size_t scratch_floats; /* KILN_MM_SCRATCH_FLOATS, plus the unpack area of Q8_0_R16's portable path */
    _Atomic int64_t next; /* first column of the run not yet claimed (one-ended runs) */
    _Atomic uint64_t ends; /* two-ended runs: the unclaimed columns [lo, hi) as hi << 32 | lo */
    int two_ended;         /* the run fits in 32 bits: odd ith claim from its end */
    int64_t max_chunk, min_chunk, guide; /* chunk sizing, see claim() */
    int64_t off[KILN_MATMUL_MAX_OUTS + 1];
    /* Q8_0: X rows are quantized (and tiled) in groups of group_rows rows
     * that threads claim before any column chunk (0 groups: no Q8_0 output) */
    int64_t groups, group_rows;
    _Atomic int64_t next_group, groups_done;
} mm_task;

/* Chunks per thread at most: enough that a thread the OS runs late (on two
 * cores the Go runtime's threads compete with the pool) takes fewer chunks
 * while the others take more, instead of everyone waiting for its static
 * share; few enough that each chunk is a long run of W rows for the prefetcher. */
#define KILN_MM_CHUNKS_PER_THREAD 4
/* Guided chunk sizes: a claim takes 1/(GUIDE·nth) of what is left (within
 * [min_chunk, max_chunk]), so chunks shrink towards the end and the threads
 * finish within about one small chunk of each other, not half a big one. */
#define KILN_MM_GUIDE 2
/* Smallest guided chunk (batches of KILN_MM_Q8G_MIN_M rows and more): two
 * 16-column panels (measured alike at 16, 32 and 64 for 16 rows). */
#define KILN_MM_MIN_CHUNK 32
/* GEMV chunks (m below KILN_MM_Q8G_MIN_M) are fixed runs of about this many
 * bytes of W: long enough to stream (a few microseconds each), short enough
 * that the threads finish within one of each other and that a thread the OS
 * runs late leaves little behind for the others to wait on. */
#ifndef KILN_MM_GEMV_CHUNK_BYTES
#define KILN_MM_GEMV_CHUNK_BYTES ((int64_t)256 << 10)
#endif

/* round_up_runs rounds a column count up to whole runs of `align` columns,
 * at least one: a chunk of 0 columns would let claim() spin without end
 * (a GEMV whose single row holds more than KILN_MM_GEMV_CHUNK_BYTES). */
static int64_t round_up_runs(int64_t cols, int64_t align) {
    if (cols < 1) cols = 1;
    return (cols + align - 1) / align * align;
}

/* round_up_split rounds a column count up to whole KILN_MM_SPLIT_ALIGN runs (at least one). */
static int64_t round_up_split(int64_t cols) { return round_up_runs(cols, KILN_MM_SPLIT_ALIGN); }

/* chunk_size is the next claim's column count when `left` columns are unclaimed. */
static int64_t chunk_size(const mm_task *t, int64_t left) {
    int64_t size = left / t->guide;
    size = (size + KILN_MM_SPLIT_ALIGN - 1) / KILN_MM_SPLIT_ALIGN * KILN_MM_SPLIT_ALIGN;
    return size < t->min_chunk ? t->min_chunk : size > t->max_chunk ? t->max_chunk : size;
}

/* claim takes the next chunk: output *o, its columns [*n0, *n1); 0 when none is left. */
static int claim(mm_task *t, int *o, int64_t *n0, int64_t *n1) {
    const int64_t total = t->off[t->count];
    int64_t c0 = atomic_load_explicit(&t->next, memory_order_relaxed), c1;
    int i;
    do {
        if (c0 >= total) return 0;
        const int64_t size = chunk_size(t, total - c0);
        for (i = 0; c0 >= t->off[i + 1]; i++) {}
        c1 = c0 + size < t->off[i + 1] ? c0 + size : t->off[i + 1]; /* never past the output's end */
    } while (!atomic_compare_exchange_weak_explicit(&t->next, &c0, c1, memory_order_relaxed, memory_order_relaxed));
    *o = i;
    *n0 = c0 - t->off[i];
    *n1 = c1 - t->off[i];
    return 1;
}

/* claim_two_ended is claim for a run whose ends are claimed separately: from
 * the front (from_back == 0) or the back. With two threads each then streams
 * one contiguous part of W towards the other's instead of every other chunk,
 * and they meet wherever the work balances. Chunks start on whole
 * KILN_MM_SPLIT_ALIGN runs of their output, as claim's do. */
static int claim_two_ended(mm_task *t, int from_back, int *o, int64_t *n0, int64_t *n1) {
    uint64_t w = atomic_load_explicit(&t->ends, memory_order_relaxed), nw;
    int64_t c0, c1;
    int i;
    do {
        const int64_t lo = (int64_t)(uint32_t)w, hi = (int64_t)(w >> 32);
        if (lo >= hi) return 0;
        const int64_t size = chunk_size(t, hi - lo);
        if (!from_back) {
            for (i = 0; lo >= t->off[i + 1]; i++) {}
            c0 = lo;
            c1 = lo + size < t->off[i + 1] ? lo + size : t->off[i + 1]; /* never past the output's end */
            c1 = c1 < hi ? c1 : hi;
            nw = (uint64_t)hi << 32 | (uint64_t)c1;
        } else {
            for (i = 0; hi > t->off[i + 1]; i++) {} /* the output holding column hi - 1 */
            c1 = hi;
            c0 = hi - size > t->off[i] ? t->off[i] + (hi - size - t->off[i]) / KILN_MM_SPLIT_ALIGN * KILN_MM_SPLIT_ALIGN
                                       : t->off[i]; /* never before the output's start */
            c0 = c0 > lo ? c0 : lo;
            nw = (uint64_t)c0 << 32 | (uint64_t)lo;
        }
    } while (!atomic_compare_exchange_weak_explicit(&t->ends, &w, nw, memory_order_relaxed, memory_order_relaxed));
    *o = i;
    *n0 = c0 - t->off[i];
    *n1 = c1 - t->off[i];
    return 1;
}

/* quantize_groups claims groups of X rows and quantizes (and tiles) them
 * until none is left, then waits for the groups other threads claimed: the
 * column chunks that follow read every row. Same kernels, same bits,
 * whichever thread quantizes a row; one hand-off for the whole call. */
static void quantize_groups(mm_task *t) {
    const kiln_mm *q = &t->xq;
    for (;;) {
        const int64_t g = atomic_fetch_add_explicit(&t->next_group, 1, memory_order_relaxed);
        if (g >= t->groups) break;
        const int64_t r0 = g * t->group_rows, r1 = r0 + t->group_rows < q->m ? r0 + t->group_rows : q->m;
        if (q->xq) t->kt->quantize_q8_0(q->x, (int8_t *)q->xq, (float *)q->xd, q->k, q->kpad, r0, r1);
        if (q->xp) t->q8row->gemm_layout(q, r0, r1);
        if (q->xk) kiln_mm_quantize_rows_q8_K(q->x, (void *)q->xk, q->k, r0, r1);
        if (q->xkt) t->qkrow->gemm_layout(q, r0, r1);
        atomic_fetch_add_explicit(&t->groups_done, 1, memory_order_release);
    }
    kiln_spin_until_at_least(&t->groups_done, t->groups);
}

/* matmul_worker claims column chunks until none are left. Which thread
 * computes a column never changes how it is computed (matmul.h), so the
 * dynamic hand-out keeps results bit-identical across runs and thread counts. */
static void matmul_worker(void *arg, int ith, int nth) {
    (void)nth;
    mm_task *t = arg;
    if (t->groups) quantize_groups(t);
    float *scratch = t->scratch + (size_t)ith * t->scratch_floats;
    int o;
    int64_t n0, n1;
    while (t->two_ended ? claim_two_ended(t, ith & 1, &o, &n0, &n1) : claim(t, &o, &n0, &n1)) {
        const kiln_mm *p = &t->p[o];
        const kiln_type_kernels *row = &t->kt->types[p->wtype];
        (p->m >= row->gemm_min_m ? row->gemm : row->gemv)(p, n0, n1, scratch);
    }
}

static int check_dims(int64_t m, int64_t n, int64_t k) {
    if (m <= 0 || n <= 0 || k <= 0) return KILN_ERR_SIZE;
    if (k > KILN_MM_MAX_ELEMS / m || k > KILN_MM_MAX_ELEMS / n || n > KILN_MM_MAX_ELEMS / m)
        return KILN_ERR_SIZE;
    return KILN_OK;
}

/* check_out validates one output against the table kt (types it has a row for). */
static int check_out(const kiln_kernels *kt, const kiln_matmul_out *o, int64_t m, int64_t k) {
    if (!o->w || !o->y) return KILN_ERR_NULL;
    const kiln_type_traits *tr = kiln_type_traits_of(o->wtype);
    if (!tr || !kiln_kernels_row(kt, o->wtype)) return KILN_ERR_TYPE;
    const int rc = check_dims(m, o->n, k);
    if (rc != KILN_OK) return rc;
    if (k % tr->block) return KILN_ERR_ALIGN;
    if (kiln_r16_format_of(o->wtype) && o->n % KILN_R16_ROWS) return KILN_ERR_ALIGN; /* whole groups */
    return KILN_OK;
}

int kiln_matmul_multi(const float *x, int64_t m, int64_t k, const kiln_matmul_out *outs, int count) {
    if (!x || !outs) return KILN_ERR_NULL;
    if (count < 1 || count > KILN_MATMUL_MAX_OUTS) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    const kiln_kernels *kt = kiln_kernels_active();
    const kiln_type_kernels *q8row = NULL; /* a row reading Q8_0 X (one with a GEMM layout, if any) */
    int q8k = 0;                           /* some row reads Q8_K X */
    const kiln_type_kernels *qkrow = NULL; /* a Q8_K row whose GEMM wants X in its layout (all such share it) */
    int64_t n_total = 0;
    for (int i = 0; i < count; i++) {
        rc = check_out(kt, &outs[i], m, k);
        if (rc != KILN_OK) return rc;
        const kiln_type_kernels *row = &kt->types[outs[i].wtype];
        if (row->x_form == KILN_X_Q8_0 && (!q8row || row->gemm_layout)) q8row = row;
        q8k |= row->x_form == KILN_X_Q8_K;
        if (row->x_form == KILN_X_Q8_K && row->gemm_layout && m >= row->gemm_min_m) qkrow = row;
        n_total += outs[i].n;
    }
    rc = check_dims(m, n_total, k);
    if (rc != KILN_OK) return rc;
    const int q8 = q8row != NULL;

    mm_task t = {
        .count = count,
        .xq = {.x = x, .m = m, .k = k, .kpad = (k + 63) & ~(int64_t)63},
        .kt = kt,
        .q8row = q8row,
    };
    const int nth = kiln_threads_for(m * n_total * k, KILN_MM_MIN_MACS_PER_THREAD);
    /* a repacked output on the portable path unpacks runs of rows after the kernel scratch */
    t.scratch_floats = KILN_MM_SCRATCH_FLOATS;
    for (int i = 0; i < count; i++) {
        const kiln_type_kernels *row = &kt->types[outs[i].wtype];
        if ((m >= row->gemm_min_m ? row->gemm : row->gemv) != kiln_mm_r16_unpacked) continue;
        const size_t floats = KILN_MM_SCRATCH_FLOATS + (kiln_mm_r16_unpack_bytes(outs[i].wtype, k) + 63) / 64 * 16;
        t.scratch_floats = floats > t.scratch_floats ? floats : t.scratch_floats;
    }

    /* scratch layout: [nth accumulator areas][X quants m*kpad][X scales m*kpad/32]
     * and for a Q8_0 GEMM kernel [X int16 pairs m*kpad*2][X scales m*kpad/32] by tiles */
    const int64_t kpad = t.xq.kpad;
    const size_t acc_bytes = (size_t)nth * t.scratch_floats * sizeof(float);
    size_t q_bytes = 0, tiled_bytes = 0;
    if (q8) {
        q_bytes = (size_t)m * (size_t)kpad + (size_t)m * (size_t)(kpad / KILN_QK8_0) * 4;
        q_bytes = (q_bytes + 63) & ~(size_t)63;
        if (q8row->gemm_layout && m >= q8row->gemm_min_m)
            tiled_bytes = (size_t)m * (size_t)kpad * 2 + (size_t)m * (size_t)(kpad / KILN_QK8_0) * 4;
    }
    /* Q8_K X after the rest (292-byte blocks; k % 256 == 0 was checked) */
    const size_t qk_bytes = q8k ? ((size_t)m * (size_t)(k / 256) * 292 + 63) & ~(size_t)63 : 0;
    /* and a Q8_K GEMM's own layout of them, by whole tiles of its gemm_mr rows */
    const size_t qkt_bytes = qkrow ? (size_t)((m + qkrow->gemm_mr - 1) / qkrow->gemm_mr * qkrow->gemm_mr) * (size_t)k : 0;
    void *s = kiln_scratch_take(acc_bytes + q_bytes + tiled_bytes + qk_bytes + qkt_bytes + 64);
    if (!s) return KILN_ERR_NOMEM;
    t.scratch = s;
    if (q8) {
        int8_t *xq = (int8_t *)s + acc_bytes;
        t.xq.xq = xq;
        t.xq.xd = (const float *)(xq + (size_t)m * (size_t)kpad); /* kpad % 64 == 0: aligned */
        if (tiled_bytes) {
            t.xq.xp = (const int32_t *)((char *)s + acc_bytes + q_bytes); /* 64-byte aligned */
            t.xq.xdp = (const float *)(t.xq.xp + (size_t)m * (size_t)kpad / 2);
        }
    }
    if (q8k) t.xq.xk = (char *)s + acc_bytes + q_bytes + tiled_bytes;
    if (qkrow) {
        t.qkrow = qkrow;
        t.xq.xkt = (const int8_t *)((char *)s + acc_bytes + q_bytes + ((tiled_bytes + 63) & ~(size_t)63) + qk_bytes);
    }
    if (q8 || q8k) {
        t.group_rows = t.xq.xp ? q8row->gemm_mr : 4; /* the tiled layout goes by whole tiles */
        if (qkrow) /* both layouts by whole tiles: a multiple of both heights */
            for (int64_t g = t.group_rows; ; g += t.group_rows)
                if (g % qkrow->gemm_mr == 0) {
                    t.group_rows = g;
                    break;
                }
        t.groups = (m + t.group_rows - 1) / t.group_rows;
    }
    const int64_t per = (n_total + (int64_t)nth * KILN_MM_CHUNKS_PER_THREAD - 1) / ((int64_t)nth * KILN_MM_CHUNKS_PER_THREAD);
    t.max_chunk = round_up_split(per);
    if (m >= KILN_MM_Q8G_MIN_M) {
        t.min_chunk = KILN_MM_MIN_CHUNK < t.max_chunk ? KILN_MM_MIN_CHUNK : t.max_chunk;
    } else {
        /* a GEMV streams W once and is memory-bound: fixed runs of W rows */
        size_t row_bytes = 0;
        for (int i = 0; i < count; i++) {
            const size_t b = kiln_row_size(outs[i].wtype, k);
            row_bytes = b > row_bytes ? b : row_bytes;
        }
        /* whole pairs of 16-row groups, so the two runs the repacked GEMVs
         * read side by side (arch/x86/r16_streams.h) are equally long: with
         * an odd count one group is read alone (at k = 8192 a Q6_K chunk held 3) */
        const int64_t rows = round_up_runs(KILN_MM_GEMV_CHUNK_BYTES / (int64_t)row_bytes, 2 * KILN_MM_SPLIT_ALIGN);
        t.max_chunk = t.min_chunk = rows < t.max_chunk ? rows : t.max_chunk;
    }
    t.guide = (int64_t)nth * KILN_MM_GUIDE;
    for (int i = 0; i < count; i++) {
        kiln_mm *p = &t.p[i];
        *p = t.xq; /* X and, for Q8_0, its quantized forms */
        p->wtype = outs[i].wtype;
        p->w = outs[i].w;
        p->wstride = kiln_row_size(outs[i].wtype, k);
        p->y = outs[i].y;
        p->n = outs[i].n;
        t.off[i + 1] = t.off[i] + p->n;
    }
    atomic_store_explicit(&t.next, 0, memory_order_relaxed);
    t.two_ended = n_total <= (int64_t)UINT32_MAX;
    atomic_store_explicit(&t.ends, (uint64_t)n_total << 32, memory_order_relaxed);
    atomic_store_explicit(&t.next_group, 0, memory_order_relaxed);
    atomic_store_explicit(&t.groups_done, 0, memory_order_relaxed);
    kiln_parallel_claim(matmul_worker, &t, nth);
    kiln_scratch_give(s);
    return KILN_OK;
}

int kiln_matmul(int wtype, const void *w, const float *x, float *y, int64_t m, int64_t n, int64_t k) {
    if (!w || !x || !y) return KILN_ERR_NULL;
    const kiln_matmul_out o = {.wtype = wtype, .w = w, .y = y, .n = n};
    return kiln_matmul_multi(x, m, k, &o, 1);
}

int kiln_quantize_q8_0(const float *x, void *y, int64_t n) {
    if (!x || !y) return KILN_ERR_NULL;
    if (n <= 0) return KILN_ERR_SIZE;
    if (n % KILN_QK8_0) return KILN_ERR_ALIGN;
    block_q8_0 *out = y;
    for (int64_t b = 0; b < n / KILN_QK8_0; b++) kiln_q8_0_quantize_block_ref(x + b * KILN_QK8_0, &out[b]);
    return KILN_OK;
}
