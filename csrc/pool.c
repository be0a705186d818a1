/* pool.c — the persistent thread pools behind every kernel call.
 *
 * One kiln_* call is one Go->C crossing; inside it the caller publishes a
 * task (a generation bump), runs share 0 itself and waits for the workers.
 * Workers spin briefly between ops (decode issues hundreds of small ops per
 * token, microseconds apart) and then sleep on a condition variable, so an
 * idle server burns no CPU. Runs on one pool are serialised by its run_mu, so
 * concurrent callers are safe (they take turns).
 *
 * A task is published in one of two modes. kiln_parallel's shares are fixed
 * (ith of nth), so the caller waits for every worker. kiln_parallel_claim's
 * workers claim their items from the task itself (matmul's column chunks),
 * so any subset of them can finish it: a worker joins only while the task is
 * open, the caller closes it once its own share runs out of items and waits
 * just for the workers that joined. A worker the OS has not run yet (two
 * cores shared with other processes) then costs nothing instead of holding
 * every op of a decode step until it gets a time slice.
 *
 * A worker that joined a claim task and then lost its core to another process
 * holds the caller until the OS runs it again, a time slice later (measured
 * on two busy cores: about one wait of ~15 ms per 235 decode ops, half the
 * decode time). The caller cannot take the item back, but it notices the
 * stall (it waited far longer than its own share took) and then runs the
 * following tasks alone for a while, exponentially longer while stalls keep
 * coming: a worker the OS keeps preempting is worth little and costs a lot.
 * On an idle machine no wait is that long and nothing changes. Fixed-share
 * tasks (every ith runs) are not affected.
 *
 * There is one process-wide pool (kiln_init) and any number of private pools
 * (kiln_pool_create). A thread that called kiln_pool_bind(p) runs every kernel
 * on p, so replicas that each bind their own pool run at once instead of
 * taking turns on the global one. Private pools can pin their workers. */
#include "kiln_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if KILN_X86
#include <immintrin.h>
#define kiln_cpu_relax() _mm_pause()
#else
#define kiln_cpu_relax() ((void)0)
#endif

enum { KILN_SPIN_ROUNDS = 1 << 15 };

/* Stall detection and back-off (see the top of the file). A claim task's
 * wait for its joined workers is a stall when it exceeds half the time the
 * caller's own share took plus KILN_STALL_NS: the last item of a healthy
 * worker ends within one item of the caller's, far below that. After a stall
 * the pool runs alone for KILN_ALONE_MIN_NS, doubling up to KILN_ALONE_MAX_NS
 * while stalls come less than KILN_CALM_NS apart. */
#define KILN_STALL_NS ((int64_t)200 * 1000)
#define KILN_ALONE_MIN_NS ((int64_t)4 * 1000 * 1000)
#define KILN_ALONE_MAX_NS ((int64_t)256 * 1000 * 1000)
#define KILN_CALM_NS ((int64_t)1000 * 1000 * 1000)
/* Spins after which a wait for joined workers reads the clock (~25 us of pause). */
#define KILN_STALL_CHECK_SPINS 1024

/* kiln_pool.task describes the task last published, in one word so a worker
 * can check and join it atomically: its generation in the high 32 bits,
 * then the mode and state bits, then how many workers joined it (claim mode). */
#define TASK_CLAIM ((uint64_t)1 << 31)  /* kiln_parallel_claim */
#define TASK_CLOSED ((uint64_t)1 << 30) /* claim mode: no worker may join any more */
#define TASK_JOINED ((uint64_t)TASK_CLOSED - 1)
#define TASK_GEN(s) ((unsigned)((s) >> 32))

/* start_generation is read before the thread exists, so a task published
 * before the worker first runs is not missed. */
typedef struct {
    struct kiln_pool *pool;
    int index;
    unsigned start_generation;
} kiln_worker_arg;

struct kiln_pool {
    pthread_t threads[KILN_MAX_THREADS];
    kiln_worker_arg args[KILN_MAX_THREADS];
    int size;                 /* threads including the caller; 0 = stopped */
    atomic_uint generation;   /* bumped once per published task */
    atomic_int pending;       /* workers still running the current task (fixed shares) */
    _Atomic uint64_t task;    /* generation, mode, state and joiners of the current task */
    atomic_int stopping;
    kiln_task fn;
    void *arg;
    int nth;
    int cpus[KILN_MAX_THREADS]; /* worker i (and the binder) run on cpus[i % n_cpus] */
    int n_cpus;
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    pthread_mutex_t run_mu;   /* one task at a time */
    _Atomic(size_t *) scratch; /* kiln_scratch_take's cached buffer; its size in its first 64 bytes */
    /* stall back-off, read and written by callers under run_mu */
    int64_t alone_until_ns;   /* tasks run on the caller alone until then */
    int64_t alone_ns;         /* length of the last alone period */
    int64_t last_stall_ns;
    atomic_llong stalls;      /* stalls seen (observability and tests) */
};

static kiln_pool g_pool = {
    .sleep_mu = PTHREAD_MUTEX_INITIALIZER,
    .sleep_cv = PTHREAD_COND_INITIALIZER,
    .run_mu = PTHREAD_MUTEX_INITIALIZER,
};

/* t_bound is the pool kernels on this OS thread use; NULL means g_pool. */
static _Thread_local kiln_pool *t_bound;

/* g_in_flight / g_peak count kiln_parallel runs in progress across all pools
 * (observability: proves that bound pools really run at the same time). */
static atomic_int g_in_flight;
static atomic_int g_peak;

static kiln_pool *current_pool(void) { return t_bound ? t_bound : &g_pool; }

/* ---- per-pool kernel scratch (kiln_internal.h) ---------------------------- */
static atomic_llong g_scratch_allocs;

void *kiln_scratch_take(size_t bytes) {
    size_t *p = atomic_exchange(&current_pool()->scratch, NULL);
    if (p && p[0] >= bytes) return (char *)p + 64;
    free(p);
    bytes = (bytes + 4095) & ~(size_t)4095;
    if (posix_memalign((void **)&p, 64, bytes + 64)) return NULL;
    atomic_fetch_add(&g_scratch_allocs, 1);
    p[0] = bytes;
    return (char *)p + 64;
}

void kiln_scratch_give(void *area) {
    _Atomic(size_t *) *slot = &current_pool()->scratch;
    size_t *p = (size_t *)((char *)area - 64);
    size_t *old = atomic_exchange(slot, NULL);
    if (old && old[0] > p[0]) { /* keep the larger one */
        size_t *t = old;
        old = p;
        p = t;
    }
    free(old);
    old = atomic_exchange(slot, p);
    free(old); /* another caller returned one meanwhile */
}

int64_t kiln_scratch_allocs(void) { return (int64_t)atomic_load(&g_scratch_allocs); }

/* now_ns is the monotonic clock in nanoseconds. */
static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* wait_for_generation returns once the generation moves past seen (or stop). */
static unsigned wait_for_generation(kiln_pool *p, unsigned seen) {
    for (int i = 0; i < KILN_SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&p->stopping, memory_order_relaxed)) return g;
        kiln_cpu_relax();
    }
    pthread_mutex_lock(&p->sleep_mu);
    unsigned g;
    while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
           !atomic_load_explicit(&p->stopping, memory_order_relaxed)) {
        pthread_cond_wait(&p->sleep_cv, &p->sleep_mu);
    }
    pthread_mutex_unlock(&p->sleep_mu);
    return g;
}

/* pin_self moves the calling thread onto cpu; returns 0 or an errno. */
static int pin_self(int cpu) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
#else
    (void)cpu;
    return 0;
#endif
}

/* join_claim_task runs worker index's part of the claim-mode task of
 * generation gen, whose word was s, if that task is still open. The caller
 * keeps the task's fields unchanged until every worker that joined has left. */
static void join_claim_task(kiln_pool *p, uint64_t s, unsigned gen, int index) {
    for (;;) {
        if (TASK_GEN(s) != gen || (s & TASK_CLOSED)) return; /* every item was taken */
        if (atomic_compare_exchange_weak_explicit(&p->task, &s, s + 1, memory_order_acquire, memory_order_relaxed))
            break;
    }
    if (index < p->nth) p->fn(p->arg, index, p->nth);
    atomic_fetch_sub_explicit(&p->task, 1, memory_order_release);
}

static void *worker_main(void *a) {
    kiln_worker_arg *wa = a;
    kiln_pool *p = wa->pool;
    const int index = wa->index;
    unsigned seen = wa->start_generation;
    if (p->n_cpus > 0) {
        int cpu = p->cpus[index % p->n_cpus];
        int rc = pin_self(cpu);
        if (rc) fprintf(stderr, "kiln: warning: cannot pin pool worker %d to cpu %d (error %d)\n", index, cpu, rc);
    }
    for (;;) {
        seen = wait_for_generation(p, seen);
        if (atomic_load_explicit(&p->stopping, memory_order_acquire)) return NULL;
        uint64_t s = atomic_load_explicit(&p->task, memory_order_acquire);
        if (TASK_GEN(s) != seen) continue; /* a claim task that closed and was followed by a newer one */
        if (!(s & TASK_CLAIM)) {
            /* Fixed shares: every worker acknowledges every such task, used or
             * not, so the caller (which waits for all) never publishes the next
             * one while a worker could still read this one's fields. */
            if (index < p->nth) p->fn(p->arg, index, p->nth);
            atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel);
            continue;
        }
        join_claim_task(p, s, seen, index);
    }
}

static int pool_start(kiln_pool *p, int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > KILN_MAX_THREADS) n_threads = KILN_MAX_THREADS;
    pthread_mutex_lock(&p->run_mu);
    atomic_store(&p->stopping, 0);
    p->nth = 0;
    int started = 1;
    for (int i = 1; i < n_threads; i++) {
        p->args[i].pool = p;
        p->args[i].index = i;
        p->args[i].start_generation = atomic_load(&p->generation);
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) break;
        started++;
    }
    p->size = started;
    pthread_mutex_unlock(&p->run_mu);
    return started == n_threads ? KILN_OK : KILN_ERR_THREADS;
}

static void pool_stop(kiln_pool *p) {
    pthread_mutex_lock(&p->run_mu);
    pthread_mutex_lock(&p->sleep_mu);
    atomic_store(&p->stopping, 1);
    pthread_cond_broadcast(&p->sleep_cv);
    pthread_mutex_unlock(&p->sleep_mu);
    for (int i = 1; i < p->size; i++) pthread_join(p->threads[i], NULL);
    p->size = 0;
    atomic_store(&p->stopping, 0);
    pthread_mutex_unlock(&p->run_mu);
}

int kiln_pool_start(int n_threads) {
    int rc = pool_start(&g_pool, n_threads);
    if (rc != KILN_OK) pool_stop(&g_pool);
    return rc;
}

void kiln_pool_stop(void) { pool_stop(&g_pool); }

int kiln_pool_size(void) {
    int n = current_pool()->size;
    return n < 1 ? 1 : n;
}

kiln_pool *kiln_pool_create(int n_threads, const int *cpus, int n_cpus) {
    if (n_threads < 1 || n_threads > KILN_MAX_THREADS) return NULL;
    if (n_cpus < 0 || n_cpus > KILN_MAX_THREADS || (n_cpus > 0 && !cpus)) return NULL;
    if (kiln_ensure_init() != KILN_OK) return NULL; /* ISA and kernel tables */
    kiln_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->sleep_mu, NULL);
    pthread_cond_init(&p->sleep_cv, NULL);
    pthread_mutex_init(&p->run_mu, NULL);
    for (int i = 0; i < n_cpus; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) {
            kiln_pool_destroy(p);
            return NULL;
        }
        p->cpus[i] = cpus[i];
    }
    p->n_cpus = n_cpus;
    if (pool_start(p, n_threads) != KILN_OK) {
        kiln_pool_destroy(p);
        return NULL;
    }
    return p;
}

void kiln_pool_destroy(kiln_pool *p) {
    if (!p || p == &g_pool) return;
    pool_stop(p);
    pthread_mutex_destroy(&p->sleep_mu);
    pthread_cond_destroy(&p->sleep_cv);
    pthread_mutex_destroy(&p->run_mu);
    free(atomic_exchange(&p->scratch, NULL));
    free(p);
}

int kiln_pool_bind(kiln_pool *p) {
    t_bound = p;
    if (p && p->n_cpus > 0) return pin_self(p->cpus[0]) ? KILN_ERR_THREADS : KILN_OK;
    return KILN_OK;
}

int kiln_pool_threads(const kiln_pool *p) {
    if (!p) return kiln_threads();
    return p->size < 1 ? 1 : p->size;
}

int kiln_parallel_peak(int reset) {
    int peak = atomic_load(&g_peak);
    if (reset) atomic_store(&g_peak, atomic_load(&g_in_flight));
    return peak;
}

static void enter_run(void) {
    int now = atomic_fetch_add(&g_in_flight, 1) + 1;
    int peak = atomic_load(&g_peak);
    while (now > peak && !atomic_compare_exchange_weak(&g_peak, &peak, now)) {}
}

static void leave_run(void) { atomic_fetch_sub(&g_in_flight, 1); }

/* publish makes fn/arg/nth the pool's next task in the given mode
 * (0 or TASK_CLAIM) and wakes the workers; the caller holds run_mu. */
static void publish(kiln_pool *p, kiln_task fn, void *arg, int nth, uint64_t mode) {
    p->fn = fn;
    p->arg = arg;
    p->nth = nth;
    atomic_store_explicit(&p->pending, mode ? 0 : p->size - 1, memory_order_relaxed);
    const unsigned gen = atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->task, (uint64_t)gen << 32 | mode, memory_order_release);
    pthread_mutex_lock(&p->sleep_mu);
    atomic_store_explicit(&p->generation, gen, memory_order_release);
    pthread_cond_broadcast(&p->sleep_cv);
    pthread_mutex_unlock(&p->sleep_mu);
}

/* running_alone reports whether p is in an alone period after a stall. */
static int running_alone(kiln_pool *p) {
    if (!p->alone_until_ns) return 0;
    if (now_ns() < p->alone_until_ns) return 1;
    p->alone_until_ns = 0;
    return 0;
}

/* note_stall starts an alone period: twice the last one if the previous
 * stall was recent, else the shortest. */
static void note_stall(kiln_pool *p, int64_t now) {
    int64_t len = KILN_ALONE_MIN_NS;
    if (p->last_stall_ns && now - p->last_stall_ns < KILN_CALM_NS && p->alone_ns) {
        len = 2 * p->alone_ns < KILN_ALONE_MAX_NS ? 2 * p->alone_ns : KILN_ALONE_MAX_NS;
    }
    p->alone_ns = len;
    p->alone_until_ns = now + len;
    p->last_stall_ns = now;
    atomic_fetch_add_explicit(&p->stalls, 1, memory_order_relaxed);
}

/* wait_joined waits for the workers that joined the closed claim task of p,
 * whose caller share ran from t_start; it notes a stall when the wait took
 * far longer than that share. A short wait reads no clock. */
static void wait_joined(kiln_pool *p, int64_t t_start) {
    int64_t t_wait = 0; /* when the wait turned out not to be short */
    for (unsigned spins = 1; atomic_load_explicit(&p->task, memory_order_acquire) & TASK_JOINED; spins++) {
        if (spins == KILN_STALL_CHECK_SPINS) t_wait = now_ns();
        if (spins < KILN_SPIN_ROUNDS) kiln_cpu_relax();
        else sched_yield();
    }
    if (!t_wait) return;
    const int64_t t = now_ns();
    if (t - t_wait > KILN_STALL_NS + (t_wait - t_start) / 2) note_stall(p, t);
}

/* run_parallel is kiln_parallel (claim == 0) and kiln_parallel_claim. */
static void run_parallel(kiln_task fn, void *arg, int nth, int claim) {
    kiln_pool *p = current_pool();
    pthread_mutex_lock(&p->run_mu);
    enter_run();
    if (nth > p->size) nth = p->size;
    if (nth <= 1 || (claim && running_alone(p))) { /* fixed shares keep every share */
        fn(arg, 0, 1);
        leave_run();
        pthread_mutex_unlock(&p->run_mu);
        return;
    }
    const int64_t t_start = claim ? now_ns() : 0;
    publish(p, fn, arg, nth, claim ? TASK_CLAIM : 0);
    fn(arg, 0, nth);
    if (claim) {
        /* Every item is claimed: whoever has not joined yet must not, and
         * only the workers that did are waited for. */
        atomic_fetch_or_explicit(&p->task, TASK_CLOSED, memory_order_acq_rel);
        wait_joined(p, t_start);
    } else {
        for (unsigned spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; spins++) {
            if (spins < KILN_SPIN_ROUNDS) kiln_cpu_relax();
            else sched_yield();
        }
    }
    leave_run();
    pthread_mutex_unlock(&p->run_mu);
}

void kiln_parallel(kiln_task fn, void *arg, int nth) { run_parallel(fn, arg, nth, 0); }

void kiln_parallel_claim(kiln_task fn, void *arg, int nth) { run_parallel(fn, arg, nth, 1); }

int64_t kiln_pool_stalls(const kiln_pool *p) { return (int64_t)atomic_load(&(p ? p : &g_pool)->stalls); }

void kiln_spin_until_at_least(const _Atomic int64_t *v, int64_t want) {
    for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) < want; spins++) {
        if (spins < KILN_SPIN_ROUNDS) kiln_cpu_relax();
        else sched_yield();
    }
}
