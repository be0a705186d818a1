/* test_matmul_q8r.c — repacked Q8_0 weights (KILN_TYPE_Q8_0_R16): the
 * layout kiln.h documents, and on every variant (the direct AVX-512 VNNI
 * GEMV, the portable unpack path) results bit-identical to the Q8_0 weights
 * they came from — GEMV and GEMM, 1 and 2 threads, every row alone and in
 * a batch. What every format must do (dispatch, errors, kiln_matmul_multi,
 * unaligned buffers) is test_repack_formats.c's. */
#include "test_repacked.h"

#include "matmul.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* make_q8 fills n rows of k Q8_0 weights: any quant (-128 included), scales of either sign. */
static block_q8_0 *make_q8(int64_t n, int64_t k) {
    block_q8_0 *w = t_alloc(sizeof(block_q8_0) * (size_t)(n * (k / 32)));
    for (int64_t i = 0; i < n * (k / 32); i++) {
        w[i].d = kiln_fp32_to_fp16(t_uniform(-0.05f, 0.05f));
        for (int c = 0; c < 32; c++) w[i].qs[c] = (int8_t)t_int(-128, 127);
    }
    return w;
}

/* repacked returns kiln_repack's copy of w (checked to succeed). */
static void *repacked(const block_q8_0 *w, int64_t n, int64_t k) {
    void *r = t_alloc(kiln_row_size(KILN_TYPE_Q8_0, k) * (size_t)n);
    const int rc = kiln_repack(KILN_TYPE_Q8_0, w, n, k, r);
    T_CHECK(rc == KILN_OK, "kiln_repack n=%lld k=%lld: status %d", (long long)n, (long long)k, rc);
    return r;
}

/* ---- the layout ------------------------------------------------------------ */
/* Every byte where kiln.h says it is: scale of row j, block b at group
 * g*(k/64)*1088 + (b/2)*1088 + (b%2)*32 + 2j; quant c at ... + 64 + (b%2)*512
 * + 64(c/4) + 4j + c%4, stored as w ^ 0x80; n·k/32·34 bytes in all. */
static void test_layout(void) {
    enum { N = 48, K = 192 };
    block_q8_0 *w = make_q8(N, K);
    const uint8_t *r = repacked(w, N, K);
    int ok = 1;
    for (int64_t row = 0; row < N; row++)
        for (int64_t b = 0; b < K / 32; b++) {
            const block_q8_0 *src = &w[row * (K / 32) + b];
            const uint8_t *pair = r + (row / 16) * (K / 64) * 1088 + (b / 2) * 1088;
            const int j = (int)(row % 16);
            uint16_t d;
            memcpy(&d, pair + (b % 2) * 32 + 2 * j, 2);
            ok &= d == src->d;
            for (int c = 0; c < 32; c++)
                ok &= pair[64 + (b % 2) * 512 + 64 * (c / 4) + 4 * j + c % 4] == ((uint8_t)src->qs[c] ^ 0x80);
        }
    T_CHECK(ok, "q8_0_r16 bytes where kiln.h places them");
    free(w); free((void *)r);
}

/* ---- results = Q8_0's ------------------------------------------------------ */
/* For one shape on one variant: Q8_0_R16 = Q8_0 bit for bit at 1 and 2
 * threads; every row alone (GEMV) = its row in the batch (GEMM); a column
 * range of whole groups alone = in the full W. */
static void check_same(int isa, int64_t m, int64_t n, int64_t k) {
    block_q8_0 *w = make_q8(n, k);
    void *r = repacked(w, n, k);
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    float *yq = t_alloc(sizeof(float) * (size_t)(m * n));
    t_fill(x, m * k, -1, 1);
    char what[160];
    snprintf(what, sizeof what, "q8_0_r16 %s m=%lld n=%lld k=%lld", kiln_isa_name(isa), (long long)m, (long long)n,
             (long long)k);
    kiln_init(1);
    kiln_set_isa(isa);
    t_poison(yq, m * n);
    int rc = kiln_matmul(KILN_TYPE_Q8_0, w, x, yq, m, n, k);
    T_CHECK(rc == KILN_OK, "%s: q8_0 (status %d)", what, rc);
    t_check_repacked(isa, KILN_TYPE_Q8_0_R16, r, x, yq, m, n, k, what);
    free(w); free(r); free(x); free(yq);
}

static void test_same_as_q8_0(void) {
    static const int64_t shapes[][2] = {
        /* n, k: one group; odd pair counts (k/64 = 9, 17); the model shapes' k; k past
         * the direct kernel's 1024-block X-correction chunk (32832 = 1026 blocks); enough
         * groups that a kernel call gets several, read as runs side by side (r16_streams.h),
         * in even and odd numbers */
        {16, 64}, {48, 576}, {32, 1088}, {64, 2048}, {16, 8192}, {32, 32832}, {320, 2048}, {208, 1024},
    };
    static const int64_t ms[] = {1, 2, 3, 4, 5, 7, 13, 17};
    for (int v = 0; v < n_isas; v++)
        for (int s = 0; s < COUNT(shapes); s++)
            for (int c = 0; c < COUNT(ms); c++) {
                if (shapes[s][1] > 8192 && ms[c] > 3) continue; /* the GEMV's shape; the GEMM's k is covered above */
                check_same(isas[v], ms[c], shapes[s][0], shapes[s][1]);
            }
    kiln_init(0);
}

/* Extreme products through the direct kernel: W quants -128 against X quants
 * ±127 (scales 1): every block dot is ∓520192 and every partial sum exact. */
static void test_extremes(void) {
    enum { M = 3, N = 32, K = 8192 };
    block_q8_0 *w = t_alloc(sizeof(block_q8_0) * (size_t)N * (K / 32));
    for (int64_t i = 0; i < (int64_t)N * (K / 32); i++) {
        w[i].d = kiln_fp32_to_fp16(1.0f);
        memset(w[i].qs, 0x80, sizeof w[i].qs);
    }
    void *r = repacked(w, N, K);
    float *x = t_alloc(sizeof(float) * M * K), *y = t_alloc(sizeof(float) * M * N);
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int one_sign = 0; one_sign < 2; one_sign++) {
            for (int64_t i = 0; i < M; i++)
                for (int64_t c = 0; c < K; c++) x[i * K + c] = one_sign || (i + c / 32) % 2 == 0 ? 127.0f : -127.0f;
            const float want = one_sign ? -520192.0f * (K / 32) : 0.0f;
            for (int m = 1; m <= M; m++) {
                t_poison(y, M * N);
                const int rc = kiln_matmul(KILN_TYPE_Q8_0_R16, r, x, y, m, N, K);
                int ok = rc == KILN_OK;
                for (int64_t i = 0; i < m * N; i++) ok &= y[i] == want;
                T_CHECK(ok, "q8_0_r16 extreme quants (%s, m=%d, %s): status %d, y[0] = %.9g, want %.9g",
                        kiln_isa_name(isas[v]), m, one_sign ? "one sign" : "alternating", rc, y[0], want);
            }
        }
    }
    free(w); free(r); free(x); free(y);
}

int main(void) {
    n_isas = t_repacked_start("matmul_q8r", isas);
    test_layout();
    test_same_as_q8_0();
    test_extremes();
    return t_done();
}
