/* test_moe.c — the 16-row Q6_K GEMV kiln_moe_ffn gives its Q6_K experts
 * (arch/x86/moe_q6k_avx512.c) against the scalar reference dot, bit for
 * bit: random quant bytes and scales of either sign, all-zero blocks, the
 * largest and the smallest subnormal f16 scale; 1 to 7 X rows (the GEMV
 * takes three at a time), output ranges that start and end inside a
 * 16-row group, block counts that wrap the eight accumulation lanes;
 * untouched outputs outside the range stay poisoned. (kiln_moe_ffn itself
 * is checked against the per-expert kernel calls by native's Go tests.) */
#include "test_util.h"

#include "moe.h"
#include "quant.h"

#include <stddef.h>

static void put_f16(uint8_t *p, float f) {
    const uint16_t h = kiln_fp32_to_fp16(f);
    memcpy(p, &h, 2);
}

/* fill_q6_K writes nblk random Q6_K blocks (d at byte 208), extremes included. */
static void fill_q6_K(uint8_t *w, int64_t nblk) {
    for (int64_t b = 0; b < nblk; b++) {
        uint8_t *blk = w + b * (int64_t)sizeof(block_q6_K);
        for (size_t i = 0; i < sizeof(block_q6_K); i++) blk[i] = (uint8_t)t_next();
        put_f16(blk + 208, t_uniform(-0.02f, 0.02f));
        if (b % 7 == 3) memset(blk, 0, sizeof(block_q6_K));
        else if (b % 5 == 1) put_f16(blk + 208, b % 2 ? 65504.0f : 0x1p-24f);
    }
}

/* same_or_both_nan compares bits, NaNs of any payload alike. */
static int same_or_both_nan(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_gemv(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1) {
    const int64_t nbk = k / KILN_QK_K;
    const size_t ws = kiln_row_size(KILN_TYPE_Q6_K, k);
    uint8_t *w = t_alloc((size_t)n * ws);
    fill_q6_K(w, n * nbk);
    float *x = t_alloc((size_t)(m * k) * sizeof(float));
    t_fill(x, m * k, -3, 3);
    if (m > 1) memset(x + k, 0, (size_t)k * sizeof(float)); /* an all-zero X row */
    block_q8_K *xk = t_alloc((size_t)(m * nbk) * sizeof(block_q8_K));
    kiln_mm_quantize_rows_q8_K(x, xk, k, 0, m);
    float *got = t_alloc((size_t)(m * n) * sizeof(float)), *want = t_alloc((size_t)(m * n) * sizeof(float));
    t_poison(got, m * n);
    t_poison(want, m * n);
    kiln_mm p = {.wtype = KILN_TYPE_Q6_K, .w = w, .wstride = ws, .xk = xk, .kpad = k, .y = got, .m = m, .n = n, .k = k};
    kiln_moe_gemv_q6_K_avx512(&p, n0, n1, NULL);
    p.y = want;
    kiln_mm_qdot(&p, n0, n1, kiln_dot_q6_K_ref, NULL);
    int64_t bad = -1;
    for (int64_t i = 0; i < m * n && bad < 0; i++) {
        const int64_t j = i % n;
        const int in = j >= n0 && j < n1;
        if (in ? !same_or_both_nan(got[i], want[i]) : !isnan(got[i])) bad = i;
    }
    T_CHECK(bad < 0, "q6_K GEMV m=%lld n=%lld k=%lld [%lld, %lld): [%lld] got %.9g want %.9g", (long long)m, (long long)n,
            (long long)k, (long long)n0, (long long)n1, (long long)bad, bad < 0 ? 0 : got[bad], bad < 0 ? 0 : want[bad]);
    free(w);
    free(x);
    free(xk);
    free(got);
    free(want);
}

int main(void) {
    t_seed("moe");
    kiln_init(0);
#if KILN_X86
    if (!(kiln_cpu_features() & KILN_CPU_AVX512VNNI)) {
        printf("moe: no AVX-512 VNNI, the Q6_K GEMV is never picked: skipped\n");
        return t_done();
    }
    const int64_t ks[] = {256, 768, 2304};
    for (int i = 0; i < 3; i++)
        for (int64_t m = 1; m <= 7; m++) {
            check_gemv(m, 37, ks[i], 0, 37);
            check_gemv(m, 48, ks[i], 5, 29);
        }
    check_gemv(1, 2048, 768, 0, 2048); /* qwen3-30b-a3b's ffn_down_exps, one expert */
#endif
    return t_done();
}
