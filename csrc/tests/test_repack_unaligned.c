/* test_repack_unaligned.c — every repacked type read from a buffer that
 * does not start on a cache line (a caller's own allocation, a view into a
 * larger mapping): kiln_matmul gives the bits of the aligned copy on every
 * variant, instead of faulting on an aligned vector load. */
#include "test_util.h"

static const int sources[] = {KILN_TYPE_Q8_0, KILN_TYPE_Q4_0, KILN_TYPE_Q5_0, KILN_TYPE_Q4_K, KILN_TYPE_Q6_K,
                            KILN_TYPE_Q5_K, KILN_TYPE_IQ4_XS, KILN_TYPE_IQ4_NL,
                            KILN_TYPE_Q4_1, KILN_TYPE_Q5_1};

static void check_type(int src, const int *isas, int n_isas) {
    enum { M = 3, N = 32, K = 512, SHIFT = 4 };
    const int to = kiln_repack_type(src);
    if (to < 0) {
        printf("skip %d: no repacked layout on this variant\n", src);
        return;
    }
    float *f = t_alloc(sizeof(float) * N * K);
    t_fill(f, N * K, -1, 1);
    void *w = t_alloc(kiln_row_size(src, K) * N);
    T_CHECK(kiln_quantize(src, f, w, N, K) == KILN_OK, "quantize type %d", src);
    const size_t bytes = kiln_row_size(to, K) * N;
    uint8_t *r = t_alloc(bytes), *shifted = t_alloc(bytes + 64);
    T_CHECK(kiln_repack(src, w, N, K, r) == KILN_OK, "repack type %d", src);
    memcpy(shifted + SHIFT, r, bytes);
    float x[M * K], want[M * N], got[M * N];
    t_fill(x, M * K, -1, 1);
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int m = 1; m <= M; m++) {
            t_poison(want, M * N);
            t_poison(got, M * N);
            int rc = kiln_matmul(to, r, x, want, m, N, K);
            rc |= kiln_matmul(to, shifted + SHIFT, x, got, m, N, K);
            char what[120];
            snprintf(what, sizeof what, "type %d buffer at +%d bytes (%s, m=%d, status %d)", to, SHIFT,
                     kiln_isa_name(isas[v]), m, rc);
            t_identical(what, want, got, m * N);
        }
    }
    kiln_init(0);
    free(f); free(w); free(r); free(shifted);
}

int main(void) {
    t_seed("repack_unaligned");
    kiln_init(0);
    int isas[KILN_ISA_COUNT + 1], n_isas = 0;
    isas[n_isas++] = KILN_ISA_SCALAR;
    n_isas += t_simd_isas(isas + n_isas);
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++) check_type(sources[i], isas, n_isas);
    return t_done();
}
