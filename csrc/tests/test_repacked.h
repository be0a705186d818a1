/* test_repacked.h — the checks every repacked type's test runs on one shape
 * and one variant, so that each type's test states only how it makes its
 * weights and its expected result: the repacked weights give `want` bit for
 * bit at 1 and 2 threads; every row alone (the GEMV) = its row in the batch;
 * the groups after the first, alone, = those columns of the full W. */
#ifndef KILN_TEST_REPACKED_H
#define KILN_TEST_REPACKED_H

#include "test_util.h"

/* t_repacked_start seeds the test (name), initialises the library and fills
 * isas with the variants to run: scalar first, then the SIMD ones this CPU
 * has; it prints them and returns their count. */
static int t_repacked_start(const char *name, int *isas) {
    t_seed(name);
    kiln_init(0);
    int n = 0;
    isas[n++] = KILN_ISA_SCALAR;
    n += t_simd_isas(isas + n);
    printf("variants:");
    for (int v = 0; v < n; v++) printf(" %s", kiln_isa_name(isas[v]));
    printf("; avx512 vnni %s\n", (kiln_cpu_features() & KILN_CPU_AVX512VNNI) ? "yes" : "no");
    return n;
}

/* t_check_repacked runs the checks for repacked type `to` (weights r of
 * n rows of k) against want[m*n], on variant isa; `what` names the case. */
static void t_check_repacked(int isa, int to, const void *r, const float *x, const float *want, int64_t m, int64_t n,
                             int64_t k, const char *what) {
    float *got = t_alloc(sizeof(float) * (size_t)(m * n)), *row = t_alloc(sizeof(float) * (size_t)n);
    int rc = KILN_OK;
    for (int threads = 1; threads <= 2; threads++) {
        kiln_init(threads);
        kiln_set_isa(isa);
        t_poison(got, m * n);
        rc |= kiln_matmul(to, r, x, got, m, n, k);
        char msg[240];
        snprintf(msg, sizeof msg, "%s, %d thread(s): repacked = expected (status %d)", what, threads, rc);
        t_identical(msg, want, got, m * n);
    }
    int ok = 1;
    for (int64_t i = 0; i < m && ok; i++) {
        t_poison(row, n);
        rc |= kiln_matmul(to, r, x + i * k, row, 1, n, k);
        ok = memcmp(row, want + i * n, sizeof(float) * (size_t)n) == 0;
    }
    T_CHECK(ok && rc == KILN_OK, "%s: every row alone = in the batch (status %d)", what, rc);
    if (n > 16) { /* groups 1.. alone */
        const int64_t j0 = 16, n2 = n - j0;
        float *y2 = t_alloc(sizeof(float) * (size_t)(m * n2));
        t_poison(y2, m * n2);
        rc = kiln_matmul(to, (const char *)r + kiln_row_size(to, k) * j0, x, y2, m, n2, k);
        ok = rc == KILN_OK;
        for (int64_t i = 0; i < m; i++) ok &= memcmp(y2 + i * n2, want + i * n + j0, sizeof(float) * (size_t)n2) == 0;
        T_CHECK(ok, "%s: columns 16.. alone = in the full W (status %d)", what, rc);
        free(y2);
    }
    free(got); free(row);
}

#endif
