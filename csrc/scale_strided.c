/* scale_strided.c — kiln_scale_strided: scale the first n elements of every
 * row of a strided matrix (LongRoPE's attention factor multiplies only the
 * rotated dimensions of each head; the pass-through ones stay as they are).
 * Each row's span goes through the kernel table's scale (ops.h: one IEEE
 * multiply per element in every variant), so the result is exact and
 * independent of the thread count; rows are split over the pool once there
 * are many. */
#include "kernels.h"

#define KILN_STRIDED_MIN (1 << 15) /* elements per thread before splitting */

typedef struct {
    const kiln_ops_kernels *k;
    float *x;
    int64_t rows, stride, n;
    float s;
} strided_job;

static void strided_rows(const strided_job *j, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        float *row = j->x + r * j->stride;
        j->k->scale(row, row, j->s, j->n);
    }
}

static void strided_task(void *arg, int ith, int nth) {
    const strided_job *j = arg;
    int64_t lo, hi;
    kiln_split(j->rows, ith, nth, 1, &lo, &hi);
    if (lo < hi) strided_rows(j, lo, hi);
}

int kiln_scale_strided(float *x, int64_t rows, int64_t stride, int64_t n, float s) {
    if (!x) return KILN_ERR_NULL;
    if (rows < 0 || n < 0 || stride < n) return KILN_ERR_SIZE;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    strided_job j = {&kiln_kernels_active()->ops, x, rows, stride, n, s};
    const int nth = kiln_threads_for(rows * n, KILN_STRIDED_MIN);
    if (nth <= 1) strided_rows(&j, 0, rows);
    else kiln_parallel(strided_task, &j, nth);
    return KILN_OK;
}
