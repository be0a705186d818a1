/* test_util.h — the small harness every C test shares: a seeded RNG that is
 * fresh per run (seed printed, KILN_TEST_SEED replays it), poisoned outputs,
 * tolerance comparison with named tolerances, and a pass/fail tally. */
#ifndef KILN_TEST_UTIL_H
#define KILN_TEST_UTIL_H

#include "kiln.h"
#include "kiln_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int t_failed, t_passed;
static uint64_t t_rng_state;

/* t_seed seeds the RNG from KILN_TEST_SEED or the clock, and prints it. */
static void t_seed(const char *suite) {
    const char *s = getenv("KILN_TEST_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock() << 20;
    t_rng_state = seed ? seed : 1;
    printf("%s: seed %llu (replay with KILN_TEST_SEED)\n", suite, (unsigned long long)seed);
}

static uint64_t t_next(void) { /* splitmix64 */
    uint64_t z = (t_rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* t_uniform is uniform in [lo, hi). */
static float t_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((t_next() >> 40) * (1.0 / 16777216.0));
}
static int t_int(int lo, int hi) { return lo + (int)(t_next() % (uint64_t)(hi - lo + 1)); }
static void t_fill(float *x, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) x[i] = t_uniform(lo, hi);
}

/* t_poison fills outputs with NaN so any element a kernel forgets to write fails. */
static void t_poison(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

static void *t_alloc(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) { fprintf(stderr, "out of memory\n"); exit(2); }
    return p;
}

#define T_CHECK(cond, ...)                                                  \
    do {                                                                    \
        if (cond) t_passed++;                                               \
        else {                                                              \
            t_failed++;                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                     \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
    } while (0)

/* t_close_f32 checks |got - want| <= atol + rtol*|want| element-wise (NaN fails)
 * and reports the worst element under the tolerance's name. */
static int t_close_f32(const char *what, const char *tol_name, const float *got, const float *want,
                       int64_t n, double atol, double rtol) {
    int64_t worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = atol + rtol * fabs((double)want[i]);
        if (!(d <= lim)) {
            double excess = isnan(d) ? INFINITY : d - lim;
            if (worst < 0 || excess > worst_excess) { worst = i; worst_excess = excess; }
        }
    }
    T_CHECK(worst < 0, "%s: %s exceeded at [%lld]: got %.9g want %.9g (atol %g rtol %g)", what,
            tol_name, (long long)worst, worst < 0 ? 0.0 : got[worst], worst < 0 ? 0.0 : want[worst],
            atol, rtol);
    return worst < 0;
}

static int t_close_f64(const char *what, const char *tol_name, const float *got, const double *want,
                       int64_t n, double atol, double rtol) {
    int64_t worst = -1;
    double worst_excess = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        double lim = atol + rtol * fabs(want[i]);
        if (!(d <= lim)) {
            double excess = isnan(d) ? INFINITY : d - lim;
            if (worst < 0 || excess > worst_excess) { worst = i; worst_excess = excess; }
        }
    }
    T_CHECK(worst < 0, "%s: %s exceeded at [%lld]: got %.9g want %.9g (atol %g rtol %g)", what,
            tol_name, (long long)worst, worst < 0 ? 0.0 : got[worst], worst < 0 ? 0.0 : want[worst],
            atol, rtol);
    return worst < 0;
}

/* t_identical checks bit equality (determinism across threads / batch rows). */
static int t_identical(const char *what, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], 4) != 0) {
            T_CHECK(0, "%s: not bit-identical at [%lld]: %.9g vs %.9g", what, (long long)i, a[i], b[i]);
            return 0;
        }
    }
    T_CHECK(1, "%s", what);
    return 1;
}

/* t_isas lists the SIMD variants this CPU can run (scalar excluded); a variant
 * the CPU lacks is reported as skipped so the log says what was not covered. */
static int t_simd_isas(int *out) {
    int n = 0;
    for (int isa = KILN_ISA_SCALAR + 1; isa < KILN_ISA_COUNT; isa++) {
        if (kiln_isa_supported(isa)) out[n++] = isa;
        else printf("SKIP variant %s: not supported by this CPU\n", kiln_isa_name(isa));
    }
    return n;
}

/* t_done prints the closing tally line and returns the exit code. */
static int t_done(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    return t_failed ? 1 : 0;
}


/* ---- shared by the op and conversion suites ------------------------------- */

/* SIZES are row lengths that exercise every SIMD tail (odd, one under and
 * over a vector, a real hidden size). */
static const int64_t SIZES[] = {1, 3, 7, 17, 31, 33, 100, 576};
#define N_SIZES ((int)(sizeof(SIZES) / sizeof(SIZES[0])))

static void use_isa(int isa) {
    int rc = kiln_set_isa(isa);
    if (rc != KILN_OK) T_CHECK(0, "kiln_set_isa(%s) = %d", kiln_isa_name(isa), rc);
}

/* make_table fills `rows` rows of k elements of type with random data and
 * writes the exact float values to exact[rows*k]. */
static void *make_table(int type, int64_t rows, int64_t k, double *exact) {
    const size_t rb = kiln_row_size(type, k);
    char *t = t_alloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        char *row = t + rb * (size_t)r;
        for (int64_t i = 0; i < k; i++) {
            const float f = t_uniform(-4, 4);
            if (type == KILN_TYPE_F32) ((float *)row)[i] = f, exact[r * k + i] = f;
            if (type == KILN_TYPE_F16) {
                ((uint16_t *)row)[i] = kiln_fp32_to_fp16(f);
                exact[r * k + i] = kiln_fp16_to_fp32(((uint16_t *)row)[i]);
            }
            if (type == KILN_TYPE_BF16) ((uint16_t *)row)[i] = (uint16_t)(kiln_f32_bits(f) >> 16), exact[r * k + i] = kiln_bits_f32(kiln_f32_bits(f) & 0xffff0000u);
        }
        if (type == KILN_TYPE_Q8_0)
            for (int64_t b = 0; b < k / KILN_QK8_0; b++) {
                block_q8_0 *blk = (block_q8_0 *)row + b;
                blk->d = kiln_fp32_to_fp16(t_uniform(1e-4f, 0.1f));
                const double d = kiln_fp16_to_fp32(blk->d);
                for (int j = 0; j < KILN_QK8_0; j++) {
                    blk->qs[j] = (int8_t)t_int(-128, 127);
                    exact[r * k + b * KILN_QK8_0 + j] = d * blk->qs[j]; /* 8 × 11 bits: exact in float */
                }
            }
    }
    return t;
}

#endif
