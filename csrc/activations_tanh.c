/* activations_tanh.c — the tanh-based element-wise maps of gemma-style
 * models: kiln_geglu_tanh (GELU-tanh gated FFN) and kiln_softcap (logit
 * soft-capping).
 *
 * Portable scalar code with libm's tanhf; every element is computed on its
 * own, so a result never depends on the thread count or on its neighbours.
 * Spans are split over the pool in 64-element chunks once they are large. */
#include "kiln_internal.h"

#define KILN_TANH_MIN (1 << 13) /* elements per thread before splitting: one tanhf each */
#define KILN_TANH_CHUNK 64

/* gelu_tanh is ggml's GELU: 0.5x(1 + tanh(sqrt(2/pi) x (1 + 0.044715 x²))). */
KILN_INLINE float gelu_tanh(float x) {
    const float k = 0.79788456080286535588f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * x * (1.0f + 0.044715f * x * x)));
}

typedef struct {
    float *y;
    const float *a, *b;
    float cap;
    int64_t n;
    int geglu;
} tanh_job;

static void tanh_span(const tanh_job *j, int64_t lo, int64_t hi) {
    if (j->geglu) {
        for (int64_t i = lo; i < hi; i++) j->y[i] = gelu_tanh(j->a[i]) * j->b[i];
    } else {
        for (int64_t i = lo; i < hi; i++) j->y[i] = j->cap * tanhf(j->a[i] / j->cap);
    }
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
    const int nth = kiln_threads_for(j->n, KILN_TANH_MIN);
    if (nth <= 1) tanh_span(j, 0, j->n);
    else kiln_parallel(tanh_task, j, nth);
    return KILN_OK;
}

int kiln_geglu_tanh(float *y, const float *gate, const float *up, int64_t n) {
    if (!y || !gate || !up) return KILN_ERR_NULL;
    if (n < 0) return KILN_ERR_SIZE;
    tanh_job j = {y, gate, up, 0.0f, n, 1};
    return tanh_run(&j);
}

int kiln_softcap(float *y, const float *x, float cap, int64_t n) {
    if (!y || !x) return KILN_ERR_NULL;
    if (n < 0 || !(cap > 0.0f) || isinf(cap)) return KILN_ERR_SIZE;
    tanh_job j = {y, x, NULL, cap, n, 0};
    return tanh_run(&j);
}
