/* test_matmul_bf16.c — the AVX512_BF16 variant of BF16 weights (VDPBF16PS)
 * gives exactly the bits of its scalar definition, kiln_mm_bf16_dot_ref, on
 * odd sizes, subnormal and huge values and poisoned outputs, for GEMV and
 * GEMM shapes (so decode ≡ prefill holds by the rule), and is the variant
 * the table picks where the CPU has AVX512_BF16. Skipped elsewhere. */
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
    else t_identical(what, y, want, m * n);
    free(w); free(x); free(y); free(want);
}

/* check_flushes: directed cases where only the flushes decide the result. */
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
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const float x[3] = {cases[i].x, 0, 0};
        const uint16_t w[3] = {cases[i].w, 0, 0};
        float y = NAN, want = NAN;
        kiln_mm p = {.wtype = KILN_TYPE_BF16, .w = w, .wstride = sizeof w, .x = x, .y = &want, .m = 1, .n = 1, .k = 3};
        kiln_mm_bf16_dot_ref(&p, 0, 1, NULL);
        const int rc = kiln_matmul(KILN_TYPE_BF16, w, x, &y, 1, 1, 3);
        T_CHECK(rc == KILN_OK && kiln_f32_bits(y) == kiln_f32_bits(cases[i].want) &&
                    kiln_f32_bits(want) == kiln_f32_bits(cases[i].want),
                "%s: vdpbf16ps %a, reference %a, want %a", cases[i].what, y, want, cases[i].want);
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
