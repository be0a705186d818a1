/* test_matmul_q5kr.c — repacked Q5_K weights (KILN_TYPE_Q5_K_R16): the
 * layout kiln.h documents, and on every variant (the direct AVX-512 VNNI and
 * AVX2 GEMVs, the portable unpack path) results bit-identical to the Q5_K
 * weights they came from on the scalar reference — GEMV and GEMM, 1 and 2
 * threads, every row alone and in a batch, a column range alone, extreme
 * scales, quants and fifth bits. What every format must do (dispatch,
 * errors, kiln_matmul_multi, unaligned buffers) is test_repack_formats.c's. */
#include "test_repacked.h"

#include "quant.h"
#include "repack.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* make_q5k fills n rows of k Q5_K weights: any scale/min byte, any nibble
 * and fifth bit, d and dmin of either sign. */
static block_q5_K *make_q5k(int64_t n, int64_t k) {
    const int64_t nb = n * (k / KILN_QK_K);
    block_q5_K *w = t_alloc(sizeof(block_q5_K) * (size_t)nb);
    for (int64_t i = 0; i < nb; i++) {
        w[i].d = kiln_fp32_to_fp16(t_uniform(-0.01f, 0.01f));
        w[i].dmin = kiln_fp32_to_fp16(t_uniform(-0.01f, 0.01f));
        for (int c = 0; c < KILN_K_SCALE_SIZE; c++) w[i].scales[c] = (uint8_t)t_int(0, 255);
        for (int c = 0; c < KILN_QK_K / 8; c++) w[i].qh[c] = (uint8_t)t_int(0, 255);
        for (int c = 0; c < KILN_QK_K / 2; c++) w[i].qs[c] = (uint8_t)t_int(0, 255);
    }
    return w;
}

/* repacked returns kiln_repack's copy of w (checked to succeed). */
static void *repacked(const block_q5_K *w, int64_t n, int64_t k) {
    void *r = t_alloc(kiln_row_size(KILN_TYPE_Q5_K_R16, k) * (size_t)n);
    const int rc = kiln_repack(KILN_TYPE_Q5_K, w, n, k, r);
    T_CHECK(rc == KILN_OK, "kiln_repack q5_k n=%lld k=%lld: status %d", (long long)n, (long long)k, rc);
    return r;
}

/* reference writes y[m, n] = X · Wᵀ of Q5_K weights on the scalar table. */
static void reference(const block_q5_K *w, const float *x, float *y, int64_t m, int64_t n, int64_t k) {
    kiln_init(1);
    kiln_set_isa(KILN_ISA_SCALAR);
    t_poison(y, m * n);
    const int rc = kiln_matmul(KILN_TYPE_Q5_K, w, x, y, m, n, k);
    T_CHECK(rc == KILN_OK, "scalar q5_k reference m=%lld n=%lld k=%lld: status %d", (long long)m, (long long)n,
            (long long)k, rc);
}

/* ---- the layout ------------------------------------------------------------ */
/* Every byte where kiln.h says it is, the byte size kept (n·k/256·176), and
 * the unpack (the portable path's) gives the source rows back. */
static void test_layout(void) {
    enum { N = 48, K = 768, NB = K / 256 };
    T_CHECK(kiln_row_size(KILN_TYPE_Q5_K_R16, K) == kiln_row_size(KILN_TYPE_Q5_K, K), "q5_k_r16 rows keep their size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q5_K_R16, 128) == 0, "q5_k_r16 k %% 256 != 0 has no row size");
    block_q5_K *w = make_q5k(N, K);
    const uint8_t *r = repacked(w, N, K);
    int ok = 1;
    for (int64_t row = 0; row < N; row++)
        for (int64_t b = 0; b < NB; b++) {
            const block_q5_K *src = &w[row * NB + b];
            const uint8_t *sb = r + (row / 16) * NB * 2816 + b * 2816;
            const int j = (int)(row % 16);
            ok &= memcmp(sb + 2 * j, &src->d, 2) == 0 && memcmp(sb + 32 + 2 * j, &src->dmin, 2) == 0;
            for (int e = 0; e < 12; e++) ok &= sb[64 + 64 * (e / 4) + 4 * j + e % 4] == src->scales[e];
            for (int e = 0; e < 32; e++) ok &= sb[256 + 64 * (e / 4) + 4 * j + e % 4] == src->qh[e];
            for (int e = 0; e < 128; e++) ok &= sb[768 + 512 * (e / 32) + 64 * (e % 32 / 4) + 4 * j + e % 4] == src->qs[e];
        }
    T_CHECK(ok, "q5_k_r16 bytes where kiln.h places them");
    block_q5_K *back = t_alloc(sizeof(block_q5_K) * N * NB);
    for (int g = 0; g < N / 16; g++)
        kiln_q5kr_unpack(r + (size_t)g * NB * 2816, K, (char *)(back + g * 16 * NB), NB * sizeof(block_q5_K));
    T_CHECK(memcmp(back, w, sizeof(block_q5_K) * N * NB) == 0, "q5_k_r16 unpack gives the source rows back");
    free(w); free((void *)r); free(back);
}

/* ---- results = Q5_K's ------------------------------------------------------ */
static void test_same_as_q5_k(void) {
    static const int64_t shapes[][2] = {
        /* n, k: one super-block; fewer super-blocks than float lanes (3); more (9,
         * lanes wrap); the model shapes' k; a long row with an odd count (33); n large
         * enough that the driver hands a kernel call several groups (GEMV runs of 12-16
         * groups at k = 2048, 3-4 at k = 8192): the AVX-512 kernel's two streams, even
         * and odd group counts */
        {16, 256}, {48, 768}, {32, 2304}, {64, 2048}, {16, 8192}, {32, 8448}, {1008, 2048}, {208, 8192},
    };
    static const int64_t ms[] = {1, 2, 3, 4, 5, 7, 13, 17};
    for (int s = 0; s < COUNT(shapes); s++) {
        const int64_t n = shapes[s][0], k = shapes[s][1];
        block_q5_K *w = make_q5k(n, k);
        void *r = repacked(w, n, k);
        for (int c = 0; c < COUNT(ms); c++) {
            const int64_t m = ms[c];
            if (k > 2304 && m > 5) continue; /* the GEMV's shapes; the GEMM's k is covered above */
            float *x = t_alloc(sizeof(float) * (size_t)(m * k)), *want = t_alloc(sizeof(float) * (size_t)(m * n));
            t_fill(x, m * k, -1, 1);
            reference(w, x, want, m, n, k);
            for (int v = 0; v < n_isas; v++) {
                char what[160];
                snprintf(what, sizeof what, "q5_k_r16 %s m=%lld n=%lld k=%lld", kiln_isa_name(isas[v]), (long long)m,
                         (long long)n, (long long)k);
                t_check_repacked(isas[v], KILN_TYPE_Q5_K_R16, r, x, want, m, n, k, what);
            }
            free(x); free(want);
        }
        free(w); free(r);
    }
    kiln_init(0);
}

/* Extreme scales, quants and fifth bits through the direct kernels: 6-bit
 * scales and mins all 63 (or 0), nibbles 15 (or 0) with every fifth bit set
 * (or one parity only), X at ±127 of one sign or alternating; every integer
 * sum at its largest. */
static void test_extremes(void) {
    enum { M = 3, N = 32, K = 8192, NB = N * (K / 256) };
    block_q5_K *w = t_alloc(sizeof(block_q5_K) * NB);
    void *r = t_alloc(sizeof(block_q5_K) * NB);
    float *x = t_alloc(sizeof(float) * M * K), *y = t_alloc(sizeof(float) * M * N), *want = t_alloc(sizeof(float) * M * N);
    static const struct { uint8_t scales, qh, qs; const char *name; } pats[] = {
        {0xFF, 0xFF, 0xFF, "scales/mins 63, quants 31"}, {0xFF, 0x55, 0x0F, "scales 63, low quants 31"},
        {0xFF, 0xAA, 0xF0, "scales 63, high quants 31"}, {0x00, 0xFF, 0xFF, "scales/mins 0"},
        {0xFF, 0xFF, 0x00, "scales 63, quants 16"},
    };
    for (int pt = 0; pt < COUNT(pats); pt++) {
        for (int i = 0; i < NB; i++) {
            w[i].d = kiln_fp32_to_fp16(1.0f);
            w[i].dmin = kiln_fp32_to_fp16(1.0f);
            memset(w[i].scales, pats[pt].scales, sizeof w[i].scales);
            memset(w[i].qh, pats[pt].qh, sizeof w[i].qh);
            memset(w[i].qs, pats[pt].qs, sizeof w[i].qs);
        }
        T_CHECK(kiln_repack(KILN_TYPE_Q5_K, w, N, K, r) == KILN_OK, "repack extremes");
        for (int one_sign = 0; one_sign < 2; one_sign++) {
            for (int64_t i = 0; i < M; i++)
                for (int64_t c = 0; c < K; c++) x[i * K + c] = one_sign || (i + c / 32) % 2 == 0 ? 127.0f : -127.0f;
            reference(w, x, want, M, N, K);
            for (int v = 0; v < n_isas; v++) {
                kiln_set_isa(isas[v]);
                for (int m = 1; m <= M; m++) {
                    t_poison(y, M * N);
                    const int rc = kiln_matmul(KILN_TYPE_Q5_K_R16, r, x, y, m, N, K);
                    const int ok = rc == KILN_OK && memcmp(y, want, sizeof(float) * (size_t)(m * N)) == 0;
                    T_CHECK(ok, "q5_k_r16 extremes (%s; %s, m=%d, %s): status %d, y[0] = %.9g, want %.9g", pats[pt].name,
                            kiln_isa_name(isas[v]), m, one_sign ? "one sign" : "alternating", rc, y[0], want[0]);
                }
            }
        }
    }
    kiln_init(0);
    free(w); free(r); free(x); free(y); free(want);
}

int main(void) {
    n_isas = t_repacked_start("matmul_q5kr", isas);
    test_layout();
    test_same_as_q5_k();
    test_extremes();
    return t_done();
}
