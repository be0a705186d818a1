/* test_quant.c — the quantized weight types (quant.h) through the public
 * API: kiln_matmul / kiln_matmul_multi / kiln_dequantize / kiln_get_rows on
 * random blocks (random quant bytes, random and extreme f16 scales,
 * all-zero blocks), every variant against
 *  - the scalar reference, bit for bit (the quant.h contract),
 *  - a float64 product of the dequantized weights with the unquantized X,
 *    within the activation-rounding bound named below,
 * with poisoned outputs, odd n, block counts that wrap the eight lanes,
 * several batch sizes (each row equals the same row alone: decode ≡
 * prefill; the batches cover the GEMMs' tiles, k blocks and m blocks)
 * and 1 vs 2 threads.
 * Bit equality of the dequantizers with llama.cpp's is checked by the Go
 * tests against llama.cpp-made fixtures (native/testdata/quant). */
#include "test_util.h"

#include <stddef.h>

typedef struct {
    int type;
    const char *name;
    int block, bytes;
    int f16_at[2]; /* byte offsets of the block's f16 scales (-1: none) */
} qtype;

static const qtype g_types[] = {
    {KILN_TYPE_Q4_0, "q4_0", 32, 18, {0, -1}},
    {KILN_TYPE_Q4_1, "q4_1", 32, 20, {0, 2}},
    {KILN_TYPE_Q5_0, "q5_0", 32, 22, {0, -1}},
    {KILN_TYPE_Q5_1, "q5_1", 32, 24, {0, 2}},
    {KILN_TYPE_IQ4_NL, "iq4_nl", 32, 18, {0, -1}},
    {KILN_TYPE_Q2_K, "q2_K", 256, 84, {80, 82}},
    {KILN_TYPE_Q3_K, "q3_K", 256, 110, {108, -1}},
    {KILN_TYPE_Q4_K, "q4_K", 256, 144, {0, 2}},
    {KILN_TYPE_Q5_K, "q5_K", 256, 176, {0, 2}},
    {KILN_TYPE_Q6_K, "q6_K", 256, 210, {208, -1}},
    {KILN_TYPE_IQ4_XS, "iq4_xs", 256, 136, {0, -1}},
};

static int isas[KILN_ISA_COUNT], n_isas;

static void put_f16(uint8_t *p, float f) {
    const uint16_t h = kiln_fp32_to_fp16(f);
    memcpy(p, &h, 2);
}

/* fill_blocks writes nblk random blocks: random quant bytes, scales of
 * ordinary size with either sign, and (kind != 0) every 7th block
 * all-zero and every 5th with the largest / the smallest subnormal f16. */
static void fill_blocks(const qtype *q, uint8_t *w, int64_t nblk, int extremes) {
    for (int64_t b = 0; b < nblk; b++) {
        uint8_t *blk = w + b * q->bytes;
        for (int i = 0; i < q->bytes; i++) blk[i] = (uint8_t)t_next();
        for (int s = 0; s < 2; s++)
            if (q->f16_at[s] >= 0) put_f16(blk + q->f16_at[s], t_uniform(-0.02f, 0.02f));
        if (!extremes) continue;
        if (b % 7 == 3) memset(blk, 0, (size_t)q->bytes);
        else if (b % 5 == 1) put_f16(blk + q->f16_at[0], b % 2 ? 65504.0f : 0x1p-24f);
    }
}

/* act_step is half the X quantization step of element c's block plus the
 * f16 rounding of Q8_0's scale: |x - dequant(quant(x))| <= act_step. */
static double act_step(const float *x, int64_t c, int block) {
    const int64_t b0 = c / block * block;
    double amax = 0;
    for (int64_t e = b0; e < b0 + block; e++) amax = fmax(amax, fabs((double)x[e]));
    return 0.6 * amax / 127.0;
}

/* check_type runs one type at one shape on every variant. */
static void check_type(const qtype *q, int64_t m, int64_t n, int64_t k, int extremes) {
    const int64_t nblk = n * (k / q->block);
    uint8_t *w = t_alloc((size_t)nblk * q->bytes);
    float *x = t_alloc((size_t)(m * k) * 4), *wf = t_alloc((size_t)(n * k) * 4);
    float *y = t_alloc((size_t)(m * n) * 4), *yref = t_alloc((size_t)(m * n) * 4), *y1 = t_alloc((size_t)n * 4);
    double *y64 = t_alloc((size_t)(m * n) * 8), *bound = t_alloc((size_t)(m * n) * 8);
    fill_blocks(q, w, nblk, extremes);
    t_fill(x, m * k, -1.0f, 1.0f);
    for (int64_t c = 0; c < k; c += 61) x[c] = 0; /* some exact zeros */
    char what[160];

    kiln_set_isa(KILN_ISA_SCALAR);
    T_CHECK(kiln_dequantize(q->type, w, wf, n * k) == KILN_OK, "%s dequantize", q->name);
    double *step = t_alloc((size_t)k * 8);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t c = 0; c < k; c++) step[c] = act_step(x + i * k, c, q->block == 256 ? 256 : 32);
        for (int64_t j = 0; j < n; j++) {
            double s = 0, a = 0, e = 0;
            for (int64_t c = 0; c < k; c++) {
                const double wv = wf[j * k + c], xv = x[i * k + c];
                s += wv * xv;
                a += fabs(wv * xv);
                e += fabs(wv) * step[c];
            }
            y64[i * n + j] = s;
            bound[i * n + j] = e + 1e-5 * a;
        }
    }
    free(step);
    float *wf_isa = t_alloc((size_t)(n * k) * 4);
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        t_poison(wf_isa, n * k);
        snprintf(what, sizeof what, "%s %s dequantize n=%lld%s", q->name, kiln_isa_name(isas[v]), (long long)(n * k),
                 extremes ? " extremes" : "");
        T_CHECK(kiln_dequantize(q->type, w, wf_isa, n * k) == KILN_OK, "%s: rc", what);
        t_identical(what, wf_isa, wf, n * k); /* the reference's bits (so llama.cpp's) */
        t_poison(y, m * n);
        const int rc = kiln_matmul(q->type, w, x, y, m, n, k);
        snprintf(what, sizeof what, "%s %s m=%lld n=%lld k=%lld%s", q->name, kiln_isa_name(isas[v]), (long long)m,
                 (long long)n, (long long)k, extremes ? " extremes" : "");
        T_CHECK(rc == KILN_OK, "%s: rc %d", what, rc);
        if (isas[v] == KILN_ISA_SCALAR) memcpy(yref, y, (size_t)(m * n) * 4);
        else t_identical(what, y, yref, m * n); /* the reference's bits */
        if (!extremes) { /* extreme scales overflow f32 in the float64 comparison's terms */
            int64_t bad = -1;
            for (int64_t o = 0; o < m * n && bad < 0; o++)
                if (!(fabs((double)y[o] - y64[o]) <= bound[o])) bad = o;
            T_CHECK(bad < 0, "%s: float64 product off by more than the activation-rounding bound at [%lld]: got %.9g want %.9g bound %.3g",
                    what, (long long)bad, bad < 0 ? 0.0 : y[bad], bad < 0 ? 0.0 : y64[bad], bad < 0 ? 0.0 : bound[bad]);
        }
        /* decode ≡ prefill: every row alone gives the batch's bits */
        for (int64_t i = 0; i < m; i += (m > 3 ? m / 3 : 1)) {
            t_poison(y1, n);
            kiln_matmul(q->type, w, x + i * k, y1, 1, n, k);
            char row[200];
            snprintf(row, sizeof row, "%s: row %lld alone", what, (long long)i);
            t_identical(row, y1, y + i * n, n);
        }
    }
    free(w), free(x), free(wf), free(wf_isa), free(y), free(yref), free(y1), free(y64), free(bound);
}

/* check_saturation: the quants at their extremes (every quant byte 0xFF and
 * every fifth bit set, or all zero: Q4_0 -8 / 7, Q5 -16 / 15, IQ4_NL -127 /
 * 113, Q4_1 / Q5_1 0 / 15 / 31; the K-quants' scales and mins too, and
 * 0x80 bytes for Q6_K's scale -128) against X at +127 or -127 everywhere,
 * where the SIMD kernels' int16 sums reach their bounds (an int16 sum of
 * too many products would saturate) and the AMX GEMM's scaled weights
 * their widest: every variant against the scalar reference, GEMV and GEMM
 * rows (50: three 16-row tiles and a partial one, past every AMX GEMM's
 * threshold). */
static void check_saturation(const qtype *q) {
    const int64_t n = 19, k = 512, nblk = n * k / q->block;
    uint8_t *w = t_alloc((size_t)nblk * q->bytes);
    float *x = t_alloc((size_t)(50 * k) * 4), *y = t_alloc((size_t)(50 * n) * 4), *yref = t_alloc((size_t)(50 * n) * 4);
    const int fills[3] = {0x00, 0xFF, 0x80};
    for (int fill = 0; fill < (q->block == 256 ? 3 : 2); fill++) {
        for (int64_t b = 0; b < nblk; b++) {
            uint8_t *blk = w + b * q->bytes;
            memset(blk, fills[fill], (size_t)q->bytes);
            for (int s = 0; s < 2; s++)
                if (q->f16_at[s] >= 0) put_f16(blk + q->f16_at[s], 0.01f + 0.001f * (float)(b % 7));
        }
        for (int sign = -1; sign <= 1; sign += 2) {
            for (int64_t i = 0; i < 50 * k; i++) x[i] = (float)sign * (i / k == 5 ? -1.0f : 1.0f); /* row 5 flipped */
            const int64_t ms[4] = {1, 3, 13, 50};
            for (int mi = 0; mi < 4; mi++) {
                const int64_t m = ms[mi];
                for (int v = 0; v < n_isas; v++) {
                    kiln_set_isa(isas[v]);
                    t_poison(y, m * n);
                    T_CHECK(kiln_matmul(q->type, w, x, y, m, n, k) == KILN_OK, "%s saturation rc", q->name);
                    if (isas[v] == KILN_ISA_SCALAR) {
                        memcpy(yref, y, (size_t)(m * n) * 4);
                        continue;
                    }
                    char what[128];
                    snprintf(what, sizeof what, "%s %s saturation: quant bytes 0x%02x, X %+d, m=%lld", q->name,
                             kiln_isa_name(isas[v]), fills[fill], sign * 127, (long long)m);
                    t_identical(what, y, yref, m * n);
                }
            }
        }
    }
    free(w), free(x), free(y), free(yref);
}

/* check_threads_m: 1 vs 2 threads give the same bits, every variant, m rows. */
static void check_threads_m(const qtype *q, int64_t m) {
    const int64_t n = 67, k = q->block == 256 ? 1024 : 640; /* m·n·k past one thread's minimum */
    uint8_t *w = t_alloc((size_t)(n * k / q->block) * q->bytes);
    float *x = t_alloc((size_t)(m * k) * 4), *y1 = t_alloc((size_t)(m * n) * 4), *y2 = t_alloc((size_t)(m * n) * 4);
    fill_blocks(q, w, n * k / q->block, 0);
    t_fill(x, m * k, -2.0f, 2.0f);
    for (int v = 0; v < n_isas; v++) {
        kiln_init(1);
        kiln_set_isa(isas[v]);
        t_poison(y1, m * n);
        kiln_matmul(q->type, w, x, y1, m, n, k);
        kiln_init(2);
        kiln_set_isa(isas[v]);
        t_poison(y2, m * n);
        kiln_matmul(q->type, w, x, y2, m, n, k);
        char what[96];
        snprintf(what, sizeof what, "%s %s m=%lld: 1 vs 2 threads", q->name, kiln_isa_name(isas[v]), (long long)m);
        t_identical(what, y1, y2, m * n);
    }
    kiln_init(0);
    free(w), free(x), free(y1), free(y2);
}

/* check_threads: 1 vs 2 threads, the GEMVs (m = 1 and 3) and GEMMs (m = 9;
 * 50: three 16-row tiles and a partial one); n = 67 gives several 16-row
 * groups per thread and a partial one. */
static void check_threads(const qtype *q) {
    const int64_t ms[] = {1, 3, 9, 50};
    for (int i = 0; i < 4; i++)
        check_threads_m(q, ms[i]);
}

/* check_multi: Q8_0, Q4_0, Q4_K and Q6_K outputs over one X in one
 * kiln_matmul_multi equal four kiln_matmul calls (both X forms, the Q8_0
 * GEMM layout among them). */
static void check_multi(void) {
    const int64_t m = 7, k = 512;
    const int types[4] = {KILN_TYPE_Q8_0, KILN_TYPE_Q4_0, KILN_TYPE_Q4_K, KILN_TYPE_Q6_K};
    const int64_t ns[4] = {48, 33, 17, 40};
    void *w[4];
    float *ym[4], *ys[4];
    float *x = t_alloc((size_t)(m * k) * 4);
    t_fill(x, m * k, -1.0f, 1.0f);
    kiln_matmul_out outs[4];
    for (int o = 0; o < 4; o++) {
        const size_t bytes = kiln_row_size(types[o], k) * (size_t)ns[o];
        w[o] = t_alloc(bytes);
        for (size_t i = 0; i < bytes; i++) ((uint8_t *)w[o])[i] = (uint8_t)(t_next() & 0x3f); /* small f16 scales */
        ym[o] = t_alloc((size_t)(m * ns[o]) * 4);
        ys[o] = t_alloc((size_t)(m * ns[o]) * 4);
        outs[o] = (kiln_matmul_out){.wtype = types[o], .w = w[o], .y = ym[o], .n = ns[o]};
    }
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int o = 0; o < 4; o++) {
            t_poison(ym[o], m * ns[o]);
            t_poison(ys[o], m * ns[o]);
            kiln_matmul(types[o], w[o], x, ys[o], m, ns[o], k);
        }
        T_CHECK(kiln_matmul_multi(x, m, k, outs, 4) == KILN_OK, "multi rc");
        for (int o = 0; o < 4; o++) {
            char what[96];
            snprintf(what, sizeof what, "multi %s output %d (type %d)", kiln_isa_name(isas[v]), o, types[o]);
            t_identical(what, ym[o], ys[o], m * ns[o]);
        }
    }
    for (int o = 0; o < 4; o++) free(w[o]), free(ym[o]), free(ys[o]);
    free(x);
}

/* check_avx2_dispatch: where the AVX2 variant runs, its K-quant rows use
 * the outer-product GEMMs and Q4_K/Q5_K/Q6_K the 8-row GEMVs (the tests
 * above then cover those kernels, not a fallback). */
static void check_avx2_dispatch(void) {
    if (!kiln_isa_supported(KILN_ISA_AVX2)) return;
    kiln_set_isa(KILN_ISA_AVX2);
    const char *gemm[] = {"gemm q2_k", "gemm q3_k", "gemm q4_k", "gemm q5_k", "gemm q6_k", "gemm iq4_xs"};
    const char *gemv[] = {"gemv q4_k", "gemv q5_k", "gemv q6_k"};
    for (int e = 0; e < kiln_kernel_count(); e++) {
        const char *name = kiln_kernel_name(e), *variant = kiln_kernel_variant(e);
        for (size_t i = 0; i < sizeof gemm / sizeof gemm[0]; i++)
            if (!strcmp(name, gemm[i]))
                T_CHECK(strstr(variant, "outer product") != NULL, "avx2 %s is %s", name, variant);
        for (size_t i = 0; i < sizeof gemv / sizeof gemv[0]; i++)
            if (!strcmp(name, gemv[i])) T_CHECK(strstr(variant, "8-row") != NULL, "avx2 %s is %s", name, variant);
    }
}

/* check_amx_dispatch: where the AMX variant runs, Q4_K and Q6_K (the
 * K-quants of a Q4_K_M file) have its GEMM, so the tests above cover it. */
static void check_amx_dispatch(void) {
    if (!kiln_isa_supported(KILN_ISA_AMX)) return;
    kiln_set_isa(KILN_ISA_AMX);
    int seen = 0;
    for (int e = 0; e < kiln_kernel_count(); e++) {
        const char *name = kiln_kernel_name(e), *variant = kiln_kernel_variant(e);
        if (strcmp(name, "gemm q4_k") && strcmp(name, "gemm q6_k")) continue;
        T_CHECK(strncmp(variant, "amx", 3) == 0, "amx %s is %s", name, variant);
        seen++;
    }
    T_CHECK(seen == 2, "amx table names gemm q4_k and gemm q6_k (%d seen)", seen);
}

/* check_errors: bad row lengths are KILN_ERR_ALIGN; get_rows reads rows. */
static void check_errors(void) {
    uint8_t w[4 * 210] = {0};
    float x[512] = {0}, y[8];
    T_CHECK(kiln_matmul(KILN_TYPE_Q4_K, w, x, y, 1, 1, 128) == KILN_ERR_ALIGN, "q4_K k=128 is ALIGN");
    T_CHECK(kiln_matmul(KILN_TYPE_Q4_0, w, x, y, 1, 1, 48) == KILN_ERR_ALIGN, "q4_0 k=48 is ALIGN");
    T_CHECK(kiln_row_size(KILN_TYPE_Q6_K, 512) == 420, "q6_K row size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q5_0, 64) == 44, "q5_0 row size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q4_K, 100) == 0, "q4_K row size of a partial block");
    const qtype *q = &g_types[9]; /* q6_K */
    uint8_t table[3 * 210];
    fill_blocks(q, table, 3, 0);
    float rows[2 * 256], want[256];
    const int32_t ids[2] = {2, 0};
    T_CHECK(kiln_get_rows(q->type, table, 3, 256, ids, 2, rows) == KILN_OK, "get_rows q6_K");
    kiln_dequantize(q->type, table + 2 * 210, want, 256);
    t_identical("get_rows q6_K row 2", rows, want, 256);
    const int32_t bad[1] = {3};
    T_CHECK(kiln_get_rows(q->type, table, 3, 256, bad, 1, rows) == KILN_ERR_INDEX, "get_rows id out of range");
}

int main(void) {
    t_seed("quant");
    kiln_init(0);
    isas[n_isas++] = KILN_ISA_SCALAR;
    n_isas += t_simd_isas(isas + n_isas);
    for (size_t t = 0; t < sizeof g_types / sizeof g_types[0]; t++) {
        const qtype *q = &g_types[t];
        const int64_t ks32[] = {32, 96, 288, 544}, ks256[] = {256, 768, 2304};
        const int64_t *ks = q->block == 256 ? ks256 : ks32;
        const int nk = q->block == 256 ? 3 : 4;
        for (int i = 0; i < nk; i++) {
            check_type(q, 1, 37, ks[i], 0);
            check_type(q, 5, 19, ks[i], 0);
        }
        check_type(q, 3, 23, ks[nk - 1], 1);
        check_type(q, 2, 45, ks[nk - 1], 0); /* the GEMVs take up to three rows at once */
        /* every batch size around the GEMV/GEMM switch, n with whole 16-row
         * groups and a partial one (the GEMVs' 16-row steps and their tail) */
        for (int64_t m = 1; m <= 8; m++) check_type(q, m, 53, ks[1], 0);
        check_type(q, 2, 21, q->block == 256 ? 4352 : 4128, 0); /* long rows (Q6_K's GEMV hands k > 4096 to its dot) */
        /* the GEMMs: whole and partial row tiles, several k blocks (the legacy
         * GEMM packs 32 blocks at a time, the K-quant one 4 super-blocks),
         * more rows than one m block (180 / 192) */
        check_type(q, 13, 21, q->block == 256 ? 2304 : 1088, 0);
        check_type(q, 13, 16, q->block == 256 ? 2304 : 1088, 1);
        check_type(q, 197, 17, ks[0], 0);
        if (q->block == 32) {
            /* odd n and block counts for the AVX2 GEMV (eight W rows per
             * step, passes of three X rows up to 7), the GEMM from its
             * threshold (8 rows) on, and rows of over 210K elements (the
             * GEMV's dot fallback) */
            check_type(q, 1, 29, 576, 0);
            check_type(q, 3, 29, 448, 1);
            check_type(q, 7, 33, 576, 0);
            check_type(q, 8, 33, 576, 0);
            check_type(q, 2, 5, 229376, 0);
            /* the AMX GEMM: 32-row steps and their 16-row halves' tails (17, 31,
             * 33, 47 rows), 32-column panels with a 16-column or shorter tail,
             * past its 32-block k block and its 128-row m block */
            check_type(q, 17, 40, 1088, 0);
            check_type(q, 31, 33, 96, 1);
            check_type(q, 33, 48, 1088, 0);
            check_type(q, 47, 16, 288, 0);
            check_type(q, 150, 35, 96, 0);
        }
        check_saturation(q);
        if (q->block == 256) { /* m blocks × several k blocks (the last partial) × partial panels / row groups */
            check_type(q, 197, 37, 1280, 0);
            /* the AMX GEMM's 16-row tiles: one whole, a pair and one more
             * row, three and one more, two whole pairs (each type's GEMM
             * runs AMX from 16, 32 or 48 rows on, VNNI below) */
            check_type(q, 16, 33, 768, 0);
            check_type(q, 33, 19, 1024, 1);
            check_type(q, 49, 19, 1024, 1);
            check_type(q, 64, 17, 256, 0);
        }
        check_threads(q);
    }
    check_multi();
    check_avx2_dispatch();
    check_amx_dispatch();
    check_errors();
    return t_done();
}
