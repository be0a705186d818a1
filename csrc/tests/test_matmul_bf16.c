/* test_matmul_bf16.c — the AVX512_BF16 variant of BF16 weights (VDPBF16PS)
 * gives exactly the bits of its scalar definition, kiln_mm_bf16_dot_ref, on
 * odd sizes, subnormal and huge values and poisoned outputs, for GEMV and
 * GEMM shapes (so decode ≡ prefill holds by the rule), and is the variant
 * the table picks where the CPU has AVX512_BF16. Skipped elsewhere.
 *
 * The reference models the instruction as measured on AMD Zen 5. Where a
 * CPU's VDPBF16PS rounds or flushes differently in the subnormal range (the
 * SDM describes flushing subnormal products), the directed cases tell, and
 * the comparison with the reference becomes a tolerance; the contract
 * (every row alone equals the batch's row, bit for bit, on any thread
 * count) is checked on every CPU. */
#include "test_util.h"

#include "matmul.h"

/* rand_bf16 is a finite bf16 with a biased exponent up to max_exp (0:
 * subnormal; 167: ~1e12), or now and then zero. */
static uint16_t rand_bf16(int max_exp) {
    if (t_int(0, 40) == 0) return (uint16_t)(t_int(0, 1) << 15);
    const uint16_t exp = (uint16_t)t_int(0, max_exp), man = (uint16_t)t_int(0, 127);
    return (uint16_t)((t_int(0, 1) << 15) | (exp << 7) | man);
}

/* rand_x is mostly uniform in (-1, 1), with subnormals, exact ties of the
 * bf16 rounding and large values mixed in. */
static float rand_x(void) {
    switch (t_int(0, 19)) {
    case 0: return kiln_bits_f32((uint32_t)t_int(0, 1) << 31 | (uint32_t)t_int(1, 0x7fffff)); /* subnormal */
    case 1: return kiln_bits_f32(kiln_f32_bits(t_uniform(-1, 1)) & 0xffff0000u) + 0.0f; /* bf16 exact */
    case 2: return kiln_bits_f32((kiln_f32_bits(t_uniform(-1, 1)) & 0xffff0000u) | 0x8000u); /* a tie */
    case 3: return t_uniform(-1e6f, 1e6f);
    case 4: return kiln_bits_f32((uint32_t)t_int(0, 1) << 31 | (uint32_t)t_int(0x7f8000, 0x7fffff)); /* rounds up to a normal */
    default: return t_uniform(-1, 1);
    }
}

static int variant_is(const char *kernel, const char *prefix) {
    for (int i = 0; i < kiln_kernel_count(); i++)
        if (!strcmp(kiln_kernel_name(i), kernel)) return !strncmp(kiln_kernel_variant(i), prefix, strlen(prefix));
    return 0;
}

/* rule_exact: the CPU matched the reference on every directed case, so
 * outputs must equal it bit for bit (else within close_enough). */
static int rule_exact = 1;

/* close_enough: |y - want| <= 2^-20 · Σ|x·w| per output (bf16 products
 * are exact in f32; the sums differ only in roundings and flushes). */
static void close_enough(const char *what, const float *y, const float *want, const float *x,
                         const uint16_t *w, int64_t m, int64_t n, int64_t k, size_t rs) {
    int64_t bad = -1;
    for (int64_t i = 0; i < m && bad < 0; i++)
        for (int64_t j = 0; j < n; j++) {
            const uint16_t *wr = (const uint16_t *)((const char *)w + (size_t)j * rs);
            double mag = 0;
            for (int64_t c = 0; c < k; c++) mag += fabs((double)x[i * k + c] * kiln_bf16_to_fp32(wr[c]));
            if (!(fabs((double)y[i * n + j] - (double)want[i * n + j]) <= 0x1p-20 * mag + 0x1p-120)) {
                bad = i * n + j;
                break;
            }
        }
    T_CHECK(bad < 0, "%s (within 2^-20 of sum |x.w|): [%lld] %a vs %a", what, (long long)bad,
            bad < 0 ? 0.0 : y[bad], bad < 0 ? 0.0 : want[bad]);
}

/* check_rule: max_exp 167 spans every magnitude; 12 keeps whole outputs
 * near the subnormal range, where the flushes (DAZ/FTZ) decide the bits. */
static void check_rule(int64_t m, int64_t n, int64_t k, int threads, int max_exp) {
    const size_t rs = kiln_row_size(KILN_TYPE_BF16, k);
    uint16_t *w = t_alloc(rs * (size_t)n);
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    float *y = t_alloc(sizeof(float) * (size_t)(m * n)), *want = t_alloc(sizeof(float) * (size_t)(m * n));
    for (int64_t i = 0; i < n * k; i++) w[i] = rand_bf16(max_exp);
    for (int64_t i = 0; i < m * k; i++) x[i] = rand_x();
    kiln_mm p = {.wtype = KILN_TYPE_BF16, .w = w, .wstride = rs, .x = x, .y = want, .m = m, .n = n, .k = k};
    t_poison(want, m * n);
    kiln_mm_bf16_dot_ref(&p, 0, n, NULL);
    kiln_init(threads);
    kiln_set_isa(KILN_ISA_AVX512);
    t_poison(y, m * n);
    const int rc = kiln_matmul(KILN_TYPE_BF16, w, x, y, m, n, k);
    char what[160];
    snprintf(what, sizeof what, "bf16 vdpbf16ps = kiln_mm_bf16_dot_ref, m=%lld n=%lld k=%lld, %d thread(s), w exp <= %d",
             (long long)m, (long long)n, (long long)k, threads, max_exp);
    if (rc != KILN_OK) T_CHECK(0, "%s: status %d", what, rc);
    else if (rule_exact) t_identical(what, y, want, m * n);
    else close_enough(what, y, want, x, w, m, n, k, rs);
    /* the contract, on any CPU: each row alone (a GEMV) = its row in the batch */
    float *row = t_alloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < m && rc == KILN_OK; i++) {
        t_poison(row, n);
        snprintf(what, sizeof what, "bf16 row %lld alone = in the batch, m=%lld n=%lld k=%lld, %d thread(s)",
                 (long long)i, (long long)m, (long long)n, (long long)k, threads);
        if (kiln_matmul(KILN_TYPE_BF16, w, x + i * k, row, 1, n, k) != KILN_OK) T_CHECK(0, "%s: status", what);
        else if (!t_identical(what, row, y + i * n, n)) break;
    }
    free(row);
    free(w); free(x); free(y); free(want);
}

/* check_flushes: directed cases where only the flushes decide the result.
 * A CPU whose instruction differs from the modeled rule here is noted
 * (rule_exact = 0), not failed: only the contract binds every CPU. */
static void check_flushes(void) {
    static const struct {
        float x;
        uint16_t w;
        float want;
        const char *what;
    } cases[] = {
        {0x1.fffffcp-127f, 0x3f80, 0.0f, "subnormal x rounding up to 2^-126 is flushed to 0 first"},
        {1.0f, 0x0040, 0.0f, "subnormal w reads as 0"},
        {0x1p-60f, 0x1c80, 0.0f, "a subnormal result (2^-60 * 2^-70) is flushed"},
        {0x1p-60f, 0x1f80, 0x1p-124f, "a normal tiny result is kept (2^-60 * 2^-64)"},
    };
    /* a subnormal product (2^-70 * 2^-70) added to a normal sum (2^-126,
     * from the pair's odd element, which goes first): kept, not flushed */
    {
        const float x[2] = {0x1p-70f, 0x1p-63f};
        const uint16_t w[2] = {0x1c80, 0x2000}; /* 2^-70, 2^-63 */
        float y = NAN, want = NAN;
        kiln_mm p = {.wtype = KILN_TYPE_BF16, .w = w, .wstride = sizeof w, .x = x, .y = &want, .m = 1, .n = 1, .k = 2};
        kiln_mm_bf16_dot_ref(&p, 0, 1, NULL);
        const int rc = kiln_matmul(KILN_TYPE_BF16, w, x, &y, 1, 1, 2);
        T_CHECK(rc == KILN_OK && kiln_f32_bits(want) == kiln_f32_bits(0x1p-126f + 0x1p-140f),
                "reference keeps a subnormal product: %a", want);
        if (rc == KILN_OK && kiln_f32_bits(y) != kiln_f32_bits(want)) {
            printf("NOTE: this CPU's vdpbf16ps gives %a where the modeled rule gives %a (a subnormal product)\n", y, want);
            rule_exact = 0;
        }
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const float x[3] = {cases[i].x, 0, 0};
        const uint16_t w[3] = {cases[i].w, 0, 0};
        float y = NAN, want = NAN;
        kiln_mm p = {.wtype = KILN_TYPE_BF16, .w = w, .wstride = sizeof w, .x = x, .y = &want, .m = 1, .n = 1, .k = 3};
        kiln_mm_bf16_dot_ref(&p, 0, 1, NULL);
        const int rc = kiln_matmul(KILN_TYPE_BF16, w, x, &y, 1, 1, 3);
        T_CHECK(rc == KILN_OK && kiln_f32_bits(want) == kiln_f32_bits(cases[i].want), "%s: reference %a, want %a",
                cases[i].what, want, cases[i].want);
        if (rc == KILN_OK && kiln_f32_bits(y) != kiln_f32_bits(cases[i].want)) {
            printf("NOTE: this CPU's vdpbf16ps gives %a where the modeled rule gives %a (%s)\n", y, cases[i].want,
                   cases[i].what);
            rule_exact = 0;
        }
    }
}

int main(void) {
    t_seed("matmul_bf16");
    kiln_init(0);
    if (!kiln_isa_supported(KILN_ISA_AVX512) || !(kiln_cpu_features() & KILN_CPU_AVX512BF16)) {
        printf("SKIP: no AVX512_BF16 on this CPU\n");
        return t_done();
    }
    kiln_set_isa(KILN_ISA_AVX512);
    T_CHECK(variant_is("gemv bf16", "avx512-bf16") && variant_is("gemm bf16", "avx512-bf16"),
            "the avx512 table runs BF16 weights on vdpbf16ps");
    check_flushes();
    if (!rule_exact) printf("NOTE: outputs are compared with the reference within a tolerance on this CPU\n");
    /* m: GEMV, GEMM tile edges (4-row tiles, 60-row m blocks); k: below one
     * step, odd tails, exactly one step, past a k block (2048) */
    static const int64_t shapes[][3] = {
        {1, 1, 1},   {1, 17, 31},  {1, 33, 32},   {1, 9, 33},   {2, 5, 65},   {3, 16, 100},
        {4, 4, 64},  {5, 7, 97},   {7, 19, 2081}, {1, 40, 2081}, {13, 37, 576}, {64, 9, 129},
        {130, 11, 45},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int threads = 1; threads <= 2; threads++)
            for (int e = 0; e < 2; e++) check_rule(shapes[s][0], shapes[s][1], shapes[s][2], threads, e ? 12 : 167);
    kiln_init(0);
    return t_done();
}
