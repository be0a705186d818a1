/* repack.c — kiln_repack_type and kiln_repack over every registered 16-row
 * format (repack.h), the portable kernel path that unpacks a run of groups
 * and runs the source type's kernel, and the kernel-table rows. */
#include "repack.h"

/* g_formats lists every repacked layout; a new format adds its line here,
 * its type traits (kernels.c) and its fills (kiln_kernels_init). */
static const kiln_r16_format g_formats[] = {
    {KILN_TYPE_Q8_0, KILN_TYPE_Q8_0_R16, kiln_q8r_pack, kiln_q8r_unpack},
    {KILN_TYPE_Q4_K, KILN_TYPE_Q4_K_R16, kiln_q4kr_pack, kiln_q4kr_unpack},
    {KILN_TYPE_Q6_K, KILN_TYPE_Q6_K_R16, kiln_q6r_pack, kiln_q6r_unpack},
    {KILN_TYPE_Q4_0, KILN_TYPE_Q4_0_R16, kiln_q4r_pack, kiln_q4r_unpack},
    {KILN_TYPE_Q5_0, KILN_TYPE_Q5_0_R16, kiln_q5r_pack, kiln_q5r_unpack},
    {KILN_TYPE_Q5_K, KILN_TYPE_Q5_K_R16, kiln_q5kr_pack, kiln_q5kr_unpack},
    {KILN_TYPE_IQ4_XS, KILN_TYPE_IQ4_XS_R16, kiln_iq4xsr_pack, kiln_iq4xsr_unpack},
    {KILN_TYPE_IQ4_NL, KILN_TYPE_IQ4_NL_R16, kiln_q4r_pack, kiln_q4r_unpack}, /* Q4_0's block bytes */
    {KILN_TYPE_Q4_1, KILN_TYPE_Q4_1_R16, kiln_q41r_pack, kiln_q41r_unpack},
    {KILN_TYPE_Q5_1, KILN_TYPE_Q5_1_R16, kiln_q51r_pack, kiln_q51r_unpack},
};
enum { N_FORMATS = sizeof g_formats / sizeof g_formats[0] };

const kiln_r16_format *kiln_r16_format_of(int to) {
    for (int i = 0; i < N_FORMATS; i++)
        if (g_formats[i].to == to) return &g_formats[i];
    return NULL;
}

static const kiln_r16_format *format_from(int from) {
    for (int i = 0; i < N_FORMATS; i++)
        if (g_formats[i].from == from) return &g_formats[i];
    return NULL;
}

int kiln_repack_type(int type) {
    if (kiln_ensure_init() != KILN_OK) return -1;
    const kiln_r16_format *f = format_from(type);
    if (!f) return -1;
    const kiln_type_kernels *row = kiln_kernels_row(kiln_kernels_active(), f->to);
    return row && row->gemv != kiln_mm_r16_unpacked ? f->to : -1;
}

typedef struct {
    const kiln_r16_format *f;
    const char *w;
    uint8_t *out;
    int64_t groups, k;
    size_t row_bytes, group_bytes;
} repack_task;

static void repack_worker(void *arg, int ith, int nth) {
    const repack_task *t = arg;
    int64_t g0, g1;
    kiln_split(t->groups, ith, nth, 1, &g0, &g1);
    for (int64_t g = g0; g < g1; g++)
        t->f->pack(t->w + (size_t)g * KILN_R16_ROWS * t->row_bytes, t->row_bytes, t->k,
                   t->out + (size_t)g * t->group_bytes);
}

int kiln_repack(int type, const void *w, int64_t n, int64_t k, void *out) {
    if (!w || !out) return KILN_ERR_NULL;
    const kiln_r16_format *f = format_from(type);
    if (!f) return KILN_ERR_TYPE;
    if (n <= 0 || k <= 0 || n > ((int64_t)1 << 40) / k) return KILN_ERR_SIZE;
    if (n % KILN_R16_ROWS || !kiln_row_size(f->to, k) || !kiln_row_size(type, k)) return KILN_ERR_ALIGN;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    repack_task t = {.f = f, .w = w, .out = out, .groups = n / KILN_R16_ROWS, .k = k,
                     .row_bytes = kiln_row_size(type, k), .group_bytes = KILN_R16_ROWS * kiln_row_size(f->to, k)};
    /* memory-bound: one group (34 KB of Q8_0 at k = 2048) per share at least */
    kiln_parallel(repack_worker, &t, kiln_threads_for(t.groups, 1));
    return KILN_OK;
}

size_t kiln_mm_r16_unpack_bytes(int to, int64_t k) {
    const kiln_r16_format *f = kiln_r16_format_of(to);
    return f ? (size_t)KILN_R16_UNPACK_ROWS * kiln_row_size(f->from, k) : 0;
}

void kiln_mm_r16_unpacked(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    const kiln_r16_format *f = kiln_r16_format_of(p->wtype);
    const kiln_kernels *t = kiln_kernels_active();
    const kiln_type_kernels *src = &t->types[f->from];
    const kiln_r16_unpack_fn unpack = t->types[p->wtype].r16_unpack ? t->types[p->wtype].r16_unpack : f->unpack;
    char *rows = (char *)(scratch + KILN_MM_SCRATCH_FLOATS);
    const size_t row_bytes = kiln_row_size(f->from, p->k), group_bytes = KILN_R16_ROWS * kiln_row_size(f->to, p->k);
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_R16_UNPACK_ROWS) {
        const int64_t j1 = j0 + KILN_R16_UNPACK_ROWS < n1 ? j0 + KILN_R16_UNPACK_ROWS : n1;
        for (int64_t g = j0 / KILN_R16_ROWS; g < (j1 + KILN_R16_ROWS - 1) / KILN_R16_ROWS; g++)
            unpack((const uint8_t *)p->w + (size_t)g * group_bytes, p->k,
                      rows + (size_t)(g * KILN_R16_ROWS - j0) * row_bytes, row_bytes);
        kiln_mm q = *p;
        q.wtype = f->from;
        q.w = rows;
        q.wstride = row_bytes;
        q.y = p->y + j0; /* row stride stays p->n */
        (p->m >= src->gemm_min_m ? src->gemm : src->gemv)(&q, 0, j1 - j0, scratch);
    }
}

void kiln_mm_r16_fill(kiln_kernels *t, int to, kiln_mm_kernel direct_gemv, const char *direct_variant) {
    const kiln_r16_format *f = kiln_r16_format_of(to);
    const kiln_type_kernels *src = &t->types[f->from];
    const kiln_r16_unpack_fn unpack = t->types[to].r16_unpack; /* set by the ISA's filler, kept on a re-fill */
    t->types[to] = (kiln_type_kernels){
        .x_form = src->x_form,
        .gemv = direct_gemv ? direct_gemv : kiln_mm_r16_unpacked,
        .gemm = kiln_mm_r16_unpacked,
        .gemm_min_m = src->gemm_min_m,
        .gemm_layout = src->gemm_layout,
        .gemm_mr = src->gemm_mr,
        .r16_unpack = unpack,
        .to_float_variant = "none (rows interleaved by 16)",
        .gemv_variant = direct_gemv ? direct_variant : "unpack to source rows, then their gemv",
        .gemm_variant = "unpack to source rows, then their gemm",
    };
}
