/* activations_tanh.c — the tanh-based element-wise maps of gemma-style
 * models: kiln_geglu_tanh (GELU-tanh gated FFN) and kiln_softcap (logit
 * soft-capping).
 *
 * The entry points validate and split the span over the pool in 64-element
 * chunks; the kernels are rows of the kernel table (ops.h's geglu_tanh and
 * softcap: libm's tanhf in the scalar reference, a vector tanh in the AVX2
 * and AVX-512 variants). Every element is computed on its own, so a result
 * never depends on the thread count or on its neighbours. */
#include "kernels.h"

#define KILN_TANH_MIN (1 << 13) /* elements per thread before splitting */
#define KILN_TANH_CHUNK 64

typedef struct {
    const kiln_ops_kernels *k;
    float *y;
    const float *a, *b;
    float cap;
    int64_t n;
    int geglu;
} tanh_job;

static void tanh_span(const tanh_job *j, int64_t lo, int64_t hi) {
    if (j->geglu) j->k->geglu_tanh(j->y + lo, j->a + lo, j->b + lo, hi - lo);
    else j->k->softcap(j->y + lo, j->a + lo, j->cap, hi - lo);
}

static void tanh_task(void *arg, int ith, int nth) {
    const tanh_job *j = arg;
    int64_t lo, hi;
    kiln_split(j->n, ith, nth, KILN_TANH_CHUNK, &lo, &hi);
    if (lo < hi) tanh_span(j, lo, hi);
}

static int tanh_run(tanh_job *j) {
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    j->k = &kiln_kernels_active()->ops;
    const int nth = kiln_threads_for(j->n, KILN_TANH_MIN);
    if (nth <= 1) tanh_span(j, 0, j->n);
    else kiln_parallel(tanh_task, j, nth);
    return KILN_OK;
}

int kiln_geglu_tanh(float *y, const float *gate, const float *up, int64_t n) {
    if (!y || !gate || !up) return KILN_ERR_NULL;
    if (n < 0) return KILN_ERR_SIZE;
    tanh_job j = {NULL, y, gate, up, 0.0f, n, 1};
    return tanh_run(&j);
}

int kiln_softcap(float *y, const float *x, float cap, int64_t n) {
    if (!y || !x) return KILN_ERR_NULL;
    if (n < 0 || !(cap > 0.0f) || isinf(cap)) return KILN_ERR_SIZE;
    tanh_job j = {NULL, y, x, NULL, cap, n, 0};
    return tanh_run(&j);
}
