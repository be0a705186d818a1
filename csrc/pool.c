/* pool.c — the persistent thread pool behind every kernel call.
 *
 * One kiln_* call is one Go->C crossing; inside it the caller publishes a
 * task (a generation bump), runs share 0 itself and waits for the workers.
 * Workers spin briefly between ops (decode issues hundreds of small ops per
 * token, microseconds apart) and then sleep on a condition variable, so an
 * idle server burns no CPU. Runs are serialised by run_mu, so concurrent
 * callers are safe (they take turns). */
#include "kiln_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#if KILN_X86
#include <immintrin.h>
#define kiln_cpu_relax() _mm_pause()
#else
#define kiln_cpu_relax() ((void)0)
#endif

enum { KILN_SPIN_ROUNDS = 1 << 15 };

typedef struct {
    pthread_t threads[KILN_MAX_THREADS];
    int size;                 /* threads including the caller; 0 = stopped */
    atomic_uint generation;   /* bumped once per published task */
    atomic_int pending;       /* workers still running the current task */
    atomic_int stopping;
    kiln_task fn;
    void *arg;
    int nth;
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    pthread_mutex_t run_mu;   /* one task at a time */
} kiln_pool;

static kiln_pool g_pool = {
    .sleep_mu = PTHREAD_MUTEX_INITIALIZER,
    .sleep_cv = PTHREAD_COND_INITIALIZER,
    .run_mu = PTHREAD_MUTEX_INITIALIZER,
};

/* start_generation is read before the thread exists, so a task published
 * before the worker first runs is not missed. */
typedef struct { int index; unsigned start_generation; } kiln_worker_arg;
static kiln_worker_arg g_worker_args[KILN_MAX_THREADS];

/* wait_for_generation returns once the generation moves past seen (or stop). */
static unsigned wait_for_generation(unsigned seen) {
    for (int i = 0; i < KILN_SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&g_pool.generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&g_pool.stopping, memory_order_relaxed)) return g;
        kiln_cpu_relax();
    }
    pthread_mutex_lock(&g_pool.sleep_mu);
    unsigned g;
    while ((g = atomic_load_explicit(&g_pool.generation, memory_order_acquire)) == seen &&
           !atomic_load_explicit(&g_pool.stopping, memory_order_relaxed)) {
        pthread_cond_wait(&g_pool.sleep_cv, &g_pool.sleep_mu);
    }
    pthread_mutex_unlock(&g_pool.sleep_mu);
    return g;
}

static void *worker_main(void *p) {
    const int index = ((kiln_worker_arg *)p)->index;
    unsigned seen = ((kiln_worker_arg *)p)->start_generation;
    for (;;) {
        seen = wait_for_generation(seen);
        if (atomic_load_explicit(&g_pool.stopping, memory_order_acquire)) return NULL;
        /* Every worker acknowledges every task, used or not, so no worker can
         * lag a generation behind and mistake the next task's fields for this one's. */
        if (index < g_pool.nth) g_pool.fn(g_pool.arg, index, g_pool.nth);
        atomic_fetch_sub_explicit(&g_pool.pending, 1, memory_order_acq_rel);
    }
}

int kiln_pool_start(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > KILN_MAX_THREADS) n_threads = KILN_MAX_THREADS;
    pthread_mutex_lock(&g_pool.run_mu);
    atomic_store(&g_pool.stopping, 0);
    g_pool.nth = 0;
    int started = 1;
    for (int i = 1; i < n_threads; i++) {
        g_worker_args[i].index = i;
        g_worker_args[i].start_generation = atomic_load(&g_pool.generation);
        if (pthread_create(&g_pool.threads[i], NULL, worker_main, &g_worker_args[i]) != 0) break;
        started++;
    }
    g_pool.size = started;
    pthread_mutex_unlock(&g_pool.run_mu);
    if (started != n_threads) {
        kiln_pool_stop();
        return KILN_ERR_THREADS;
    }
    return KILN_OK;
}

void kiln_pool_stop(void) {
    pthread_mutex_lock(&g_pool.run_mu);
    pthread_mutex_lock(&g_pool.sleep_mu);
    atomic_store(&g_pool.stopping, 1);
    pthread_cond_broadcast(&g_pool.sleep_cv);
    pthread_mutex_unlock(&g_pool.sleep_mu);
    for (int i = 1; i < g_pool.size; i++) pthread_join(g_pool.threads[i], NULL);
    g_pool.size = 0;
    atomic_store(&g_pool.stopping, 0);
    pthread_mutex_unlock(&g_pool.run_mu);
}

int kiln_pool_size(void) {
    int n = g_pool.size;
    return n < 1 ? 1 : n;
}

void kiln_parallel(kiln_task fn, void *arg, int nth) {
    pthread_mutex_lock(&g_pool.run_mu);
    if (nth > g_pool.size) nth = g_pool.size;
    if (nth <= 1) {
        fn(arg, 0, 1);
        pthread_mutex_unlock(&g_pool.run_mu);
        return;
    }
    g_pool.fn = fn;
    g_pool.arg = arg;
    g_pool.nth = nth;
    atomic_store_explicit(&g_pool.pending, g_pool.size - 1, memory_order_release);
    pthread_mutex_lock(&g_pool.sleep_mu);
    atomic_fetch_add_explicit(&g_pool.generation, 1, memory_order_acq_rel);
    pthread_cond_broadcast(&g_pool.sleep_cv);
    pthread_mutex_unlock(&g_pool.sleep_mu);
    fn(arg, 0, nth);
    for (unsigned spins = 0; atomic_load_explicit(&g_pool.pending, memory_order_acquire) != 0; spins++) {
        if (spins < KILN_SPIN_ROUNDS) kiln_cpu_relax();
        else sched_yield();
    }
    pthread_mutex_unlock(&g_pool.run_mu);
}

void kiln_spin_until_at_least(const _Atomic int64_t *v, int64_t want) {
    for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) < want; spins++) {
        if (spins < KILN_SPIN_ROUNDS) kiln_cpu_relax();
        else sched_yield();
    }
}
