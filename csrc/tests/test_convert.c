/* test_convert.c — conversions between float formats (F16, BF16), and
 * dequantize and get_rows for every plain weight type.
 *
 * Each is checked against an exact computation, every SIMD variant this CPU
 * runs against the scalar reference, bit for bit; inputs are fresh per run
 * (seed printed) and outputs poisoned. */
#include "test_util.h"
#include "ops.h"

static int g_isas[KILN_ISA_COUNT];
static int g_nisa;

static void poison16(uint16_t *y, int64_t n) { memset(y, 0xA5, (size_t)n * 2); }

static int u16_identical(const char *what, const uint16_t *a, const uint16_t *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (a[i] != b[i]) {
            T_CHECK(0, "%s: differs at [%lld]: 0x%04x vs 0x%04x", what, (long long)i, a[i], b[i]);
            return 0;
        }
    T_CHECK(1, "%s", what);
    return 1;
}

static float rand_bits_f32(void) { return kiln_bits_f32((uint32_t)t_next()); }

/* ---- conversions ---------------------------------------------------------- */

static void test_half_all(void) {
    uint16_t *h = t_alloc(65536 * 2);
    float *ref = t_alloc(65536 * 4), *got = t_alloc(65536 * 4);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    use_isa(KILN_ISA_SCALAR);
    t_poison(ref, 65536);
    T_CHECK(kiln_f16_to_f32(h, ref, 65536) == KILN_OK, "f16_to_f32 scalar");
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        float want = kiln_fp16_to_fp32((uint16_t)i);
        if (memcmp(&want, &ref[i], 4)) bad++;
    }
    T_CHECK(bad == 0, "scalar f16_to_f32 equals kiln_fp16_to_fp32 on all halves (%d bad)", bad);
    /* round trip through the public API: every non-NaN half comes back */
    uint16_t *back = t_alloc(65536 * 2), *back_ref = t_alloc(65536 * 2);
    poison16(back_ref, 65536);
    kiln_f32_to_f16(ref, back_ref, 65536);
    bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        if (isnan(ref[i])) bad += !((back_ref[i] & 0x7fff) > 0x7c00);
        else bad += back_ref[i] != i;
    }
    T_CHECK(bad == 0, "scalar f16 round trip of all 65536 halves (%d bad, NaN stays NaN)", bad);
    for (int v = 0; v < g_nisa; v++) {
        use_isa(g_isas[v]);
        char what[96];
        t_poison(got, 65536);
        kiln_f16_to_f32(h, got, 65536);
        snprintf(what, sizeof what, "%s f16_to_f32 all halves", kiln_isa_name(g_isas[v]));
        t_identical(what, got, ref, 65536);
        t_poison(got, 65536); /* odd offset and length: tails through every lane */
        kiln_f16_to_f32(h + 3, got, 65533);
        snprintf(what, sizeof what, "%s f16_to_f32 offset tail", kiln_isa_name(g_isas[v]));
        t_identical(what, got, ref + 3, 65533);
        poison16(back, 65536);
        kiln_f32_to_f16(ref + 1, back, 65535);
        snprintf(what, sizeof what, "%s f16 round trip incl. NaN payloads", kiln_isa_name(g_isas[v]));
        u16_identical(what, back, back_ref + 1, 65535);
    }
    free(h), free(ref), free(got), free(back), free(back_ref);
}

/* test_half_rounding: midpoints between adjacent halves (exact in float)
 * must round to even, and one float ulp either side to the nearer half;
 * random bit patterns (all classes) must agree bit for bit across variants. */
static void test_half_rounding(void) {
    enum { N = 3 * 0x7c00 + 4096 };
    float *x = t_alloc(N * 4);
    uint16_t *want = t_alloc(N * 2), *ref = t_alloc(N * 2), *got = t_alloc(N * 2);
    int64_t n = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) { /* h and h+1 (0x7c00 = inf: 65520 rounds to inf) */
        const double lo = kiln_fp16_to_fp32((uint16_t)h);
        const double hi = h + 1 == 0x7c00 ? 65536.0 : kiln_fp16_to_fp32((uint16_t)(h + 1));
        const float mid = (float)((lo + hi) / 2);
        const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        const uint16_t sgn = (t_next() & 1) ? 0x8000 : 0;
        const float s = sgn ? -1.0f : 1.0f;
        x[n] = s * mid, want[n++] = sgn | even;
        x[n] = s * nextafterf(mid, 0.0f), want[n++] = (uint16_t)(sgn | h);
        x[n] = s * nextafterf(mid, INFINITY), want[n++] = (uint16_t)(sgn | (h + 1));
    }
    const int64_t n_exact = n;
    const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-8f, 0x1p-25f, 0x1p-24f, 65504.0f,
                              65519.99f, 65520.0f, 1e10f, -1e10f, 0x1p-149f, kiln_bits_f32(0x7f800001u),
                              kiln_bits_f32(0xffffffffu), kiln_bits_f32(0x7fa00000u)};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) x[n++] = specials[i];
    while (n < N) x[n++] = rand_bits_f32();
    use_isa(KILN_ISA_SCALAR);
    poison16(ref, N);
    kiln_f32_to_f16(x, ref, N);
    u16_identical("scalar f32_to_f16 rounds midpoints to even, neighbours to nearest", ref, want, n_exact);
    int bad = 0;
    for (int64_t i = 0; i < N; i++) bad += isnan(x[i]) != ((ref[i] & 0x7fff) > 0x7c00);
    T_CHECK(bad == 0, "f32_to_f16: NaN in, NaN out, nothing else NaN (%d bad)", bad);
    for (int v = 0; v < g_nisa; v++) {
        use_isa(g_isas[v]);
        char what[96];
        for (int off = 0; off < 2; off++) {
            poison16(got, N);
            kiln_f32_to_f16(x + off, got, N - off);
            snprintf(what, sizeof what, "%s f32_to_f16 = scalar (offset %d)", kiln_isa_name(g_isas[v]), off);
            u16_identical(what, got, ref + off, N - off);
        }
    }
    free(x), free(want), free(ref), free(got);
}

static void test_bf16(void) {
    enum { N = 65536 * 4 };
    uint16_t *h = t_alloc(65536 * 2), *ref16 = t_alloc(N * 2), *got16 = t_alloc(N * 2);
    float *ref = t_alloc(N * 4), *got = t_alloc(N * 4), *x = t_alloc(N * 4);
    uint16_t *want = t_alloc(N * 2);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    use_isa(KILN_ISA_SCALAR);
    t_poison(ref, 65536);
    kiln_bf16_to_f32(h, ref, 65536);
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) bad += kiln_f32_bits(ref[i]) != i << 16;
    T_CHECK(bad == 0, "bf16_to_f32 is exact on all 65536 values (%d bad)", bad);
    poison16(ref16, 65536);
    kiln_f32_to_bf16(ref, ref16, 65536);
    bad = 0;
    for (uint32_t i = 0; i < 65536; i++)
        bad += isnan(ref[i]) ? !((ref16[i] & 0x7fff) > 0x7f80) : ref16[i] != i;
    T_CHECK(bad == 0, "bf16 round trip of all values, NaN stays NaN (%d bad)", bad);
    /* midpoints round to even, neighbours to nearest; then random bit patterns */
    int64_t n = 0;
    for (int i = 0; i < 20000; i++) {
        uint32_t b = (uint32_t)t_next() & 0x7f7effffu; /* finite, below max: b+1 finite */
        b >>= 16;
        const uint16_t sgn = (t_next() & 1) ? 0x8000 : 0;
        const float mid = kiln_bits_f32((b << 16) | 0x8000u);
        const uint16_t even = (b & 1) ? (uint16_t)(b + 1) : (uint16_t)b;
        const float s = sgn ? -1.0f : 1.0f;
        x[n] = s * mid, want[n++] = sgn | even;
        x[n] = s * nextafterf(mid, 0.0f), want[n++] = (uint16_t)(sgn | b);
        x[n] = s * nextafterf(mid, INFINITY), want[n++] = (uint16_t)(sgn | (b + 1));
    }
    const int64_t n_exact = n;
    x[n++] = NAN, x[n++] = kiln_bits_f32(0x7f800001u), x[n++] = kiln_bits_f32(0xff80ffffu), x[n++] = INFINITY;
    x[n++] = kiln_bits_f32(0x7f7fffffu), x[n++] = 0x1p-149f, x[n++] = -0.0f;
    while (n < N) x[n++] = rand_bits_f32();
    poison16(ref16, N);
    kiln_f32_to_bf16(x, ref16, N);
    u16_identical("scalar f32_to_bf16 rounds midpoints to even, neighbours to nearest", ref16, want, n_exact);
    bad = 0;
    for (int64_t i = 0; i < N; i++) bad += isnan(x[i]) != ((ref16[i] & 0x7fff) > 0x7f80);
    T_CHECK(bad == 0, "f32_to_bf16: NaN in, NaN out, nothing else NaN (%d bad)", bad);
    T_CHECK(ref16[n_exact + 4] == 0x7f80, "f32_to_bf16: max float rounds to inf");
    for (int v = 0; v < g_nisa; v++) {
        use_isa(g_isas[v]);
        char what[96];
        for (int off = 0; off < 2; off++) {
            poison16(got16, N);
            kiln_f32_to_bf16(x + off, got16, N - off);
            snprintf(what, sizeof what, "%s f32_to_bf16 = scalar (offset %d)", kiln_isa_name(g_isas[v]), off);
            u16_identical(what, got16, ref16 + off, N - off);
            t_poison(got, 65536);
            kiln_bf16_to_f32(h + off, got, 65536 - off);
            snprintf(what, sizeof what, "%s bf16_to_f32 = scalar (offset %d)", kiln_isa_name(g_isas[v]), off);
            t_identical(what, got, ref + off, 65536 - off);
        }
    }
    free(h), free(ref16), free(got16), free(ref), free(got), free(x), free(want);
}

/* ---- dequantize / get_rows ------------------------------------------------ */

static const int TYPES[] = {KILN_TYPE_F32, KILN_TYPE_F16, KILN_TYPE_BF16, KILN_TYPE_Q8_0};

static void test_dequantize(void) {
    const int64_t qsizes[] = {32, 64, 96, 576, 4096};
    for (int ti = 0; ti < 4; ti++) {
        const int type = TYPES[ti];
        for (int si = 0; si < (type == KILN_TYPE_Q8_0 ? 5 : N_SIZES); si++) {
            const int64_t n = type == KILN_TYPE_Q8_0 ? qsizes[si] : SIZES[si];
            double *exact = t_alloc((size_t)n * 8);
            void *x = make_table(type, 1, n, exact);
            float *ref = t_alloc((size_t)n * 4), *got = t_alloc((size_t)n * 4);
            char what[96];
            use_isa(KILN_ISA_SCALAR);
            t_poison(ref, n);
            T_CHECK(kiln_dequantize(type, x, ref, n) == KILN_OK, "dequantize type %d n %lld", type, (long long)n);
            snprintf(what, sizeof what, "dequantize type %d n %lld scalar vs exact", type, (long long)n);
            t_close_f64(what, "exact", ref, exact, n, 0, 0);
            for (int v = 0; v < g_nisa; v++) {
                use_isa(g_isas[v]);
                t_poison(got, n);
                kiln_dequantize(type, x, got, n);
                snprintf(what, sizeof what, "%s dequantize type %d n %lld", kiln_isa_name(g_isas[v]), type, (long long)n);
                t_identical(what, got, ref, n);
            }
            free(exact), free(x), free(ref), free(got);
        }
    }
}

static void test_get_rows(void) {
    const int64_t rows = 37;
    for (int ti = 0; ti < 4; ti++) {
        const int type = TYPES[ti];
        const int64_t k = type == KILN_TYPE_Q8_0 ? 32 * t_int(1, 5) : SIZES[t_int(0, N_SIZES - 1)];
        double *exact = t_alloc((size_t)(rows * k) * 8);
        void *table = make_table(type, rows, k, exact);
        const int64_t n_ids = t_int(1, 17);
        int32_t ids[17];
        for (int i = 0; i < n_ids; i++) ids[i] = t_int(0, (int)rows - 1);
        ids[0] = (int32_t)rows - 1;
        float *y = t_alloc((size_t)(n_ids * k) * 4);
        double *want = t_alloc((size_t)(n_ids * k) * 8);
        for (int i = 0; i < n_ids; i++) memcpy(want + i * k, exact + ids[i] * k, (size_t)k * 8);
        for (int v = -1; v < g_nisa; v++) {
            const int isa = v < 0 ? KILN_ISA_SCALAR : g_isas[v];
            use_isa(isa);
            t_poison(y, n_ids * k);
            T_CHECK(kiln_get_rows(type, table, rows, k, ids, n_ids, y) == KILN_OK, "get_rows");
            char what[96];
            snprintf(what, sizeof what, "%s get_rows type %d k %lld x %lld ids", kiln_isa_name(isa), type,
                     (long long)k, (long long)n_ids);
            t_close_f64(what, "exact", y, want, n_ids * k, 0, 0);
        }
        /* an out-of-range id anywhere: KILN_ERR_INDEX and y untouched */
        t_poison(y, n_ids * k);
        ids[n_ids - 1] = (int32_t)rows;
        T_CHECK(kiln_get_rows(type, table, rows, k, ids, n_ids, y) == KILN_ERR_INDEX, "get_rows id == n_rows");
        ids[n_ids - 1] = -1;
        T_CHECK(kiln_get_rows(type, table, rows, k, ids, n_ids, y) == KILN_ERR_INDEX, "get_rows id < 0");
        int touched = 0;
        for (int64_t i = 0; i < n_ids * k; i++) touched += !isnan(y[i]);
        T_CHECK(touched == 0, "get_rows with a bad id writes nothing (%d written)", touched);
        free(exact), free(table), free(y), free(want);
    }
}

int main(void) {
    t_seed("convert");
    T_CHECK(kiln_init(0) == KILN_OK, "kiln_init");
    g_nisa = t_simd_isas(g_isas);
    test_half_all();
    test_half_rounding();
    test_bf16();
    test_dequantize();
    test_get_rows();
    return t_done();
}
