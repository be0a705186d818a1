/* test_tanh_ops.c — the tanh-based element-wise rows of the kernel table
 * (geglu_tanh, softcap) and kiln_scale_strided, which runs on the table's
 * scale.
 *
 * As test_ops.c: the scalar reference against float64, every SIMD variant
 * this CPU runs against the scalar reference, in place, and determinism
 * (1 vs 2 threads). Inputs are fresh per run (seed printed); outputs are
 * poisoned with NaN. */
#include "test_util.h"
#include "ops.h"

/* ---- named tolerances ----------------------------------------------------- */
/* libm tanhf vs float64 tanh: within ~2 ulp. */
#define TANHF_F64_RTOL 2.5e-7
/* The SIMD tanh ((1-e)/(1+e), e = exp(-2|z|) with the ~1.5 ulp polynomial
 * exp; the odd series below |z| = 0.1) vs float64: worst just above 0.1,
 * where 1 - e cancels ~2.5 bits: ~4e-7 relative; 1e-6 leaves margin. */
#define TANH_SIMD_RTOL 1e-6
/* geglu = 0.5 g (1 + tanh) u: a tanh error δ·|tanh| ≤ δ moves y by at most
 * 0.5 |g u| δ (large negative g cancels 1 + tanh, so the bound is absolute
 * in g u), plus ~4 ulp of the products around it. */
#define GEGLU_PRODUCT_RTOL 5e-7

static int g_isas[KILN_ISA_COUNT];
static int g_nisa;

static const float k_gelu = 0.79788456080286535588f; /* sqrt(2/pi), as the kernels round it */

/* fill_special overwrites the first entries with values that exercise the
 * series/exp switch, cancellation and saturation. */
static void fill_special(float *x, int64_t n, float scale) {
    static const float v[] = {0.0f, -0.0f, 1e-6f, -1e-6f, 0.05f, -0.05f, 0.0999f, 0.1f, 0.1001f, -0.1f,
                              0.5f, -3.0f, 9.0f, -9.0f, 20.0f, -20.0f, 100.0f, -100.0f};
    for (int i = 0; i < (int)(sizeof v / sizeof v[0]) && i < n; i++) x[i] = v[i] * scale;
}

/* check_geglu checks got against want (float64 or a float reference) with
 * the geglu bound: |Δ| ≤ 0.5|g u| tanh_tol + GEGLU_PRODUCT_RTOL |want|. */
static void check_geglu(const char *what, const float *got, const double *want, const float *g, const float *u,
                        int64_t n, double tanh_tol) {
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++) {
        const double lim = 0.5 * fabs((double)g[i] * u[i]) * tanh_tol + GEGLU_PRODUCT_RTOL * fabs(want[i]) + 1e-30;
        if (!(fabs(got[i] - want[i]) <= lim)) bad = i;
    }
    T_CHECK(bad < 0, "%s: 0.5|gu|·tanh tolerance + GEGLU_PRODUCT_RTOL exceeded at [%lld]: g %.9g got %.9g want %.9g", what,
            (long long)bad, bad < 0 ? 0.0 : g[bad], bad < 0 ? 0.0 : got[bad], bad < 0 ? 0.0 : want[bad]);
}

static void test_geglu(void) {
    for (int si = 0; si < N_SIZES + 2; si++) {
        const int64_t n = si < N_SIZES ? SIZES[si] : si == N_SIZES ? 4099 : 40000;
        float *g = t_alloc((size_t)n * 4), *u = t_alloc((size_t)n * 4);
        float *ref = t_alloc((size_t)n * 4), *got = t_alloc((size_t)n * 4);
        double *f64 = t_alloc((size_t)n * 8), *ref64 = t_alloc((size_t)n * 8);
        t_fill(g, n, -12, 12);
        t_fill(u, n, -2, 2);
        fill_special(g, n, 1.0f);
        char what[96];
        use_isa(KILN_ISA_SCALAR);
        t_poison(ref, n);
        T_CHECK(kiln_geglu_tanh(ref, g, u, n) == KILN_OK, "geglu_tanh");
        for (int64_t i = 0; i < n; i++) {
            const double x = g[i], inner = (double)k_gelu * x * (1.0 + (double)0.044715f * x * x);
            f64[i] = 0.5 * x * (1.0 + tanh(inner)) * u[i];
            ref64[i] = ref[i];
        }
        snprintf(what, sizeof what, "scalar geglu_tanh n %lld vs f64", (long long)n);
        check_geglu(what, ref, f64, g, u, n, TANHF_F64_RTOL);
        for (int v = 0; v < g_nisa; v++) {
            use_isa(g_isas[v]);
            t_poison(got, n);
            T_CHECK(kiln_geglu_tanh(got, g, u, n) == KILN_OK, "geglu_tanh");
            snprintf(what, sizeof what, "%s geglu_tanh n %lld vs scalar", kiln_isa_name(g_isas[v]), (long long)n);
            check_geglu(what, got, ref64, g, u, n, TANH_SIMD_RTOL + TANHF_F64_RTOL);
            snprintf(what, sizeof what, "%s geglu_tanh n %lld vs f64", kiln_isa_name(g_isas[v]), (long long)n);
            check_geglu(what, got, f64, g, u, n, TANH_SIMD_RTOL);
            float *want = t_alloc((size_t)n * 4);
            memcpy(want, got, (size_t)n * 4);
            memcpy(got, g, (size_t)n * 4);
            kiln_geglu_tanh(got, got, u, n); /* y == gate */
            snprintf(what, sizeof what, "%s geglu_tanh in place n %lld", kiln_isa_name(g_isas[v]), (long long)n);
            t_identical(what, got, want, n);
            free(want);
        }
        free(g), free(u), free(ref), free(got), free(f64), free(ref64);
    }
}

static void test_softcap(void) {
    static const float caps[] = {1.0f, 2.0f, 30.0f, 50.0f};
    for (int ci = 0; ci < 4; ci++) {
        const float cap = caps[ci];
        for (int si = 0; si < N_SIZES + 2; si++) {
            const int64_t n = si < N_SIZES ? SIZES[si] : si == N_SIZES ? 4099 : 40000;
            float *x = t_alloc((size_t)n * 4), *ref = t_alloc((size_t)n * 4), *got = t_alloc((size_t)n * 4);
            double *f64 = t_alloc((size_t)n * 8);
            t_fill(x, n, -8 * cap, 8 * cap);
            fill_special(x, n, cap);
            char what[96];
            use_isa(KILN_ISA_SCALAR);
            t_poison(ref, n);
            T_CHECK(kiln_softcap(ref, x, cap, n) == KILN_OK, "softcap");
            for (int64_t i = 0; i < n; i++) f64[i] = (double)cap * tanh((double)(x[i] / cap));
            snprintf(what, sizeof what, "scalar softcap %g n %lld vs f64", cap, (long long)n);
            t_close_f64(what, "TANHF_F64_RTOL", ref, f64, n, 0, TANHF_F64_RTOL + 1.2e-7 /* cap*t rounding */);
            for (int v = 0; v < g_nisa; v++) {
                use_isa(g_isas[v]);
                t_poison(got, n);
                T_CHECK(kiln_softcap(got, x, cap, n) == KILN_OK, "softcap");
                snprintf(what, sizeof what, "%s softcap %g n %lld vs f64", kiln_isa_name(g_isas[v]), cap, (long long)n);
                t_close_f64(what, "TANH_SIMD_RTOL", got, f64, n, 0, TANH_SIMD_RTOL);
                snprintf(what, sizeof what, "%s softcap %g n %lld vs scalar", kiln_isa_name(g_isas[v]), cap, (long long)n);
                t_close_f32(what, "TANH_SIMD_RTOL + TANHF_F64_RTOL", got, ref, n, 0, TANH_SIMD_RTOL + 2 * TANHF_F64_RTOL);
                const float sx[3] = {INFINITY, -INFINITY, NAN};
                float sy[3] = {0, 0, 0};
                kiln_softcap(sy, sx, cap, 3);
                T_CHECK(sy[0] == cap && sy[1] == -cap && isnan(sy[2]), "%s softcap: ±inf -> ±cap, NaN -> NaN",
                        kiln_isa_name(g_isas[v]));
                float *want = t_alloc((size_t)n * 4);
                memcpy(want, got, (size_t)n * 4);
                memcpy(got, x, (size_t)n * 4);
                kiln_softcap(got, got, cap, n);
                snprintf(what, sizeof what, "%s softcap in place n %lld", kiln_isa_name(g_isas[v]), (long long)n);
                t_identical(what, got, want, n);
                free(want);
            }
            free(x), free(ref), free(got), free(f64);
        }
    }
}

static void test_scale_strided(void) {
    const int64_t rows = 37, stride = 48, n = 35;
    float *x = t_alloc((size_t)(rows * stride) * 4), *want = t_alloc((size_t)(rows * stride) * 4);
    float *got = t_alloc((size_t)(rows * stride) * 4);
    t_fill(x, rows * stride, -4, 4);
    const float s = t_uniform(0.5f, 2.0f);
    for (int64_t i = 0; i < rows * stride; i++) want[i] = (i % stride) < n ? x[i] * s : x[i];
    for (int v = -1; v < g_nisa; v++) {
        const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
        use_isa(isa);
        memcpy(got, x, (size_t)(rows * stride) * 4);
        T_CHECK(kiln_scale_strided(got, rows, stride, n, s) == KILN_OK, "scale_strided");
        char what[96];
        snprintf(what, sizeof what, "%s scale_strided: one multiply per element, the rest untouched", kiln_isa_name(isa));
        t_identical(what, got, want, rows * stride);
    }
    T_CHECK(kiln_scale_strided(NULL, 1, 1, 1, 1) == KILN_ERR_NULL, "scale_strided NULL");
    T_CHECK(kiln_scale_strided(got, 1, 4, 5, 1) == KILN_ERR_SIZE, "scale_strided n > stride");
    free(x), free(want), free(got);
}

static void test_determinism(void) {
    const int64_t n = 1 << 16;
    float *g = t_alloc((size_t)n * 4), *u = t_alloc((size_t)n * 4);
    float *a[2], *b[2];
    for (int i = 0; i < 2; i++) a[i] = t_alloc((size_t)n * 4), b[i] = t_alloc((size_t)n * 4);
    t_fill(g, n, -10, 10);
    t_fill(u, n, -2, 2);
    for (int v = -1; v < g_nisa; v++) {
        const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
        for (int th = 1; th <= 2; th++) {
            T_CHECK(kiln_init(th) == KILN_OK, "kiln_init(%d)", th);
            use_isa(isa);
            float **out = th == 1 ? a : b;
            kiln_geglu_tanh(out[0], g, u, n);
            kiln_softcap(out[1], g, 3.0f, n);
        }
        char what[96];
        snprintf(what, sizeof what, "%s geglu_tanh: 1 thread == 2 threads", kiln_isa_name(isa));
        t_identical(what, a[0], b[0], n);
        snprintf(what, sizeof what, "%s softcap: 1 thread == 2 threads", kiln_isa_name(isa));
        t_identical(what, a[1], b[1], n);
    }
    free(g), free(u), free(a[0]), free(a[1]), free(b[0]), free(b[1]);
}

int main(void) {
    t_seed("tanh_ops");
    T_CHECK(kiln_init(0) == KILN_OK, "kiln_init");
    g_nisa = t_simd_isas(g_isas);
    test_geglu();
    test_softcap();
    test_scale_strided();
    test_determinism();
    return t_done();
}
