/* test_matmul_multi — kiln_matmul_multi against separate kiln_matmul calls:
 * every output bit for bit, for every variant, weight type (mixed in one
 * call too), batch size around the GEMM's edges, 1 and 2 threads; and its
 * argument errors. */
#include "test_util.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas;

/* rand_w returns n random rows of k elements of type (Q8_0 quants cover -128..127). */
static void *rand_w(int type, int64_t n, int64_t k) {
    const size_t rs = kiln_row_size(type, k);
    char *w = t_alloc(rs * (size_t)n);
    for (int64_t j = 0; j < n; j++) {
        char *row = w + rs * (size_t)j;
        for (int64_t c = 0; c < k; c++) {
            const float v = t_uniform(-1, 1);
            if (type == KILN_TYPE_F32) ((float *)row)[c] = v;
            else if (type == KILN_TYPE_F16) ((uint16_t *)row)[c] = kiln_fp32_to_fp16(v);
            else if (type == KILN_TYPE_BF16) ((uint16_t *)row)[c] = kiln_fp32_to_bf16(v);
        }
        if (type == KILN_TYPE_Q8_0) {
            block_q8_0 *b = (block_q8_0 *)row;
            for (int64_t i = 0; i < k / 32; i++) {
                b[i].d = kiln_fp32_to_fp16(t_uniform(-0.05f, 0.05f));
                for (int c = 0; c < 32; c++) b[i].qs[c] = (int8_t)t_int(-128, 127);
            }
        }
    }
    return w;
}

/* check_multi runs count outputs of the given types and widths over one X
 * through kiln_matmul_multi and through kiln_matmul, with 1 and 2 threads. */
static void check_multi(int isa, const int *types, const int64_t *ns, int count, int64_t m, int64_t k) {
    void *w[KILN_MATMUL_MAX_OUTS];
    float *want[KILN_MATMUL_MAX_OUTS], *got[KILN_MATMUL_MAX_OUTS];
    kiln_matmul_out outs[KILN_MATMUL_MAX_OUTS];
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    t_fill(x, m * k, -2, 2);
    for (int i = 0; i < count; i++) {
        w[i] = rand_w(types[i], ns[i], k);
        want[i] = t_alloc(sizeof(float) * (size_t)(m * ns[i]));
        got[i] = t_alloc(sizeof(float) * (size_t)(m * ns[i]));
        outs[i] = (kiln_matmul_out){.wtype = types[i], .w = w[i], .y = got[i], .n = ns[i]};
    }
    char what[200];
    for (int threads = 1; threads <= 2; threads++) {
        kiln_init(threads);
        kiln_set_isa(isa);
        for (int i = 0; i < count; i++) {
            t_poison(want[i], m * ns[i]);
            t_poison(got[i], m * ns[i]);
            T_CHECK(kiln_matmul(types[i], w[i], x, want[i], m, ns[i], k) == KILN_OK, "separate matmul");
        }
        const int rc = kiln_matmul_multi(x, m, k, outs, count);
        snprintf(what, sizeof what, "multi %s threads=%d m=%lld k=%lld count=%d", kiln_isa_name(isa), threads,
                 (long long)m, (long long)k, count);
        T_CHECK(rc == KILN_OK, "%s: status %d", what, rc);
        for (int i = 0; i < count; i++) {
            char msg[260];
            snprintf(msg, sizeof msg, "%s: output %d (type %d, n=%lld) vs kiln_matmul", what, i, types[i],
                     (long long)ns[i]);
            t_identical(msg, got[i], want[i], m * ns[i]);
        }
    }
    for (int i = 0; i < count; i++) { free(w[i]); free(want[i]); free(got[i]); }
    free(x);
}

static void test_bit_identity(void) {
    static const int64_t ms[] = {1, 2, 3, 4, 5, 6, 7, 12, 16, 17, 64};
    /* Q, K, V of SmolLM2 (n = 576, 192, 192), gate and up, odd widths, mixed types */
    static const struct { int count; int types[4]; int64_t ns[4]; int64_t k; } cases[] = {
        {3, {KILN_TYPE_Q8_0, KILN_TYPE_Q8_0, KILN_TYPE_Q8_0}, {576, 192, 192}, 576},
        {2, {KILN_TYPE_Q8_0, KILN_TYPE_Q8_0}, {1536, 1536}, 576},
        {4, {KILN_TYPE_Q8_0, KILN_TYPE_Q8_0, KILN_TYPE_Q8_0, KILN_TYPE_Q8_0}, {1, 17, 33, 5}, 1056},
        {3, {KILN_TYPE_F32, KILN_TYPE_F32, KILN_TYPE_F32}, {64, 16, 16}, 96},
        {2, {KILN_TYPE_F16, KILN_TYPE_F16}, {77, 77}, 160},
        {2, {KILN_TYPE_BF16, KILN_TYPE_BF16}, {40, 13}, 64},
        {4, {KILN_TYPE_Q8_0, KILN_TYPE_F16, KILN_TYPE_BF16, KILN_TYPE_F32}, {33, 17, 16, 5}, 96},
    };
    for (int v = 0; v < n_isas; v++)
        for (int c = 0; c < COUNT(cases); c++)
            for (int a = 0; a < COUNT(ms); a++) {
                /* the big shapes at a few batch sizes only: the scalar reference is slow */
                if (cases[c].k * cases[c].ns[0] > 100000 && ms[a] != 1 && ms[a] != 5 && ms[a] != 16) continue;
                check_multi(isas[v], cases[c].types, cases[c].ns, cases[c].count, ms[a], cases[c].k);
            }
    kiln_init(0);
}

static void test_errors(void) {
    float x[64] = {0}, y0[4], y1[4];
    block_q8_0 w[4] = {{0}};
    kiln_matmul_out o[KILN_MATMUL_MAX_OUTS + 1];
    for (int i = 0; i <= KILN_MATMUL_MAX_OUTS; i++)
        o[i] = (kiln_matmul_out){.wtype = KILN_TYPE_Q8_0, .w = w, .y = y0, .n = 1};
    T_CHECK(kiln_matmul_multi(NULL, 1, 32, o, 1) == KILN_ERR_NULL, "NULL x");
    T_CHECK(kiln_matmul_multi(x, 1, 32, NULL, 1) == KILN_ERR_NULL, "NULL outs");
    T_CHECK(kiln_matmul_multi(x, 1, 32, o, 0) == KILN_ERR_SIZE, "count = 0");
    T_CHECK(kiln_matmul_multi(x, 1, 32, o, KILN_MATMUL_MAX_OUTS + 1) == KILN_ERR_SIZE, "count > max");
    T_CHECK(kiln_matmul_multi(x, 0, 32, o, 1) == KILN_ERR_SIZE, "m = 0");
    T_CHECK(kiln_matmul_multi(x, 1, 33, o, 1) == KILN_ERR_ALIGN, "Q8_0 k %% 32");
    /* a bad second output: nothing is written, not even the first output */
    for (int i = 0; i < 4; i++) y0[i] = y1[i] = NAN;
    o[1].y = y1;
    o[1].wtype = 9; /* Q8_1: not a weight type */
    T_CHECK(kiln_matmul_multi(x, 1, 32, o, 2) == KILN_ERR_TYPE, "bad type of output 1");
    T_CHECK(isnan(y0[0]) && isnan(y1[0]), "a failed call writes nothing");
    o[1].wtype = KILN_TYPE_Q8_0;
    o[1].y = NULL;
    T_CHECK(kiln_matmul_multi(x, 1, 32, o, 2) == KILN_ERR_NULL, "NULL y of output 1");
    o[1].y = y1;
    o[1].n = 0;
    T_CHECK(kiln_matmul_multi(x, 1, 32, o, 2) == KILN_ERR_SIZE, "n = 0 of output 1");
    T_CHECK(isnan(y0[0]), "a failed call writes nothing");
}

int main(void) {
    t_seed("matmul_multi");
    kiln_init(0);
    isas[n_isas++] = KILN_ISA_SCALAR;
    n_isas += t_simd_isas(isas + n_isas);
    test_errors();
    test_bit_identity();
    return t_done();
}
