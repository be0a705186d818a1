/* test_matmul_q8rule.c — the Q8_0 per-output rule of the SIMD variants
 * (matmul.h), written out in scalar code here, against every SIMD variant
 * bit for bit: GEMV (m < KILN_MM_Q8G_MIN_M) and GEMM, at the GEMM's edges
 * (32- and 16-column panels and their tails, 12-row layout tiles and their
 * tails, several k blocks, more rows than one m block), 1 and 2 threads,
 * poisoned outputs. The scalar reference kernel (kiln_mm_q8_0_ref) rounds
 * the block product and the sum apart, so it is compared within bounds by
 * test_matmul; this file pins the SIMD rule itself:
 *     acc = +0; for blocks b in order: acc = fma(dx_b * dw_b, float(int32 dot_b), acc)
 * with X quantized as kiln_quantize_q8_0 does (llama.cpp's rule). */
#include "test_util.h"

#include "matmul.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* rule_q8 is the SIMD variants' per-output arithmetic in scalar code. */
static void rule_q8(const block_q8_0 *w, const float *x, float *y, int64_t m, int64_t n, int64_t k) {
    const int64_t nb = k / 32;
    block_q8_0 *xq = t_alloc(sizeof(block_q8_0) * (size_t)nb);
    for (int64_t i = 0; i < m; i++) {
        kiln_quantize_q8_0(x + i * k, xq, k);
        for (int64_t j = 0; j < n; j++) {
            const block_q8_0 *wr = w + j * nb;
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int32_t s = 0;
                for (int c = 0; c < 32; c++) s += (int32_t)xq[b].qs[c] * wr[b].qs[c];
                const float scale = kiln_fp16_to_fp32(xq[b].d) * kiln_fp16_to_fp32(wr[b].d);
                acc = fmaf(scale, (float)s, acc);
            }
            y[i * n + j] = acc;
        }
    }
    free(xq);
}

/* make_q8 fills n rows of k/32 blocks: any quant (-128 included), scales of
 * either sign from subnormal to large, a zero scale now and then. */
static block_q8_0 *make_q8(int64_t n, int64_t k) {
    block_q8_0 *w = t_alloc(sizeof(block_q8_0) * (size_t)(n * (k / 32)));
    for (int64_t i = 0; i < n * (k / 32); i++) {
        const int pick = t_int(0, 15);
        const float d = pick == 0 ? 0.0f : pick == 1 ? t_uniform(-1e-6f, 1e-6f) : pick == 2 ? t_uniform(-8, 8)
                                                                                              : t_uniform(-0.05f, 0.05f);
        w[i].d = kiln_fp32_to_fp16(d);
        for (int c = 0; c < 32; c++) w[i].qs[c] = (int8_t)t_int(-128, 127);
    }
    return w;
}

static void check(int isa, int threads, int64_t m, int64_t n, int64_t k) {
    block_q8_0 *w = make_q8(n, k);
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    float *want = t_alloc(sizeof(float) * (size_t)(m * n)), *got = t_alloc(sizeof(float) * (size_t)(m * n));
    t_fill(x, m * k, -1, 1);
    for (int64_t i = 0; i < m; i++) /* rows of very different magnitudes share tiles */
        if (t_int(0, 4) == 0)
            for (int64_t c = 0; c < k; c++) x[i * k + c] *= 1e4f;
    rule_q8(w, x, want, m, n, k);
    kiln_init(threads);
    kiln_set_isa(isa);
    t_poison(got, m * n);
    const int rc = kiln_matmul(KILN_TYPE_Q8_0, w, x, got, m, n, k);
    char what[160];
    snprintf(what, sizeof what, "q8_0 %s, %d thread(s), m=%lld n=%lld k=%lld = the rule in scalar code (status %d)",
             kiln_isa_name(isa), threads, (long long)m, (long long)n, (long long)k, rc);
    t_identical(what, got, want, m * n);
    free(w); free(x); free(want); free(got);
}

int main(void) {
    t_seed("matmul_q8rule");
    kiln_init(0);
    int isas[KILN_ISA_COUNT];
    const int n_isas = t_simd_isas(isas);
    static const int64_t shapes[][3] = {
        /* m, n, k */
        {1, 40, 64}, {2, 33, 96}, {3, 17, 1056},            /* GEMV */
        {4, 16, 32}, {12, 32, 512}, {13, 48, 544},          /* one panel, one tile; one k block, its tail */
        {24, 40, 1056}, {29, 47, 576}, {128, 96, 2048},     /* 32-column panels + a 16-column tail; 3 and 4 k blocks */
        {530, 40, 1056},                                    /* past one m block of 516 rows */
        {37, 1, 160}, {37, 15, 160}, {37, 31, 160},         /* a lone narrow panel; tails of 15, 31 columns */
        /* AMX (from KILN_MM_Q8_AMX_MIN_M = 64 rows): 32-row steps and their tails
         * (16, 17, 31, 1 and 15 rows), past its 32-block k blocks and its 512-row m block */
        {80, 33, 1088}, {81, 16, 64}, {95, 40, 96}, {97, 17, 2080}, {111, 64, 128}, {600, 33, 1056},
    };
    for (int v = 0; v < n_isas; v++)
        for (int s = 0; s < COUNT(shapes); s++)
            for (int threads = 1; threads <= 2; threads++)
                check(isas[v], threads, shapes[s][0], shapes[s][1], shapes[s][2]);
    kiln_init(0);
    return t_done();
}
