/* test_core.c — lifecycle, dispatch and thread-pool contracts. */
#include "test_util.h"

#include <stdatomic.h>

typedef struct {
    atomic_int calls;
    int seen[KILN_MAX_THREADS];
    int nth_seen;
} pool_probe;

static void probe_task(void *arg, int ith, int nth) {
    pool_probe *p = arg;
    atomic_fetch_add(&p->calls, 1);
    p->seen[ith]++;
    p->nth_seen = nth;
}

static void test_pool(void) {
    for (int threads = 1; threads <= 4; threads++) {
        T_CHECK(kiln_init(threads) == KILN_OK, "kiln_init(%d)", threads);
        T_CHECK(kiln_threads() == threads, "pool size %d, want %d", kiln_threads(), threads);
        for (int nth = 1; nth <= 5; nth++) {
            for (int rep = 0; rep < 200; rep++) {
                pool_probe p = {0};
                kiln_parallel(probe_task, &p, nth);
                int want = nth < threads ? nth : threads;
                int ok = atomic_load(&p.calls) == want;
                for (int i = 0; i < want; i++) ok &= p.seen[i] == 1;
                if (!ok || rep == 199)
                    T_CHECK(ok, "pool %d threads, nth %d: %d calls, want %d", threads, nth,
                            atomic_load(&p.calls), want);
                if (!ok) break;
            }
        }
    }
    kiln_shutdown();
    T_CHECK(kiln_threads() >= 1, "re-initialises after shutdown");
}

/* claim_probe is a claim-mode task: calls take items from next until none is
 * left; done[i] counts how often item i ran, calls which ith ran. */
typedef struct {
    atomic_int next, calls, bad_ith;
    atomic_int done[64];
    atomic_int seen[KILN_MAX_THREADS];
} claim_probe;

static void claim_task(void *arg, int ith, int nth) {
    claim_probe *p = arg;
    atomic_fetch_add(&p->calls, 1);
    if (ith < 0 || ith >= nth || atomic_fetch_add(&p->seen[ith], 1) != 0) atomic_fetch_add(&p->bad_ith, 1);
    for (int i; (i = atomic_fetch_add(&p->next, 1)) < 64;) atomic_fetch_add(&p->done[i], 1);
}

/* kiln_parallel_claim: every item runs exactly once, each ith at most once
 * and below nth, whoever joins; interleaved with fixed-share tasks (which
 * still get exactly nth calls), so a worker that skips a claim task never
 * runs a later task's share with an earlier task's fields. Pools larger than
 * the machine's cores make late workers common. */
static void test_pool_claim(void) {
    for (int threads = 1; threads <= 4; threads++) {
        T_CHECK(kiln_init(threads) == KILN_OK, "kiln_init(%d)", threads);
        int ok = 1, joined_max = 0;
        for (int rep = 0; rep < 3000 && ok; rep++) {
            const int nth = 1 + rep % 5;
            claim_probe c = {0};
            kiln_parallel_claim(claim_task, &c, nth);
            for (int i = 0; i < 64; i++) ok &= atomic_load(&c.done[i]) == 1;
            const int calls = atomic_load(&c.calls), want_max = nth < threads ? nth : threads;
            ok &= calls >= 1 && calls <= want_max && atomic_load(&c.bad_ith) == 0 && atomic_load(&c.seen[0]) == 1;
            joined_max = calls > joined_max ? calls : joined_max;
            if (!ok) {
                T_CHECK(0, "claim: pool %d, nth %d, rep %d: %d calls, %d bad ith", threads, nth, rep, calls,
                        atomic_load(&c.bad_ith));
                break;
            }
            pool_probe f = {0};
            kiln_parallel(probe_task, &f, nth);
            ok &= atomic_load(&f.calls) == want_max;
            if (!ok) T_CHECK(0, "fixed after claim: pool %d, nth %d: %d calls, want %d", threads, nth,
                             atomic_load(&f.calls), want_max);
        }
        if (ok) T_CHECK(1, "claim and fixed tasks interleaved on %d threads (at most %d calls joined)", threads, joined_max);
    }
    kiln_init(0);
}

static void test_split(void) {
    for (int64_t n = 0; n < 100; n += 7)
        for (int nth = 1; nth <= 4; nth++) {
            int64_t covered = 0, prev = 0;
            int ok = 1;
            for (int ith = 0; ith < nth; ith++) {
                int64_t lo, hi;
                kiln_split(n, ith, nth, 16, &lo, &hi);
                ok &= lo == prev && hi >= lo && (lo % 16 == 0 || lo == n);
                covered += hi - lo;
                prev = hi;
            }
            T_CHECK(ok && covered == n, "split n=%lld nth=%d covers each item once", (long long)n, nth);
        }
}

static void test_dispatch(void) {
    T_CHECK(kiln_isa_supported(KILN_ISA_SCALAR), "scalar always supported");
    T_CHECK(kiln_set_isa(99) == KILN_ERR_ISA, "unknown ISA rejected");
    for (int isa = 0; isa < KILN_ISA_COUNT; isa++) {
        int rc = kiln_set_isa(isa);
        T_CHECK(rc == (kiln_isa_supported(isa) ? KILN_OK : KILN_ERR_ISA), "set_isa(%s)", kiln_isa_name(isa));
    }
    printf("cpu features 0x%x, variant %s\n", kiln_cpu_features(), kiln_isa_name(kiln_get_isa()));
    T_CHECK(kiln_row_size(KILN_TYPE_Q8_0, 64) == 68, "q8_0 row size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q8_0, 33) == 0, "q8_0 row size needs k %% 32 == 0");
    T_CHECK(kiln_row_size(KILN_TYPE_BF16, 3) == 6, "bf16 row size");
    T_CHECK(kiln_row_size(77, 3) == 0, "unknown type");
    T_CHECK(strcmp(kiln_strerror(KILN_ERR_ALIGN), "unknown kiln status") != 0, "strerror names codes");
}

/* The kernel table names every entry for every variant, and the gemv of a
 * variant names that variant (so `kiln version` says what runs). */
static void test_kernel_table(void) {
    for (int isa = 0; isa < KILN_ISA_COUNT; isa++) {
        if (!kiln_isa_supported(isa)) continue;
        kiln_set_isa(isa);
        const int n = kiln_kernel_count();
        int named = n >= 16, gemv_q8 = 0;
        for (int i = 0; i < n; i++) {
            const char *k = kiln_kernel_name(i), *v = kiln_kernel_variant(i);
            named &= k && v && *k && *v;
            /* AMX tiles take the GEMMs; its GEMVs are AVX-512's */
            const char *want = isa == KILN_ISA_AMX ? kiln_isa_name(KILN_ISA_AVX512) : kiln_isa_name(isa);
            if (k && v && !strcmp(k, "gemv q8_0")) gemv_q8 = !strncmp(v, want, strlen(want));
            if (isa == KILN_ISA_AMX && k && v && !strcmp(k, "gemm q8_0"))
                T_CHECK(!strncmp(v, "amx", 3), "amx: gemm q8_0 runs tiles (%s)", v);
        }
        T_CHECK(named, "%s: %d kernel entries, each named with a variant", kiln_isa_name(isa), n);
        T_CHECK(gemv_q8, "%s: gemv q8_0 runs a %s variant", kiln_isa_name(isa), kiln_isa_name(isa));
        T_CHECK(!kiln_kernel_name(n) && !kiln_kernel_variant(-1), "%s: out of range is NULL", kiln_isa_name(isa));
    }
    kiln_set_isa(KILN_ISA_SCALAR);
    kiln_init(0); /* back to the best variant */
}

static void test_half_scalar(void) {
    /* every finite half round-trips through float exactly */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kiln_fp16_to_fp32((uint16_t)h);
        if (isnan(f)) continue;
        if (kiln_fp32_to_fp16(f) != h) bad++;
    }
    T_CHECK(bad == 0, "f16 round trip: %d mismatches", bad);
    T_CHECK(kiln_fp16_to_fp32(0x3c00) == 1.0f, "f16 1.0");
    T_CHECK(kiln_fp16_to_fp32(0x0001) == 0x1p-24f, "f16 smallest subnormal");
    T_CHECK(kiln_fp32_to_fp16(65520.0f) == 0x7c00, "f16 overflow rounds to inf");
    T_CHECK(kiln_fp32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even");
    T_CHECK(isnan(kiln_bf16_to_fp32(kiln_fp32_to_bf16(NAN))), "bf16 keeps NaN");
}

/* The ceiling probes give a positive rate on every variant (the int8 probe
 * runs each variant's own Q8_0 instruction sequence) and refuse bad arguments. */
static void test_probes(void) {
    int isas[KILN_ISA_COUNT + 1], n = 0;
    isas[n++] = KILN_ISA_SCALAR;
    n += t_simd_isas(isas + n);
    const int def = kiln_get_isa();
    for (int v = 0; v < n; v++) {
        kiln_set_isa(isas[v]);
        double fma = 0, int8 = 0;
        T_CHECK(kiln_probe_fma_peak(1, 0.01, &fma) == KILN_OK && fma > 0, "fma peak (%s): %g", kiln_isa_name(isas[v]), fma);
        T_CHECK(kiln_probe_int8_peak(kiln_threads(), 0.01, &int8) == KILN_OK && int8 > 0, "int8 peak (%s): %g",
                kiln_isa_name(isas[v]), int8);
        printf("%s: fma peak %.1f GFLOP/s, int8 peak %.1f GOP/s (1 and %d threads)\n", kiln_isa_name(isas[v]), fma,
               int8, kiln_threads());
    }
    kiln_set_isa(def);
    double g;
    T_CHECK(kiln_probe_int8_peak(1, 0.01, NULL) == KILN_ERR_NULL, "int8 peak NULL");
    T_CHECK(kiln_probe_int8_peak(0, 0.01, &g) == KILN_ERR_SIZE, "int8 peak 0 threads");
    T_CHECK(kiln_probe_int8_peak(1, 0, &g) == KILN_ERR_SIZE, "int8 peak 0 s");
    T_CHECK(kiln_probe_int8_peak(1, NAN, &g) == KILN_ERR_SIZE, "int8 peak NaN s");
    T_CHECK(kiln_probe_int8_peak(1, 61, &g) == KILN_ERR_SIZE, "int8 peak over 60 s");
    T_CHECK(kiln_probe_fma_peak(1, 0.01, NULL) == KILN_ERR_NULL, "fma peak NULL");
}

int main(void) {
    t_seed("core");
    test_split();
    test_dispatch();
    test_kernel_table();
    test_half_scalar();
    test_pool();
    test_pool_claim();
    test_probes();
    return t_done();
}
