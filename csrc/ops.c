/* ops.c — public entry points of the element-wise and row-wise ops:
 * conversions, dequantize, get_rows, rmsnorm, softmax, swiglu, add, scale, rope.
 *
 * Each entry point validates its arguments (never aborts or prints), makes
 * sure the library is initialised, picks the kernel table of the active ISA,
 * and runs the op — inline when it is small (a pool wake-up costs a few
 * microseconds, more than a decode-sized op takes), otherwise split over the
 * pool. Splits are by whole rows (row ops) or by 64-element chunks (span
 * ops); the kernels give each element / row the same bits wherever it lands,
 * so results never depend on the thread count. */
#include "kernels.h"

#include <stdlib.h>

/* Minimum work per thread, in elements, before an op is split. Memory-bound
 * spans need a lot to amortise the wake-up; exp-bound ones less. */
#define KILN_OPS_SPAN_MIN (1 << 15)  /* add, scale, conversions, dequantize */
#define KILN_OPS_EXP_MIN (1 << 13)   /* swiglu: one expf and a divide per element */
#define KILN_OPS_ROW_MIN (1 << 14)   /* rmsnorm, softmax, rope, get_rows */
#define KILN_OPS_CHUNK 64            /* span split granularity: whole cache lines, whole vectors */
#define KILN_ROPE_STACK 1024         /* rope tables up to this rope_dim live on the worker's stack */

/* kernels returns the ops of the active ISA's kernel table. */
static const kiln_ops_kernels *kernels(void) { return &kiln_kernels_active()->ops; }

/* mul_ok reports whether a*b fits in int64 (a, b > 0). */
static int mul_ok(int64_t a, int64_t b) { return a <= INT64_MAX / b; }

/* ---- span ops: one task type for every element-wise kernel ---------------- */

typedef enum {
    SPAN_F16_F32,
    SPAN_BF16_F32,
    SPAN_F32_F16,
    SPAN_F32_BF16,
    SPAN_DEQUANT, /* n counts elements; to_float of the type's row */
    SPAN_SWIGLU,
    SPAN_ADD,
    SPAN_SCALE,
} span_kind;

typedef struct {
    const kiln_ops_kernels *k;
    span_kind kind;
    const void *a, *b;
    void *y;
    float s;
    int64_t n;
    /* SPAN_DEQUANT: the row's dequantizer and its block (elements, bytes) */
    kiln_to_float_fn to_float;
    int64_t block;
    size_t block_bytes;
} span_task;

/* span_run applies the kernel to items [lo, hi). */
static void span_run(const span_task *t, int64_t lo, int64_t hi) {
    const int64_t n = hi - lo;
    switch (t->kind) {
    case SPAN_F16_F32: t->k->f16_to_f32((const uint16_t *)t->a + lo, (float *)t->y + lo, n); break;
    case SPAN_BF16_F32: t->k->bf16_to_f32((const uint16_t *)t->a + lo, (float *)t->y + lo, n); break;
    case SPAN_F32_F16: t->k->f32_to_f16((const float *)t->a + lo, (uint16_t *)t->y + lo, n); break;
    case SPAN_F32_BF16: t->k->f32_to_bf16((const float *)t->a + lo, (uint16_t *)t->y + lo, n); break;
    case SPAN_DEQUANT: /* lo and n are whole blocks (span_align) */
        t->to_float((const char *)t->a + (size_t)(lo / t->block) * t->block_bytes, (float *)t->y + lo, n);
        break;
    case SPAN_SWIGLU:
        t->k->swiglu((float *)t->y + lo, (const float *)t->a + lo, (const float *)t->b + lo, n);
        break;
    case SPAN_ADD: t->k->add((float *)t->y + lo, (const float *)t->a + lo, (const float *)t->b + lo, n); break;
    case SPAN_SCALE: t->k->scale((float *)t->y + lo, (const float *)t->a + lo, t->s, n); break;
    }
}

/* span_align is the split granularity: KILN_OPS_CHUNK elements, rounded up
 * to whole blocks of a dequantized type. */
static int64_t span_align(const span_task *t) {
    if (t->kind != SPAN_DEQUANT || t->block <= 1) return KILN_OPS_CHUNK;
    return (KILN_OPS_CHUNK + t->block - 1) / t->block * t->block;
}

static void span_worker(void *arg, int ith, int nth) {
    const span_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->n, ith, nth, span_align(t), &lo, &hi);
    if (lo < hi) span_run(t, lo, hi);
}

/* span_launch runs t inline or over the pool; `elems` is its size in
 * elements, min_per_thread the split threshold. */
static void span_launch(span_task *t, int64_t elems, int64_t min_per_thread) {
    const int nth = kiln_threads_for(elems, min_per_thread);
    if (nth <= 1) span_run(t, 0, t->n);
    else kiln_parallel(span_worker, t, nth);
}

/* span_start validates the common arguments and fills the task header. */
static int span_start(span_task *t, span_kind kind, const void *a, const void *b, void *y, int64_t n) {
    if (!a || !y || ((kind == SPAN_SWIGLU || kind == SPAN_ADD) && !b)) return KILN_ERR_NULL;
    if (n <= 0) return KILN_ERR_SIZE;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    *t = (span_task){.k = kernels(), .kind = kind, .a = a, .b = b, .y = y, .n = n};
    return KILN_OK;
}

/* ---- conversions ---------------------------------------------------------- */

int kiln_f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_F16_F32, x, NULL, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return rc;
}

int kiln_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_BF16_F32, x, NULL, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return rc;
}

int kiln_f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_F32_F16, x, NULL, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return rc;
}

int kiln_f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_F32_BF16, x, NULL, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return rc;
}

/* type_check validates a weight type (one the active table has a row
 * for) and a row length for it, and returns the row. */
static int type_check(int type, int64_t k, const kiln_type_kernels **row) {
    const kiln_type_traits *tr = kiln_type_traits_of(type);
    *row = tr ? kiln_kernels_row(kiln_kernels_active(), type) : NULL;
    if (!*row || !(*row)->to_float) return KILN_ERR_TYPE; /* Q8_0_R16: rows are interleaved */
    return k % tr->block ? KILN_ERR_ALIGN : KILN_OK;
}

int kiln_dequantize(int type, const void *x, float *y, int64_t n) {
    if (!x || !y) return KILN_ERR_NULL;
    if (n <= 0) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    const kiln_type_kernels *row;
    if ((rc = type_check(type, n, &row)) != KILN_OK) return rc;
    span_task t;
    rc = span_start(&t, SPAN_DEQUANT, x, NULL, y, n);
    if (rc != KILN_OK) return rc;
    const kiln_type_traits *tr = kiln_type_traits_of(type);
    t.to_float = row->to_float;
    t.block = tr->block;
    t.block_bytes = tr->block_bytes;
    span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return KILN_OK;
}

/* ---- get_rows ------------------------------------------------------------- */

typedef struct {
    kiln_to_float_fn to_float;
    const char *table;
    size_t row_bytes;
    int64_t k_elems;
    const int32_t *ids;
    int64_t n_ids;
    float *y;
} rows_task;

/* rows_run dequantizes table rows ids[lo..hi) into y[lo..hi, :]. */
static void rows_run(const rows_task *t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        const void *src = t->table + (size_t)t->ids[i] * t->row_bytes;
        t->to_float(src, t->y + i * t->k_elems, t->k_elems);
    }
}

static void rows_worker(void *arg, int ith, int nth) {
    const rows_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->n_ids, ith, nth, 1, &lo, &hi);
    if (lo < hi) rows_run(t, lo, hi);
}

int kiln_get_rows(int type, const void *table, int64_t n_rows, int64_t k, const int32_t *ids, int64_t n_ids,
                  float *y) {
    if (!table || !ids || !y) return KILN_ERR_NULL;
    if (n_rows <= 0 || k <= 0 || n_ids <= 0 || !mul_ok(n_ids, k)) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    const kiln_type_kernels *row;
    if ((rc = type_check(type, k, &row)) != KILN_OK) return rc;
    /* every id is checked before anything is written */
    for (int64_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= n_rows) return KILN_ERR_INDEX;
    rows_task t = {.to_float = row->to_float, .table = table, .row_bytes = kiln_row_size(type, k),
                   .k_elems = k, .ids = ids, .n_ids = n_ids, .y = y};
    const int nth = kiln_threads_for(n_ids * k, KILN_OPS_ROW_MIN);
    if (nth <= 1) rows_run(&t, 0, n_ids);
    else kiln_parallel(rows_worker, &t, nth);
    return KILN_OK;
}

/* ---- rmsnorm / softmax ---------------------------------------------------- */

typedef struct {
    const kiln_ops_kernels *k;
    int softmax;
    float *y;
    const float *x, *w;
    int64_t m, n;
    float eps;
} rowop_task;

static void rowop_run(const rowop_task *t, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
        if (t->softmax) t->k->softmax_row(t->y + i * t->n, t->x + i * t->n, t->n);
        else t->k->rmsnorm_row(t->y + i * t->n, t->x + i * t->n, t->w, t->n, t->eps);
    }
}

static void rowop_worker(void *arg, int ith, int nth) {
    const rowop_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->m, ith, nth, 1, &lo, &hi);
    if (lo < hi) rowop_run(t, lo, hi);
}

static int rowop_launch(rowop_task *t) {
    if (!t->y || !t->x) return KILN_ERR_NULL;
    if (t->m <= 0 || t->n <= 0 || !mul_ok(t->m, t->n)) return KILN_ERR_SIZE;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    t->k = kernels();
    const int nth = kiln_threads_for(t->m * t->n, KILN_OPS_ROW_MIN);
    if (nth <= 1) rowop_run(t, 0, t->m);
    else kiln_parallel(rowop_worker, t, nth);
    return KILN_OK;
}

int kiln_rmsnorm(float *y, const float *x, const float *w, int64_t m, int64_t n, float eps) {
    rowop_task t = {.softmax = 0, .y = y, .x = x, .w = w, .m = m, .n = n, .eps = eps};
    return rowop_launch(&t);
}

int kiln_softmax(float *y, const float *x, int64_t m, int64_t n) {
    rowop_task t = {.softmax = 1, .y = y, .x = x, .m = m, .n = n};
    return rowop_launch(&t);
}

/* ---- swiglu / add / scale ------------------------------------------------- */

int kiln_swiglu(float *y, const float *gate, const float *up, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_SWIGLU, gate, up, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_EXP_MIN);
    return rc;
}

int kiln_add(float *y, const float *a, const float *b, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_ADD, a, b, y, n);
    if (rc == KILN_OK) span_launch(&t, n, KILN_OPS_SPAN_MIN);
    return rc;
}

int kiln_scale(float *y, const float *x, float s, int64_t n) {
    span_task t;
    const int rc = span_start(&t, SPAN_SCALE, x, NULL, y, n);
    if (rc == KILN_OK) {
        t.s = s;
        span_launch(&t, n, KILN_OPS_SPAN_MIN);
    }
    return rc;
}

/* ---- rope ----------------------------------------------------------------- */

typedef struct {
    const kiln_ops_kernels *k;
    float *x;
    const int32_t *pos;
    int64_t m;
    int n_heads, head_dim, rope_dim, mode;
    float theta_scale, freq_scale;
    const float *freq_factors;
    float *heap; /* per-worker tables when rope_dim > KILN_ROPE_STACK, else NULL */
} rope_task;

/* rope_table fills one token's cos/sin table (layout in ops.h) exactly as
 * ggml_rope_cache_init: theta starts at pos and is multiplied by
 * theta_scale once per pair, in float; the angle is freq_scale*(theta/ff).
 * Shared by every ISA so the variants rotate by identical angles. */
static void rope_table(float *c, float *s, float pos, int rope_dim, int mode, float theta_scale,
                       float freq_scale, const float *ff) {
    float theta = pos;
    for (int j = 0; j < rope_dim / 2; j++) {
        const float t = freq_scale * (theta / (ff ? ff[j] : 1.0f));
        const float cj = cosf(t), sj = sinf(t);
        if (mode == KILN_ROPE_NORMAL) {
            c[2 * j] = c[2 * j + 1] = cj;
            s[2 * j] = s[2 * j + 1] = sj;
        } else {
            c[j] = cj;
            s[j] = sj;
        }
        theta *= theta_scale;
    }
}

/* rope_run rotates tokens [lo, hi): one table per token, reused by every head. */
static void rope_run(const rope_task *t, int64_t lo, int64_t hi, float *tab) {
    float *c = tab, *s = tab + t->rope_dim;
    const int64_t stride = (int64_t)t->n_heads * t->head_dim;
    for (int64_t i = lo; i < hi; i++) {
        rope_table(c, s, (float)t->pos[i], t->rope_dim, t->mode, t->theta_scale, t->freq_scale, t->freq_factors);
        float *row = t->x + i * stride;
        for (int h = 0; h < t->n_heads; h++) t->k->rope_head(row + (int64_t)h * t->head_dim, c, s, t->rope_dim, t->mode);
    }
}

static void rope_worker(void *arg, int ith, int nth) {
    const rope_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->m, ith, nth, 1, &lo, &hi);
    if (lo >= hi) return;
    float stack[2 * KILN_ROPE_STACK];
    rope_run(t, lo, hi, t->heap ? t->heap + (size_t)ith * 2 * (size_t)t->rope_dim : stack);
}

int kiln_rope(float *x, const int32_t *pos, int64_t m, int n_heads, int head_dim, int rope_dim, int mode,
              float freq_base, float freq_scale, const float *freq_factors) {
    if (!x || !pos) return KILN_ERR_NULL;
    if (m <= 0 || n_heads <= 0 || head_dim <= 0) return KILN_ERR_SIZE;
    if (rope_dim <= 0 || rope_dim % 2 || rope_dim > head_dim) return KILN_ERR_SIZE;
    if (mode != KILN_ROPE_NORMAL && mode != KILN_ROPE_NEOX) return KILN_ERR_SIZE;
    if (!(freq_base > 0.0f) || !isfinite(freq_base) || !isfinite(freq_scale)) return KILN_ERR_SIZE;
    const int64_t stride = (int64_t)n_heads * head_dim;
    if (!mul_ok(m, stride)) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    rope_task t = {.k = kernels(), .x = x, .pos = pos, .m = m, .n_heads = n_heads, .head_dim = head_dim,
                   .rope_dim = rope_dim, .mode = mode, .theta_scale = powf(freq_base, -2.0f / (float)rope_dim),
                   .freq_scale = freq_scale, .freq_factors = freq_factors, .heap = NULL};
    const int nth = kiln_threads_for(m * stride, KILN_OPS_ROW_MIN);
    if (rope_dim > KILN_ROPE_STACK) {
        t.heap = malloc((size_t)nth * 2 * (size_t)rope_dim * sizeof(float));
        if (!t.heap) return KILN_ERR_NOMEM;
    }
    if (nth <= 1) rope_worker(&t, 0, 1);
    else kiln_parallel(rope_worker, &t, nth);
    free(t.heap);
    return KILN_OK;
}
