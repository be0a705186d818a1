/* test_ops.c — element-wise and row-wise ops: rmsnorm, softmax, swiglu,
 * add, scale, rope (conversions, dequantize and get_rows: test_convert.c).
 *
 * Each op is checked three ways: the scalar reference against a float64 (or
 * exact) computation, every SIMD variant this CPU runs against the scalar
 * reference, and determinism (1 vs 2 threads, a row in a batch vs alone).
 * Inputs are fresh per run (seed printed); outputs are poisoned with NaN. */
#include "test_util.h"
#include "ops.h"

/* ---- named tolerances ----------------------------------------------------- */
/* SIMD expf (ggml's ~1.5 ulp polynomial) vs libm expf (<1 ulp), carried
 * through 1+e, a divide and a multiply (softmax: a sum and a scale): at most
 * ~5 ulp apart, 1e-6 is ~8 ulp. The atol only matters for subnormal outputs. */
#define SIMD_EXP_RTOL 1e-6
#define SIMD_EXP_ATOL 1e-30
/* softmax outputs down to the subnormal range (x - max in [-104, 0]): each
 * subnormal result carries up to ~2 absolute roundings of 2⁻¹⁴⁹ (exp, scale)
 * per variant; 6e-45 is ~4 of them. */
#define SIMD_EXP_SUBNORMAL_ATOL 6e-45
/* rmsnorm SIMD vs scalar: only the order of the double sum of squares
 * differs (~1e-16 relative), which can flip the float rounding of the mean
 * by 1 ulp at most: ≤ 2 ulp on y; 4e-7 is ~3 ulp. */
#define RMSNORM_SIMD_RTOL 4e-7
/* scalar rmsnorm vs float64: float squares (0.5 ulp), mean→float, +eps,
 * sqrtf, 1/x, two products — ~3.5 ulp worst case; 1e-6 is ~8 ulp. */
#define RMSNORM_F64_RTOL 1e-6
/* scalar softmax vs float64 with the exact x - max: the float x - max rounds
 * by up to |x-max|·2⁻²⁴ (≤ 1.2e-6 relative in exp for inputs in [-10,10]),
 * plus expf, the sum and the scale (~2 ulp). */
#define SOFTMAX_F64_RTOL 3e-6
#define SOFTMAX_F64_ATOL 1e-30
/* scalar swiglu vs float64: expf (<1 ulp), 1+e, divide, multiply: ~3 ulp. */
#define SWIGLU_F64_RTOL 1e-6
#define SWIGLU_F64_ATOL 1e-30
/* scalar rope vs float64 using the same float thetas (llama.cpp's iterated
 * float theta is the definition): cosf/sinf (<1 ulp) and the float products
 * and difference, which can cancel — so an absolute bound for |x| ≤ 1. */
#define ROPE_F64_ATOL 1e-6
/* scalar rope vs float64 with exact thetas pos·base^(-2j/d), small positions
 * only: powf and ≤ 64 float multiplies drift theta by ≤ ~64 ulp relative,
 * ≤ 6e-5 rad at pos ≤ 16. At pos 1e5 that drift is ~0.1 rad, which is why the
 * large-position checks use the float thetas above. */
#define ROPE_EXACT_THETA_ATOL 2e-4
/* add vs float64: one float rounding of the exact sum, half an ulp. */
#define ADD_F64_RTOL 6e-8

static int g_isas[KILN_ISA_COUNT];
static int g_nisa;

/* ---- rmsnorm / softmax ---------------------------------------------------- */

static void f64_rmsnorm(double *y, const float *x, const float *w, int64_t m, int64_t n, float eps) {
    for (int64_t i = 0; i < m; i++) {
        double s = 0;
        for (int64_t j = 0; j < n; j++) s += (double)x[i * n + j] * x[i * n + j];
        const double sc = 1.0 / sqrt(s / (double)n + eps);
        for (int64_t j = 0; j < n; j++) y[i * n + j] = x[i * n + j] * sc * (w ? w[j] : 1.0);
    }
}

static void f64_softmax(double *y, const float *x, int64_t m, int64_t n) {
    for (int64_t i = 0; i < m; i++) {
        double mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < n; j++) mx = x[i * n + j] > mx ? x[i * n + j] : mx;
        for (int64_t j = 0; j < n; j++) s += exp((double)x[i * n + j] - mx);
        for (int64_t j = 0; j < n; j++) y[i * n + j] = exp((double)x[i * n + j] - mx) / s;
    }
}

/* run_rowop runs rmsnorm (w_mode 0 = NULL, 1 = weights) or softmax (w_mode 2). */
static int run_rowop(int w_mode, float *y, const float *x, const float *w, int64_t m, int64_t n, float eps) {
    if (w_mode == 2) return kiln_softmax(y, x, m, n);
    return kiln_rmsnorm(y, x, w_mode ? w : NULL, m, n, eps);
}

static void test_rowops(void) {
    for (int w_mode = 0; w_mode < 3; w_mode++) {
        const char *name = w_mode == 2 ? "softmax" : w_mode ? "rmsnorm(w)" : "rmsnorm";
        for (int si = 0; si < N_SIZES; si++) {
            const int64_t n = SIZES[si], m = t_int(1, 17);
            const float eps = (t_next() & 1) ? 1e-5f : 1e-6f;
            float *x = t_alloc((size_t)(m * n) * 4), *w = t_alloc((size_t)n * 4);
            float *ref = t_alloc((size_t)(m * n) * 4), *got = t_alloc((size_t)(m * n) * 4);
            double *f64 = t_alloc((size_t)(m * n) * 8);
            t_fill(x, m * n, -10, 10);
            t_fill(w, n, -2, 2);
            if (w_mode == 2 && n > 3) x[1] = -INFINITY, x[n - 1] = -80.0f; /* masked entry, exp underflow */
            use_isa(KILN_ISA_SCALAR);
            t_poison(ref, m * n);
            T_CHECK(run_rowop(w_mode, ref, x, w, m, n, eps) == KILN_OK, "%s", name);
            char what[96];
            snprintf(what, sizeof what, "scalar %s m %lld n %lld vs f64", name, (long long)m, (long long)n);
            if (w_mode == 2) {
                f64_softmax(f64, x, m, n);
                t_close_f64(what, "SOFTMAX_F64_RTOL", ref, f64, m * n, SOFTMAX_F64_ATOL, SOFTMAX_F64_RTOL);
            } else {
                f64_rmsnorm(f64, x, w_mode ? w : NULL, m, n, eps);
                t_close_f64(what, "RMSNORM_F64_RTOL", ref, f64, m * n, 0, RMSNORM_F64_RTOL);
            }
            for (int v = 0; v < g_nisa; v++) {
                use_isa(g_isas[v]);
                t_poison(got, m * n);
                run_rowop(w_mode, got, x, w, m, n, eps);
                snprintf(what, sizeof what, "%s %s m %lld n %lld", kiln_isa_name(g_isas[v]), name, (long long)m,
                         (long long)n);
                if (w_mode == 2) t_close_f32(what, "SIMD_EXP_RTOL", got, ref, m * n, SIMD_EXP_ATOL, SIMD_EXP_RTOL);
                else t_close_f32(what, "RMSNORM_SIMD_RTOL", got, ref, m * n, 0, RMSNORM_SIMD_RTOL);
            }
            /* in place (y == x) and row-alone == row-in-batch, per variant */
            for (int v = -1; v < g_nisa; v++) {
                const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
                use_isa(isa);
                run_rowop(w_mode, ref, x, w, m, n, eps);
                memcpy(got, x, (size_t)(m * n) * 4);
                run_rowop(w_mode, got, got, w, m, n, eps);
                snprintf(what, sizeof what, "%s %s in place n %lld", kiln_isa_name(isa), name, (long long)n);
                t_identical(what, got, ref, m * n);
                const int64_t r = t_int(0, (int)m - 1);
                t_poison(got, n);
                run_rowop(w_mode, got, x + r * n, w, 1, n, eps);
                snprintf(what, sizeof what, "%s %s row %lld alone == in batch", kiln_isa_name(isa), name, (long long)r);
                t_identical(what, got, ref + r * n, n);
            }
            free(x), free(w), free(ref), free(got), free(f64);
        }
    }
}

/* test_softmax_wide drives the SIMD expf through every branch: normal,
 * |n| > 126 (results near and below FLT_MIN), flush to zero, exp(-inf). */
static void test_softmax_wide(void) {
    enum { N = 4096 + 13 };
    float *x = t_alloc(N * 4), *ref = t_alloc(N * 4), *got = t_alloc(N * 4);
    t_fill(x, N, -106, 0);
    x[5] = 0.0f, x[6] = -INFINITY, x[7] = -87.3f, x[8] = -103.9f, x[9] = -150.0f;
    use_isa(KILN_ISA_SCALAR);
    t_poison(ref, N);
    kiln_softmax(ref, x, 1, N);
    for (int v = 0; v < g_nisa; v++) {
        use_isa(g_isas[v]);
        t_poison(got, N);
        kiln_softmax(got, x, 1, N);
        char what[96];
        snprintf(what, sizeof what, "%s softmax, exp down to subnormals", kiln_isa_name(g_isas[v]));
        t_close_f32(what, "SIMD_EXP_RTOL + SIMD_EXP_SUBNORMAL_ATOL", got, ref, N, SIMD_EXP_SUBNORMAL_ATOL,
                    SIMD_EXP_RTOL);
        T_CHECK(got[6] == 0.0f, "%s softmax: exp(-inf) is 0", kiln_isa_name(g_isas[v]));
    }
    free(x), free(ref), free(got);
}

/* ---- swiglu / add / scale ------------------------------------------------- */

static void test_elementwise(void) {
    for (int si = 0; si < N_SIZES + 1; si++) {
        const int64_t n = si < N_SIZES ? SIZES[si] : 4099;
        float *g = t_alloc((size_t)n * 4), *u = t_alloc((size_t)n * 4);
        float *ref = t_alloc((size_t)n * 4), *got = t_alloc((size_t)n * 4);
        double *f64 = t_alloc((size_t)n * 8);
        const float s = t_uniform(-3, 3);
        t_fill(g, n, -20, 20);
        t_fill(u, n, -2, 2);
        if (n > 4) g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f, g[3] = -88.0f; /* overflow/underflow of exp */
        char what[96];
        for (int op = 0; op < 3; op++) {
            const char *name = op == 0 ? "swiglu" : op == 1 ? "add" : "scale";
            use_isa(KILN_ISA_SCALAR);
            t_poison(ref, n);
            int rc = op == 0 ? kiln_swiglu(ref, g, u, n) : op == 1 ? kiln_add(ref, g, u, n) : kiln_scale(ref, g, s, n);
            T_CHECK(rc == KILN_OK, "%s", name);
            for (int64_t i = 0; i < n; i++)
                f64[i] = op == 0 ? g[i] / (1.0 + exp(-(double)g[i])) * u[i]
                       : op == 1 ? (double)g[i] + u[i] : (double)g[i] * s;
            snprintf(what, sizeof what, "scalar %s n %lld vs f64", name, (long long)n);
            if (op == 0) t_close_f64(what, "SWIGLU_F64_RTOL", ref, f64, n, SWIGLU_F64_ATOL, SWIGLU_F64_RTOL);
            else if (op == 1) t_close_f64(what, "ADD_F64_RTOL", ref, f64, n, 0, ADD_F64_RTOL);
            else t_close_f64(what, "exact (one rounding of an exact product)", ref, f64, n, 0, 6e-8);
            for (int v = -1; v < g_nisa; v++) {
                const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
                use_isa(isa);
                if (v >= 0) {
                    t_poison(got, n);
                    rc = op == 0 ? kiln_swiglu(got, g, u, n) : op == 1 ? kiln_add(got, g, u, n) : kiln_scale(got, g, s, n);
                    snprintf(what, sizeof what, "%s %s n %lld", kiln_isa_name(isa), name, (long long)n);
                    if (op == 0) t_close_f32(what, "SIMD_EXP_RTOL", got, ref, n, SIMD_EXP_ATOL, SIMD_EXP_RTOL);
                    else t_identical(what, got, ref, n); /* one IEEE op per element: exact */
                }
                float *want = t_alloc((size_t)n * 4);
                if (op == 0) kiln_swiglu(want, g, u, n);
                else if (op == 1) kiln_add(want, g, u, n);
                else kiln_scale(want, g, s, n);
                memcpy(got, g, (size_t)n * 4); /* y == first input */
                if (op == 0) kiln_swiglu(got, got, u, n);
                else if (op == 1) kiln_add(got, got, u, n);
                else kiln_scale(got, got, s, n);
                snprintf(what, sizeof what, "%s %s in place n %lld", kiln_isa_name(isa), name, (long long)n);
                t_identical(what, got, want, n);
                if (op < 2) { /* y == second input */
                    memcpy(got, u, (size_t)n * 4);
                    if (op == 0) kiln_swiglu(got, g, got, n);
                    else kiln_add(got, g, got, n);
                    t_identical(what, got, want, n);
                }
                free(want);
            }
        }
        free(g), free(u), free(ref), free(got), free(f64);
    }
}

/* ---- rope ----------------------------------------------------------------- */

/* f64_rope rotates in double; thetas either as llama.cpp computes them
 * (float iteration, exact_theta = 0) or exactly (exact_theta = 1). */
static void f64_rope(double *y, const float *x, const int32_t *pos, int64_t m, int nh, int hd, int rd, int mode,
                     float base, float fs, const float *ff, int exact_theta) {
    const float theta_scale = powf(base, -2.0f / (float)rd);
    double c[512], s[512];
    for (int64_t t = 0; t < m; t++) {
        float theta = (float)pos[t];
        for (int j = 0; j < rd / 2; j++) {
            double ang;
            if (exact_theta) ang = fs * pos[t] * pow(base, -2.0 * j / rd) / (ff ? ff[j] : 1.0);
            else ang = fs * (theta / (ff ? ff[j] : 1.0f));
            c[j] = cos(ang), s[j] = sin(ang);
            theta *= theta_scale;
        }
        for (int h = 0; h < nh; h++) {
            const float *xh = x + (t * nh + h) * hd;
            double *yh = y + (t * nh + h) * hd;
            for (int i = 0; i < hd; i++) yh[i] = xh[i];
            for (int j = 0; j < rd / 2; j++) {
                const int i0 = mode == KILN_ROPE_NORMAL ? 2 * j : j;
                const int i1 = mode == KILN_ROPE_NORMAL ? 2 * j + 1 : j + rd / 2;
                yh[i0] = xh[i0] * c[j] - xh[i1] * s[j];
                yh[i1] = xh[i0] * s[j] + xh[i1] * c[j];
            }
        }
    }
}

static void test_rope(void) {
    static const int shapes[][2] = {{64, 64}, {128, 128}, {128, 64}, {96, 32}, {80, 80}, {10, 6}, {6, 2}, {34, 30}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int cfg = 0; cfg < 8; cfg++) {
            const int hd = shapes[sh][0], rd = shapes[sh][1];
            const int mode = (cfg & 1) ? KILN_ROPE_NEOX : KILN_ROPE_NORMAL;
            const float fs = (cfg & 2) ? 0.25f : 1.0f;
            const int use_ff = (cfg & 4) != 0;
            const float base = (sh & 1) ? 1000000.0f : 10000.0f;
            const int nh = t_int(1, 4);
            const int64_t m = t_int(1, 17), n = m * nh * hd;
            float ff[256];
            for (int j = 0; j < rd / 2; j++) ff[j] = t_uniform(1, 8);
            int32_t pos[17];
            for (int i = 0; i < m; i++) pos[i] = t_int(0, 100000);
            pos[0] = 100000;
            float *x = t_alloc((size_t)n * 4), *ref = t_alloc((size_t)n * 4), *got = t_alloc((size_t)n * 4);
            double *f64 = t_alloc((size_t)n * 8);
            t_fill(x, n, -1, 1);
            const float *ffp = use_ff ? ff : NULL;
            char what[128];
            snprintf(what, sizeof what, "rope %s hd %d rd %d fs %g ff %d m %lld", mode ? "neox" : "normal", hd, rd,
                     fs, use_ff, (long long)m);
            use_isa(KILN_ISA_SCALAR);
            memcpy(ref, x, (size_t)n * 4);
            T_CHECK(kiln_rope(ref, pos, m, nh, hd, rd, mode, base, fs, ffp) == KILN_OK, "%s", what);
            f64_rope(f64, x, pos, m, nh, hd, rd, mode, base, fs, ffp, 0);
            char w2[256];
            snprintf(w2, sizeof w2, "scalar %s vs f64", what);
            t_close_f64(w2, "ROPE_F64_ATOL", ref, f64, n, ROPE_F64_ATOL, 0);
            int passthru = 1;
            for (int64_t r = 0; r < m * nh; r++)
                passthru &= !memcmp(ref + r * hd + rd, x + r * hd + rd, (size_t)(hd - rd) * 4);
            T_CHECK(passthru, "%s: dims past rope_dim unchanged", what);
            /* small positions against exactly computed thetas */
            int32_t small[17];
            for (int i = 0; i < m; i++) small[i] = t_int(0, 16);
            memcpy(got, x, (size_t)n * 4);
            kiln_rope(got, small, m, nh, hd, rd, mode, base, fs, ffp);
            f64_rope(f64, x, small, m, nh, hd, rd, mode, base, fs, ffp, 1);
            snprintf(w2, sizeof w2, "scalar %s small pos vs exact theta", what);
            t_close_f64(w2, "ROPE_EXACT_THETA_ATOL", got, f64, n, ROPE_EXACT_THETA_ATOL, 0);
            for (int v = -1; v < g_nisa; v++) {
                const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
                use_isa(isa);
                memcpy(got, x, (size_t)n * 4);
                kiln_rope(got, pos, m, nh, hd, rd, mode, base, fs, ffp);
                snprintf(w2, sizeof w2, "%s %s == scalar (no FMA: bit-identical)", kiln_isa_name(isa), what);
                t_identical(w2, got, ref, n);
                const int64_t r = t_int(0, (int)m - 1), row = (int64_t)nh * hd;
                memcpy(got, x + r * row, (size_t)row * 4);
                kiln_rope(got, pos + r, 1, nh, hd, rd, mode, base, fs, ffp);
                snprintf(w2, sizeof w2, "%s %s token alone == in batch", kiln_isa_name(isa), what);
                t_identical(w2, got, ref + r * row, row);
            }
            free(x), free(ref), free(got), free(f64);
        }
}

/* ---- determinism: 1 vs 2 threads on large inputs ------------------------- */

enum { DET_M = 64, DET_N = 4096, DET_HEADS = 32, DET_HD = 128 };

/* det_run runs every op on big inputs into out[0..7] under the current pool. */
static void det_run(int isa, float *const *out, const float *x, const float *u, const uint16_t *h, const void *q8,
                    const int32_t *pos, const int32_t *ids) {
    const int64_t big = (int64_t)DET_M * DET_N;
    use_isa(isa);
    for (int i = 0; i < 8; i++) t_poison(out[i], big);
    kiln_rmsnorm(out[0], x, u, DET_M, DET_N, 1e-5f);
    kiln_softmax(out[1], x, DET_M, DET_N);
    kiln_swiglu(out[2], x + 1, u, big - 1); /* odd length: a tail at the end */
    out[2][big - 1] = 0;
    kiln_add(out[3], x, u, big);
    kiln_f16_to_f32(h, out[4], big);
    memcpy(out[5], x, (size_t)big * 4);
    kiln_rope(out[5], pos, big / (DET_HEADS * DET_HD), DET_HEADS, DET_HD, 96, KILN_ROPE_NEOX, 1e6f, 1.0f, NULL);
    kiln_dequantize(KILN_TYPE_Q8_0, q8, out[6], big);
    kiln_get_rows(KILN_TYPE_Q8_0, q8, DET_M, DET_N, ids, DET_M, out[7]);
}

static void test_determinism(void) {
    const int64_t big = (int64_t)DET_M * DET_N;
    float *x = t_alloc((size_t)big * 4), *u = t_alloc((size_t)big * 4);
    uint16_t *h = t_alloc((size_t)big * 2);
    double *exact = t_alloc((size_t)big * 8);
    void *q8 = make_table(KILN_TYPE_Q8_0, DET_M, DET_N, exact);
    int32_t pos[DET_M], ids[DET_M];
    for (int i = 0; i < DET_M; i++) pos[i] = t_int(0, 100000), ids[i] = t_int(0, DET_M - 1);
    t_fill(x, big, -8, 8);
    t_fill(u, big, -2, 2);
    for (int64_t i = 0; i < big; i++) h[i] = (uint16_t)t_next();
    float *a[8], *b[8];
    for (int i = 0; i < 8; i++) a[i] = t_alloc((size_t)big * 4), b[i] = t_alloc((size_t)big * 4);
    static const char *names[8] = {"rmsnorm", "softmax", "swiglu", "add", "f16_to_f32", "rope", "dequantize q8_0", "get_rows"};
    for (int v = -1; v < g_nisa; v++) {
        const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
        T_CHECK(kiln_init(1) == KILN_OK, "kiln_init(1)");
        det_run(isa, a, x, u, h, q8, pos, ids);
        T_CHECK(kiln_init(2) == KILN_OK, "kiln_init(2)");
        det_run(isa, b, x, u, h, q8, pos, ids);
        for (int i = 0; i < 8; i++) {
            char what[96];
            snprintf(what, sizeof what, "%s %s: 1 thread == 2 threads", kiln_isa_name(isa), names[i]);
            t_identical(what, a[i], b[i], big);
        }
    }
    for (int i = 0; i < 8; i++) free(a[i]), free(b[i]);
    free(x), free(u), free(h), free(exact), free(q8);
    kiln_init(0);
}

/* ---- bad arguments -------------------------------------------------------- */

static void test_bad_args(void) {
    float f[64] = {0};
    uint16_t h[64] = {0};
    int32_t pos[2] = {0, 1}, ids[2] = {0, 1};
    block_q8_0 q[2] = {{0}};
    T_CHECK(kiln_f16_to_f32(NULL, f, 4) == KILN_ERR_NULL, "f16_to_f32 NULL x");
    T_CHECK(kiln_f16_to_f32(h, NULL, 4) == KILN_ERR_NULL, "f16_to_f32 NULL y");
    T_CHECK(kiln_f16_to_f32(h, f, 0) == KILN_ERR_SIZE, "f16_to_f32 n 0");
    T_CHECK(kiln_bf16_to_f32(NULL, f, 4) == KILN_ERR_NULL, "bf16_to_f32 NULL");
    T_CHECK(kiln_bf16_to_f32(h, f, -1) == KILN_ERR_SIZE, "bf16_to_f32 n < 0");
    T_CHECK(kiln_f32_to_f16(f, NULL, 4) == KILN_ERR_NULL, "f32_to_f16 NULL");
    T_CHECK(kiln_f32_to_f16(f, h, 0) == KILN_ERR_SIZE, "f32_to_f16 n 0");
    T_CHECK(kiln_f32_to_bf16(NULL, h, 4) == KILN_ERR_NULL, "f32_to_bf16 NULL");
    T_CHECK(kiln_f32_to_bf16(f, h, -5) == KILN_ERR_SIZE, "f32_to_bf16 n < 0");
    T_CHECK(kiln_dequantize(KILN_TYPE_F16, NULL, f, 4) == KILN_ERR_NULL, "dequantize NULL x");
    T_CHECK(kiln_dequantize(KILN_TYPE_F16, h, NULL, 4) == KILN_ERR_NULL, "dequantize NULL y");
    T_CHECK(kiln_dequantize(KILN_TYPE_F16, h, f, 0) == KILN_ERR_SIZE, "dequantize n 0");
    T_CHECK(kiln_dequantize(77, h, f, 4) == KILN_ERR_TYPE, "dequantize unknown type");
    T_CHECK(kiln_dequantize(9, h, f, 32) == KILN_ERR_TYPE, "dequantize Q8_1 unsupported");
    T_CHECK(kiln_dequantize(KILN_TYPE_Q8_0, q, f, 33) == KILN_ERR_ALIGN, "dequantize q8_0 n %% 32");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, NULL, 2, 4, ids, 2, f) == KILN_ERR_NULL, "get_rows NULL table");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 2, 4, NULL, 2, f + 8) == KILN_ERR_NULL, "get_rows NULL ids");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 2, 4, ids, 2, NULL) == KILN_ERR_NULL, "get_rows NULL y");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 0, 4, ids, 2, f + 8) == KILN_ERR_SIZE, "get_rows n_rows 0");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 2, 0, ids, 2, f + 8) == KILN_ERR_SIZE, "get_rows k 0");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 2, 4, ids, 0, f + 8) == KILN_ERR_SIZE, "get_rows n_ids 0");
    T_CHECK(kiln_get_rows(9, f, 2, 4, ids, 2, f + 8) == KILN_ERR_TYPE, "get_rows unknown type");
    T_CHECK(kiln_get_rows(KILN_TYPE_Q8_0, q, 2, 16, ids, 2, f) == KILN_ERR_ALIGN, "get_rows q8_0 k %% 32");
    T_CHECK(kiln_get_rows(KILN_TYPE_F32, f, 1, 4, ids, 2, f + 8) == KILN_ERR_INDEX, "get_rows id out of range");
    T_CHECK(kiln_rmsnorm(NULL, f, NULL, 1, 4, 1e-5f) == KILN_ERR_NULL, "rmsnorm NULL y");
    T_CHECK(kiln_rmsnorm(f, NULL, NULL, 1, 4, 1e-5f) == KILN_ERR_NULL, "rmsnorm NULL x");
    T_CHECK(kiln_rmsnorm(f, f, NULL, 0, 4, 1e-5f) == KILN_ERR_SIZE, "rmsnorm m 0");
    T_CHECK(kiln_rmsnorm(f, f, NULL, 1, -4, 1e-5f) == KILN_ERR_SIZE, "rmsnorm n < 0");
    T_CHECK(kiln_rmsnorm(f, f, NULL, INT64_MAX / 2, 4, 1e-5f) == KILN_ERR_SIZE, "rmsnorm m*n overflows");
    T_CHECK(kiln_softmax(NULL, f, 1, 4) == KILN_ERR_NULL, "softmax NULL");
    T_CHECK(kiln_softmax(f, f, 1, 0) == KILN_ERR_SIZE, "softmax n 0");
    T_CHECK(kiln_swiglu(f, NULL, f, 4) == KILN_ERR_NULL, "swiglu NULL gate");
    T_CHECK(kiln_swiglu(f, f, NULL, 4) == KILN_ERR_NULL, "swiglu NULL up");
    T_CHECK(kiln_swiglu(NULL, f, f, 4) == KILN_ERR_NULL, "swiglu NULL y");
    T_CHECK(kiln_swiglu(f, f, f, 0) == KILN_ERR_SIZE, "swiglu n 0");
    T_CHECK(kiln_add(f, f, NULL, 4) == KILN_ERR_NULL, "add NULL b");
    T_CHECK(kiln_add(f, f, f, -1) == KILN_ERR_SIZE, "add n < 0");
    T_CHECK(kiln_scale(NULL, f, 2.0f, 4) == KILN_ERR_NULL, "scale NULL");
    T_CHECK(kiln_scale(f, f, 2.0f, 0) == KILN_ERR_SIZE, "scale n 0");
    T_CHECK(kiln_rope(NULL, pos, 1, 1, 8, 8, 0, 1e4f, 1, NULL) == KILN_ERR_NULL, "rope NULL x");
    T_CHECK(kiln_rope(f, NULL, 1, 1, 8, 8, 0, 1e4f, 1, NULL) == KILN_ERR_NULL, "rope NULL pos");
    T_CHECK(kiln_rope(f, pos, 0, 1, 8, 8, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope m 0");
    T_CHECK(kiln_rope(f, pos, 1, 0, 8, 8, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope n_heads 0");
    T_CHECK(kiln_rope(f, pos, 1, 1, 0, 0, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope head_dim 0");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 7, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope odd rope_dim");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 10, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope rope_dim > head_dim");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 0, 0, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope rope_dim 0");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 8, 1, 1e4f, 1, NULL) == KILN_ERR_SIZE, "rope mode 1");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 8, 0, -1.0f, 1, NULL) == KILN_ERR_SIZE, "rope freq_base <= 0");
    T_CHECK(kiln_rope(f, pos, 1, 1, 8, 8, 0, 1e4f, NAN, NULL) == KILN_ERR_SIZE, "rope freq_scale NaN");
    for (int i = 0; i < 64; i++) f[i] = (float)i;
    T_CHECK(kiln_rope(f, pos, 2, 2, 8, 8, 2, 1e4f, 1, NULL) == KILN_OK, "rope valid call");
    T_CHECK(f[0] == 0.0f && f[1] == 1.0f, "rope position 0 is the identity");
}

int main(void) {
    t_seed("ops");
    T_CHECK(kiln_init(0) == KILN_OK, "kiln_init");
    g_nisa = t_simd_isas(g_isas);
    test_bad_args();
    test_rowops();
    test_softmax_wide();
    test_elementwise();
    test_rope();
    test_determinism();
    return t_done();
}
