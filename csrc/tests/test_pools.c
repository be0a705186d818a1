/* test_pools.c — private thread pools: argument checks, concurrency between
 * pools bound on different threads, and bit-identical results on any pool. */
#include "test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

/* A rendezvous: each of two runs announces itself, then waits for the other.
 * Two runs on one pool take turns, so the first would wait in vain; the wait
 * is bounded so a regression fails instead of hanging. */
typedef struct {
    atomic_int arrived[2];
    int met[2];
    int patience_s; /* how long a side waits for the other */
} rendezvous;

typedef struct {
    rendezvous *r;
    int me;
    kiln_pool *pool;
    int bind_rc;
} side;


static void meet_task(void *arg, int ith, int nth) {
    (void)nth;
    if (ith != 0) return;
    side *s = arg;
    atomic_store(&s->r->arrived[s->me], 1);
    const time_t deadline = time(NULL) + s->r->patience_s;
    while (!atomic_load(&s->r->arrived[1 - s->me])) {
        if (time(NULL) > deadline) return;
        sched_yield();
    }
    s->r->met[s->me] = 1;
}

static void *side_main(void *arg) {
    side *s = arg;
    s->bind_rc = kiln_pool_bind(s->pool);
    kiln_parallel(meet_task, s, 2);
    kiln_pool_bind(NULL);
    return NULL;
}

static void test_pool_args(void) {
    int cpu = sched_getcpu(), bad_cpu = -1; /* a CPU this process may use */
    T_CHECK(kiln_pool_create(0, NULL, 0) == NULL, "0 threads refused");
    T_CHECK(kiln_pool_create(KILN_MAX_THREADS + 1, NULL, 0) == NULL, "too many threads refused");
    T_CHECK(kiln_pool_create(1, NULL, 1) == NULL, "n_cpus without cpus refused");
    T_CHECK(kiln_pool_create(1, &bad_cpu, 1) == NULL, "negative cpu refused");
    kiln_pool *p = kiln_pool_create(3, &cpu, 1);
    T_CHECK(p != NULL, "pool of 3 pinned to cpu 0");
    T_CHECK(kiln_pool_threads(p) == 3, "pool size %d, want 3", kiln_pool_threads(p));
    T_CHECK(kiln_pool_threads(NULL) == kiln_threads(), "NULL is the global pool");
    T_CHECK(kiln_pool_bind(p) == KILN_OK, "bind");
    T_CHECK(kiln_threads_for(1 << 30, 1) == 3, "bound thread sees the private pool's size");
    T_CHECK(kiln_pool_bind(NULL) == KILN_OK, "unbind");
    T_CHECK(kiln_threads_for(1 << 30, 1) == kiln_threads(), "unbound thread sees the global pool");
    kiln_pool_destroy(p);
    kiln_pool_destroy(NULL); /* a no-op */
}

/* run_sides runs the rendezvous on two threads bound to pools a and b. */
static void run_sides(kiln_pool *a, kiln_pool *b, int patience_s, int met_out[2]) {
    rendezvous r = {.patience_s = patience_s};
    side s[2] = {{&r, 0, a, -1}, {&r, 1, b, -1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, side_main, &s[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        T_CHECK(s[i].bind_rc == KILN_OK, "side %d bind: %d", i, s[i].bind_rc);
        met_out[i] = r.met[i];
    }
}

static void test_pools_run_at_once(void) {
    kiln_pool *a = kiln_pool_create(2, NULL, 0), *b = kiln_pool_create(2, NULL, 0);
    T_CHECK(a && b, "two pools");
    if (!a || !b) return;
    kiln_parallel_peak(1);
    int met[2];
    run_sides(a, b, 20, met);
    T_CHECK(met[0] && met[1], "runs on two pools overlap (met %d %d)", met[0], met[1]);
    T_CHECK(kiln_parallel_peak(0) >= 2, "peak in flight %d, want >= 2", kiln_parallel_peak(0));
    /* Control: both sides on the same pool take turns, so they cannot meet. */
    run_sides(a, a, 1, met);
    T_CHECK(!(met[0] && met[1]), "runs on one pool are serialised");
    kiln_pool_destroy(a);
    kiln_pool_destroy(b);
}

static void test_same_result_on_any_pool(void) {
    const int64_t m = 5, n = 67, k = 256;
    float *w = t_alloc(n * k * 4), *x = t_alloc(m * k * 4);
    float *want = t_alloc(m * n * 4), *got = t_alloc(m * n * 4);
    void *wq = t_alloc(kiln_row_size(KILN_TYPE_Q8_0, k) * n);
    t_fill(w, n * k, -1, 1);
    t_fill(x, m * k, -1, 1);
    T_CHECK(kiln_quantize(KILN_TYPE_Q8_0, w, wq, n, k) == KILN_OK, "quantize");
    T_CHECK(kiln_init(1) == KILN_OK, "global pool of 1");
    t_poison(want, m * n);
    T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, wq, x, want, m, n, k) == KILN_OK, "matmul on global pool");
    for (int threads = 1; threads <= 4; threads++) {
        kiln_pool *p = kiln_pool_create(threads, NULL, 0);
        T_CHECK(p != NULL, "pool of %d", threads);
        if (!p) continue;
        kiln_pool_bind(p);
        t_poison(got, m * n);
        T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, wq, x, got, m, n, k) == KILN_OK, "matmul on pool");
        kiln_pool_bind(NULL);
        T_CHECK(memcmp(got, want, m * n * 4) == 0, "pool of %d: bit-identical to the global pool", threads);
        kiln_pool_destroy(p);
    }
    free(w); free(x); free(want); free(got); free(wq);
}

/* scratch_user runs matmuls on its own bound pool. */
typedef struct {
    kiln_pool *pool;
    const void *wq;
    const float *x;
    float *y;
    int64_t m, n, k;
    int rounds, rc;
} scratch_user;

static void *scratch_user_main(void *arg) {
    scratch_user *u = arg;
    kiln_pool_bind(u->pool);
    for (int i = 0; i < u->rounds && u->rc == KILN_OK; i++)
        u->rc = kiln_matmul(KILN_TYPE_Q8_0, u->wq, u->x, u->y, u->m, u->n, u->k);
    kiln_pool_bind(NULL);
    return NULL;
}

/* Each pool keeps its own matmul scratch: two replicas calling at once never
 * take each other's buffer, so after each pool's first call no allocation is
 * made (with one process-wide buffer, every overlap cost a malloc/free). */
static void test_scratch_per_pool(void) {
    const int64_t m = 4, n = 64, k = 512;
    float *w = t_alloc(n * k * 4), *x = t_alloc(m * k * 4);
    void *wq = t_alloc(kiln_row_size(KILN_TYPE_Q8_0, k) * n);
    t_fill(w, n * k, -1, 1);
    t_fill(x, m * k, -1, 1);
    T_CHECK(kiln_quantize(KILN_TYPE_Q8_0, w, wq, n, k) == KILN_OK, "quantize");
    kiln_pool *pools[2] = {kiln_pool_create(1, NULL, 0), kiln_pool_create(1, NULL, 0)};
    T_CHECK(pools[0] && pools[1], "two pools");
    if (!pools[0] || !pools[1]) return;
    scratch_user u[2];
    pthread_t th[2];
    const int64_t before = kiln_scratch_allocs();
    for (int i = 0; i < 2; i++) {
        u[i] = (scratch_user){.pool = pools[i], .wq = wq, .x = x, .y = t_alloc(m * n * 4), .m = m, .n = n, .k = k, .rounds = 3000};
        pthread_create(&th[i], NULL, scratch_user_main, &u[i]);
    }
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    const int64_t allocs = kiln_scratch_allocs() - before;
    for (int i = 0; i < 2; i++) T_CHECK(u[i].rc == KILN_OK, "matmuls on pool %d: %d", i, u[i].rc);
    T_CHECK(allocs == 2, "%lld scratch allocations for 2x3000 concurrent matmuls on two pools, want 2 (one per pool)", (long long)allocs);
    T_CHECK(memcmp(u[0].y, u[1].y, m * n * 4) == 0, "the same result on both pools");
    for (int i = 0; i < 2; i++) {
        kiln_pool_destroy(pools[i]); /* frees its scratch */
        free(u[i].y);
    }
    free(w); free(x); free(wq);
}

int main(void) {
    t_seed("test_pools");
    test_pool_args();
    test_pools_run_at_once();
    test_same_result_on_any_pool();
    test_scratch_per_pool();
    return t_done();
}
