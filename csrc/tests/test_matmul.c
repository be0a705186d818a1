/* test_matmul.c — kiln_matmul and kiln_quantize_q8_0: every variant against a
 * float64 reference, bit-exact determinism (threads, batch rows, column
 * ranges), llama.cpp-exact Q8_0 quantization, and every error code. */
#include "test_util.h"

#include "matmul.h"

/* Float accumulation: any order of k products and sums in f32 is within
 * (k + 16)·2⁻²⁴·Σ|x·w| of the exact value (the γ_n bound; +16 covers the
 * horizontal sum and the fma-vs-mul rounding). TOL_SUM_ULPS scales that
 * bound: 1.0 = the worst case, so a correct kernel can never fail, while a
 * dropped or doubled term (error ~ Σ|x·w|/k) fails for every k we test. */
#define TOL_SUM_ULPS 1.0
#define TOL_SUM_EXTRA_TERMS 16
/* Q8_0 vs the unquantized activations: |x − q·fp16(d)| <= d/2 + 127·d·2⁻¹¹
 * (rounding of x/d, then d stored as f16) < 0.563·d per element. */
#define TOL_Q8_XQUANT_FACTOR 0.563
/* BF16 weights on the AVX512_BF16 variant round x to bf16 first (8
 * significant bits): |x − bf16(x)| <= 2⁻⁸·|x|, so at most 2⁻⁸·Σ|x·w| more. */
#define TOL_BF16_XROUND 0x1p-8
/* Smallest absolute slack, for outputs whose Σ|x·w| underflows. */
#define TOL_ABS_FLOOR 1e-30

static const int64_t FLOAT_KS[] = {1, 3, 7, 31, 33, 100, 576};
static const int64_t Q8_KS[] = {32, 64, 96, 160, 576, 1056}; /* 1056: 33 blocks, odd, > KC */
static const int64_t NS[] = {1, 5, 17, 33, 64};
static const int64_t MS[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 64, 130};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* ---- weights --------------------------------------------------------------- */
static uint16_t rand_f16(void) { /* any finite half: subnormals up to 65504 */
    uint16_t exp = (uint16_t)t_int(0, 30), man = (uint16_t)t_int(0, 1023);
    return (uint16_t)((t_int(0, 1) << 15) | (exp << 10) | man);
}
static uint16_t rand_bf16(void) { /* subnormals up to ~1e12 */
    uint16_t exp = (uint16_t)t_int(0, 167), man = (uint16_t)t_int(0, 127);
    return (uint16_t)((t_int(0, 1) << 15) | (exp << 7) | man);
}

/* make_w fills n rows of k weights of type t and returns their exact values in wd. */
static void *make_w(int type, int64_t n, int64_t k, double *wd) {
    const size_t rs = kiln_row_size(type, k);
    char *w = t_alloc(rs * (size_t)n);
    for (int64_t j = 0; j < n; j++) {
        char *row = w + rs * (size_t)j;
        double *d = wd + j * k;
        if (type == KILN_TYPE_F32) {
            for (int64_t c = 0; c < k; c++) d[c] = ((float *)row)[c] = t_uniform(-1, 1);
        } else if (type == KILN_TYPE_F16) {
            for (int64_t c = 0; c < k; c++) d[c] = kiln_fp16_to_fp32(((uint16_t *)row)[c] = rand_f16());
        } else if (type == KILN_TYPE_BF16) {
            for (int64_t c = 0; c < k; c++) d[c] = kiln_bf16_to_fp32(((uint16_t *)row)[c] = rand_bf16());
        } else { /* Q8_0: any quant, -128 included; scales of either sign */
            block_q8_0 *b = (block_q8_0 *)row;
            for (int64_t i = 0; i < k / 32; i++) {
                b[i].d = kiln_fp32_to_fp16(t_uniform(-0.05f, 0.05f));
                for (int c = 0; c < 32; c++) {
                    b[i].qs[c] = (int8_t)t_int(-128, 127);
                    d[i * 32 + c] = (double)kiln_fp16_to_fp32(b[i].d) * b[i].qs[c];
                }
            }
        }
    }
    return w;
}

/* ref64: y[i,j] = Σ x[i,c]·w[j,c] in float64, and Σ|x·w| for the bound. */
static void ref64(const double *x, const double *w, double *y, double *sabs, int64_t m, int64_t n, int64_t k) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, a = 0;
            for (int64_t c = 0; c < k; c++) {
                double p = x[i * k + c] * w[j * k + c];
                s += p;
                a += fabs(p);
            }
            y[i * n + j] = s;
            sabs[i * n + j] = a;
        }
}

/* check_bound: |got − want| <= tol_rel·sabs + extra for every output. */
static int check_bound(const char *what, const char *tol_name, const float *got, const double *want,
                       const double *sabs, const double *extra, int64_t count, double tol_rel) {
    for (int64_t i = 0; i < count; i++) {
        double lim = tol_rel * sabs[i] + (extra ? extra[i] : 0) + TOL_ABS_FLOOR;
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= lim)) {
            T_CHECK(0, "%s: %s exceeded at [%lld]: got %.9g want %.9g (limit %g)", what, tol_name,
                    (long long)i, got[i], want[i], lim);
            return 0;
        }
    }
    t_passed++;
    return 1;
}

/* quantize_x quantizes each X row (k % 32 == 0) and returns the dequantized values. */
static void quantize_x(const float *x, double *xqd, int64_t m, int64_t k) {
    block_q8_0 *blk = t_alloc((size_t)(k / 32) * sizeof(block_q8_0));
    for (int64_t i = 0; i < m; i++) {
        kiln_quantize_q8_0(x + i * k, blk, k);
        for (int64_t c = 0; c < k; c++)
            xqd[i * k + c] = (double)kiln_fp16_to_fp32(blk[c / 32].d) * blk[c / 32].qs[c % 32];
    }
    free(blk);
}

/* ---- correctness against float64 --------------------------------------------- */
/* bf16_dot_active: the active variant runs BF16 weights by the bf16 pair-dot rule. */
static int bf16_dot_active(void) {
    for (int i = 0; i < kiln_kernel_count(); i++)
        if (!strcmp(kiln_kernel_name(i), "gemv bf16")) return !strncmp(kiln_kernel_variant(i), "avx512-bf16", 11);
    return 0;
}

static void check_shape(int type, int64_t m, int64_t n, int64_t k) {
    double *wd = t_alloc(sizeof(double) * (size_t)(n * k));
    double *xd = t_alloc(sizeof(double) * (size_t)(m * k));
    double *xqd = t_alloc(sizeof(double) * (size_t)(m * k));
    double *want = t_alloc(sizeof(double) * (size_t)(m * n)), *sabs = t_alloc(sizeof(double) * (size_t)(m * n));
    double *wantq = t_alloc(sizeof(double) * (size_t)(m * n)), *sabsq = t_alloc(sizeof(double) * (size_t)(m * n));
    double *xerr = t_alloc(sizeof(double) * (size_t)(m * n));
    float *x = t_alloc(sizeof(float) * (size_t)(m * k)), *y = t_alloc(sizeof(float) * (size_t)(m * n));
    void *w = make_w(type, n, k, wd);
    t_fill(x, m * k, -1, 1);
    if (t_int(0, 3) == 0) x[t_int(0, (int)(m * k - 1))] *= 100.0f; /* an outlier now and then */
    for (int64_t i = 0; i < m * k; i++) xd[i] = x[i];
    ref64(xd, wd, want, sabs, m, n, k);
    const double tol = TOL_SUM_ULPS * (double)(k + TOL_SUM_EXTRA_TERMS) * 0x1p-24;
    if (type == KILN_TYPE_Q8_0) {
        quantize_x(x, xqd, m, k);
        ref64(xqd, wd, wantq, sabsq, m, n, k);
        /* bound of Σ |w|·|x − xq| from the per-block scale of x */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double e = 0;
                for (int64_t b = 0; b < k / 32; b++) {
                    double amax = 0, sw = 0;
                    for (int c = 0; c < 32; c++) {
                        amax = fmax(amax, fabs(xd[i * k + b * 32 + c]));
                        sw += fabs(wd[j * k + b * 32 + c]);
                    }
                    e += TOL_Q8_XQUANT_FACTOR * (amax / 127.0) * sw;
                }
                xerr[i * n + j] = e + tol * sabsq[i * n + j];
            }
    }
    char what[160];
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        t_poison(y, m * n);
        int rc = kiln_matmul(type, w, x, y, m, n, k);
        snprintf(what, sizeof what, "matmul type %d %s m=%lld n=%lld k=%lld", type, kiln_isa_name(isas[v]),
                 (long long)m, (long long)n, (long long)k);
        if (rc != KILN_OK) { T_CHECK(0, "%s: status %d", what, rc); continue; }
        if (type == KILN_TYPE_Q8_0) {
            check_bound(what, "TOL_SUM_ULPS (vs quantized x)", y, wantq, sabsq, NULL, m * n, tol);
            check_bound(what, "TOL_Q8_XQUANT_FACTOR (vs f32 x)", y, want, sabs, xerr, m * n, 0);
        } else if (type == KILN_TYPE_BF16 && bf16_dot_active()) {
            check_bound(what, "TOL_SUM_ULPS + TOL_BF16_XROUND", y, want, sabs, NULL, m * n, tol + TOL_BF16_XROUND);
        } else {
            check_bound(what, "TOL_SUM_ULPS", y, want, sabs, NULL, m * n, tol);
        }
    }
    free(wd); free(xd); free(xqd); free(want); free(sabs); free(wantq); free(sabsq); free(xerr);
    free(x); free(y); free(w);
}

static void test_correctness(void) {
    const int types[] = {KILN_TYPE_F32, KILN_TYPE_F16, KILN_TYPE_BF16};
    for (int t = 0; t < 3; t++)
        for (int a = 0; a < COUNT(FLOAT_KS); a++)
            for (int b = 0; b < COUNT(NS); b++)
                for (int c = 0; c < COUNT(MS); c++) check_shape(types[t], MS[c], NS[b], FLOAT_KS[a]);
    for (int a = 0; a < COUNT(Q8_KS); a++)
        for (int b = 0; b < COUNT(NS); b++)
            for (int c = 0; c < COUNT(MS); c++) check_shape(KILN_TYPE_Q8_0, MS[c], NS[b], Q8_KS[a]);
}

/* ---- determinism --------------------------------------------------------------- */
/* For one type and variant: 1 vs 2 threads, each row alone vs inside a batch,
 * and a column range alone vs inside the full W. */
static void check_determinism(int type, int isa, int64_t mbig, int64_t n, int64_t k) {
    double *wd = t_alloc(sizeof(double) * (size_t)(n * k));
    void *w = make_w(type, n, k, wd);
    float *x = t_alloc(sizeof(float) * (size_t)(mbig * k));
    float *y1 = t_alloc(sizeof(float) * (size_t)(mbig * n)), *y2 = t_alloc(sizeof(float) * (size_t)(mbig * n));
    float *row = t_alloc(sizeof(float) * (size_t)n);
    t_fill(x, mbig * k, -1, 1);
    char what[160];
    snprintf(what, sizeof what, "type %d %s m=%lld n=%lld k=%lld", type, kiln_isa_name(isa), (long long)mbig,
             (long long)n, (long long)k);
    char msg[220];

    kiln_init(1);
    kiln_set_isa(isa);
    t_poison(y1, mbig * n);
    kiln_matmul(type, w, x, y1, mbig, n, k);
    kiln_init(2);
    kiln_set_isa(isa);
    t_poison(y2, mbig * n);
    kiln_matmul(type, w, x, y2, mbig, n, k);
    snprintf(msg, sizeof msg, "%s: 1 vs 2 threads", what);
    t_identical(msg, y1, y2, mbig * n);

    int ok = 1;
    for (int64_t i = 0; i < mbig && ok; i++) { /* every row alone (m = 1) */
        t_poison(row, n);
        kiln_matmul(type, w, x + i * k, row, 1, n, k);
        ok = memcmp(row, y2 + i * n, sizeof(float) * (size_t)n) == 0;
        if (!ok) snprintf(msg, sizeof msg, "%s: row %lld alone vs in batch", what, (long long)i);
    }
    if (ok) snprintf(msg, sizeof msg, "%s: rows alone vs in batch", what);
    T_CHECK(ok, "%s", msg);

    /* a sub-batch starting mid-batch (different tile rows) and a column range
     * starting at an odd W row (different tile columns, thread split) */
    const int64_t i0 = mbig / 3, m2 = mbig - i0, j0 = n / 3 | 1, n2 = n - j0;
    float *y3 = t_alloc(sizeof(float) * (size_t)(m2 * n2));
    t_poison(y3, m2 * n2);
    kiln_matmul(type, (const char *)w + kiln_row_size(type, k) * (size_t)j0, x + i0 * k, y3, m2, n2, k);
    ok = 1;
    for (int64_t i = 0; i < m2; i++)
        ok &= memcmp(y3 + i * n2, y2 + (i0 + i) * n + j0, sizeof(float) * (size_t)n2) == 0;
    T_CHECK(ok, "%s: rows %lld.. x columns %lld.. alone vs in full", what, (long long)i0, (long long)j0);
    free(wd); free(w); free(x); free(y1); free(y2); free(row); free(y3);
}

static void test_determinism(void) {
    const int types[] = {KILN_TYPE_F32, KILN_TYPE_F16, KILN_TYPE_BF16, KILN_TYPE_Q8_0};
    for (int v = 0; v < n_isas; v++)
        for (int t = 0; t < 4; t++) {
            /* k > KC so batched calls use k blocks while m = 1 does not; n spans n blocks */
            const int64_t k = types[t] == KILN_TYPE_Q8_0 ? 1056 : 579;
            check_determinism(types[t], isas[v], 16, 203, k);
            check_determinism(types[t], isas[v], 70, 61, types[t] == KILN_TYPE_Q8_0 ? 64 : 100);
        }
    kiln_init(0);
}

/* ---- Q8_0 GEMM edges ------------------------------------------------------------ */
/* The AVX2 Q8_0 GEMM (m >= KILN_MM_Q8G_MIN_M) packs 16-column W panels and
 * runs 6-row tiles over k blocks of 8 Q8_0 blocks, in m blocks of 516 rows:
 * check the shapes around those edges (tails of every size, m past one m
 * block, k of one block and far past one k block), and extreme quants. */
static void test_q8_gemm_edges(void) {
    static const int64_t shapes[][3] = {
        /* m, n, k */
        {KILN_MM_Q8G_MIN_M - 1, 16, 64}, {KILN_MM_Q8G_MIN_M, 16, 64}, {6, 16, 32}, {12, 32, 256},
        {13, 47, 288}, {250, 37, 96}, {7, 19, 8192}, {485, 18, 32}, {530, 21, 288},
    };
    for (int s = 0; s < COUNT(shapes); s++) check_shape(KILN_TYPE_Q8_0, shapes[s][0], shapes[s][1], shapes[s][2]);
    for (int v = 0; v < n_isas; v++) {
        check_determinism(KILN_TYPE_Q8_0, isas[v], 250, 37, 96);
        check_determinism(KILN_TYPE_Q8_0, isas[v], 9, 40, 8192);
    }
    kiln_init(0);

    /* every product at its extreme: W quants -128 (|w| = 128, the one value
     * whose negation does not fit int8) and X quants ±127 (x = ±127, so both
     * scales are 1), and every partial sum exact in f32: block sums are
     * -128·±127·32 = ∓520192; blocks alternating in sign sum to 0, blocks of
     * one sign to -520192·K/32. */
    enum { M = 7, N = 19, K = 8192 };
    block_q8_0 *w = t_alloc(sizeof(block_q8_0) * (size_t)N * (K / 32));
    float *x = t_alloc(sizeof(float) * M * K), *y = t_alloc(sizeof(float) * M * N);
    for (int64_t i = 0; i < (int64_t)N * (K / 32); i++) {
        w[i].d = kiln_fp32_to_fp16(1.0f);
        memset(w[i].qs, 0x80, sizeof w[i].qs);
    }
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int one_sign = 0; one_sign < 2; one_sign++) {
            for (int64_t i = 0; i < M; i++)
                for (int64_t c = 0; c < K; c++) x[i * K + c] = one_sign || (i + c / 32) % 2 == 0 ? 127.0f : -127.0f;
            const float want = one_sign ? -520192.0f * (K / 32) : 0.0f;
            t_poison(y, M * N);
            int rc = kiln_matmul(KILN_TYPE_Q8_0, w, x, y, M, N, K);
            int ok = rc == KILN_OK;
            for (int64_t i = 0; i < M * N; i++) ok &= y[i] == want;
            T_CHECK(ok, "q8_0 extreme quants (%s, %s): status %d, y[0] = %.9g, want %.9g", kiln_isa_name(isas[v]),
                    one_sign ? "one sign" : "alternating", rc, y[0], want);
        }
    }
    free(w); free(x); free(y);
}

/* ---- Q8_0: one arithmetic on every x86 variant ---------------------------------- */
/* AVX2 and AVX-512 (VNNI or not) compute Q8_0 outputs by the same rule
 * (matmul.h: one f32 accumulator per output, one fma per block), only the
 * exact int32 block dots differ in how they are summed: every output must
 * be bit-identical across them, for GEMV (m < KILN_MM_Q8G_MIN_M) and GEMM
 * alike, at odd n (16-row groups with tails) and k (odd block counts). */
static void test_q8_variants_agree(void) {
    if (!kiln_isa_supported(KILN_ISA_AVX2) || !kiln_isa_supported(KILN_ISA_AVX512)) {
        printf("SKIP q8_0 avx2 vs avx512: needs both\n");
        return;
    }
    static const int64_t shapes[][3] = {
        /* m, n, k */
        {1, 1, 32}, {1, 15, 96}, {1, 16, 64}, {1, 37, 1056}, {2, 203, 160}, {3, 33, 8192},
        {4, 17, 96}, {5, 50, 224}, {17, 37, 1056}, {130, 21, 64},
        {3, 5, 524320}, {13, 3, 524320}, /* k of 16385 blocks: nothing scales with k but the work */
    };
    for (int s = 0; s < COUNT(shapes); s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        double *wd = t_alloc(sizeof(double) * (size_t)(n * k));
        void *w = make_w(KILN_TYPE_Q8_0, n, k, wd);
        float *x = t_alloc(sizeof(float) * (size_t)(m * k));
        float *ya = t_alloc(sizeof(float) * (size_t)(m * n)), *yb = t_alloc(sizeof(float) * (size_t)(m * n));
        t_fill(x, m * k, -1, 1);
        kiln_set_isa(KILN_ISA_AVX2);
        t_poison(ya, m * n);
        int rc = kiln_matmul(KILN_TYPE_Q8_0, w, x, ya, m, n, k);
        kiln_set_isa(KILN_ISA_AVX512);
        t_poison(yb, m * n);
        rc |= kiln_matmul(KILN_TYPE_Q8_0, w, x, yb, m, n, k);
        char what[120];
        snprintf(what, sizeof what, "q8_0 avx2 vs avx512 m=%lld n=%lld k=%lld (status %d)", (long long)m,
                 (long long)n, (long long)k, rc);
        t_identical(what, ya, yb, m * n);
        free(wd); free(w); free(x); free(ya); free(yb);
    }
    kiln_init(0);
}

/* ---- Q8_0 quantization ------------------------------------------------------- */
/* llama_quantize_row_q8_0_ref is llama.cpp's quantize_row_q8_0_ref, restated. */
static void llama_quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t k) {
    for (int64_t i = 0; i < k / 32; i++) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[i * 32 + j]));
        const float d = amax / ((1 << 7) - 1);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = kiln_fp32_to_fp16(d);
        for (int j = 0; j < 32; ++j) y[i].qs[j] = (int8_t)roundf(x[i * 32 + j] * id);
    }
}

static void test_quantize(void) {
    enum { K = 32 * 40 };
    float *x = t_alloc(sizeof(float) * K);
    block_q8_0 got[K / 32], want[K / 32];
    t_fill(x, K, -3, 3);
    for (int j = 0; j < 32; j++) x[j] = 0.0f;                          /* all-zero block: d = 0 */
    for (int j = 0; j < 32; j++) x[32 + j] = (float)(j - 16) + 0.5f;   /* ties: amax 15.5 */
    x[64] = 127.0f;                                                     /* d = 1: exact ties */
    for (int j = 1; j < 32; j++) x[64 + j] = (float)(j % 2 ? j : -j) * 0.5f;
    for (int j = 0; j < 32; j++) x[96 + j] = t_uniform(-1e-6f, 1e-6f);  /* f16 subnormal d */
    for (int j = 0; j < 32; j++) x[128 + j] = t_uniform(-6e4f, 6e4f);   /* near f16 max */
    T_CHECK(kiln_quantize_q8_0(x, got, K) == KILN_OK, "quantize status");
    llama_quantize_row_q8_0_ref(x, want, K);
    T_CHECK(memcmp(got, want, sizeof got) == 0, "kiln_quantize_q8_0 bit-identical to llama.cpp ref");
    T_CHECK(got[2].qs[1] == 1 && got[2].qs[2] == -1 && got[2].qs[3] == 2, "ties round away from zero");

    /* the matmul's internal row quantizers (every ISA) give the same quants and scales */
    const int64_t kpad = (K + 63) & ~63;
    int8_t *q1 = t_alloc((size_t)kpad * 2), *q2 = q1 + kpad;
    float *d1 = t_alloc(sizeof(float) * (size_t)kpad / 16), *d2 = d1 + kpad / 32;
    kiln_mm_quantize_rows_ref(x, q1, d1, K, kpad, 0, 1);
    int ok = 1;
    for (int64_t b = 0; b < K / 32; b++)
        ok &= memcmp(q1 + b * 32, want[b].qs, 32) == 0 && d1[b] == kiln_fp16_to_fp32(want[b].d);
    T_CHECK(ok, "row quantizer (ref) matches llama.cpp");
#if KILN_X86
    if (kiln_isa_supported(KILN_ISA_AVX2)) {
        memset(q2, 0x55, (size_t)kpad);
        kiln_mm_quantize_rows_avx2(x, q2, d2, K, kpad, 0, 1);
        T_CHECK(memcmp(q1, q2, (size_t)kpad) == 0 && memcmp(d1, d2, sizeof(float) * (size_t)kpad / 32) == 0,
                "row quantizer (avx2) bit-identical to ref");
    }
#endif
    free(x); free(q1); free(d1);
}

/* ---- bad arguments --------------------------------------------------------------- */
static void test_errors(void) {
    float x[64] = {0}, y[64];
    block_q8_0 w[2] = {{0}};
    T_CHECK(kiln_matmul(KILN_TYPE_F32, NULL, x, y, 1, 1, 1) == KILN_ERR_NULL, "NULL w");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, NULL, y, 1, 1, 1) == KILN_ERR_NULL, "NULL x");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, x, NULL, 1, 1, 1) == KILN_ERR_NULL, "NULL y");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, x, y, 0, 1, 1) == KILN_ERR_SIZE, "m = 0");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, x, y, 1, -1, 1) == KILN_ERR_SIZE, "n < 0");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, x, y, 1, 1, 0) == KILN_ERR_SIZE, "k = 0");
    T_CHECK(kiln_matmul(KILN_TYPE_F32, x, x, y, INT64_MAX / 2, 1, 4) == KILN_ERR_SIZE, "m·k overflows");
    T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, w, x, y, 1, 1, 33) == KILN_ERR_ALIGN, "Q8_0 k %% 32");
    T_CHECK(kiln_matmul(9, w, x, y, 1, 1, 32) == KILN_ERR_TYPE, "Q8_1 (an activation type) is not a weight type");
    T_CHECK(kiln_matmul(-1, w, x, y, 1, 1, 32) == KILN_ERR_TYPE, "negative type");
    /* scratch for quantized X of 2^20 × 2^25 is 32 TiB: refused before any access */
    T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, w, x, y, (int64_t)1 << 20, 1, (int64_t)1 << 25) == KILN_ERR_NOMEM,
            "scratch allocation failure is KILN_ERR_NOMEM");
    T_CHECK(kiln_quantize_q8_0(NULL, w, 32) == KILN_ERR_NULL, "quantize NULL x");
    T_CHECK(kiln_quantize_q8_0(x, NULL, 32) == KILN_ERR_NULL, "quantize NULL y");
    T_CHECK(kiln_quantize_q8_0(x, w, 0) == KILN_ERR_SIZE, "quantize n = 0");
    T_CHECK(kiln_quantize_q8_0(x, w, 48) == KILN_ERR_ALIGN, "quantize n %% 32");
    for (int i = 0; i < 64; i++) y[i] = NAN;
    kiln_matmul(KILN_TYPE_F32, NULL, x, y, 1, 1, 1);
    T_CHECK(isnan(y[0]), "a failed call writes nothing");
}

int main(void) {
    t_seed("matmul");
    kiln_init(0);
    isas[n_isas++] = KILN_ISA_SCALAR;
    n_isas += t_simd_isas(isas + n_isas);
    printf("variants:");
    for (int v = 0; v < n_isas; v++) printf(" %s", kiln_isa_name(isas[v]));
    printf("; avx512 vnni %s\n", (kiln_cpu_features() & KILN_CPU_AVX512VNNI) ? "yes" : "no");
    test_errors();
    test_quantize();
    test_correctness();
    test_determinism();
    test_q8_gemm_edges();
    test_q8_variants_agree();
    return t_done();
}
