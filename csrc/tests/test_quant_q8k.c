/* test_quant_q8k.c — the AVX-512 Q8_K quantizer of activations
 * (quant_q8k_avx512.c) writes kiln_quantize_row_q8_K_ref's bytes: random
 * rows of several scales, an all-zero block, magnitude ties of both signs
 * (the first one sets the sign), values that round to ±127 and ties at .5,
 * NaN and infinities; the output is poisoned before every run. Skipped
 * (and said so) where the CPU has no AVX-512. */
#include "test_util.h"

#include "quant.h"

enum { NB = 6, K = NB * KILN_QK_K };

/* check quantizes x both ways and compares every byte. */
static void check(const float *x, const char *what) {
    block_q8_K want[NB], got[NB];
    memset(want, 0x5a, sizeof want);
    memset(got, 0xa5, sizeof got);
    kiln_quantize_row_q8_K_ref(x, want, K);
    kiln_quantize_row_q8_K_avx512(x, got, K);
    for (int b = 0; b < NB; b++)
        T_CHECK(!memcmp(&want[b], &got[b], sizeof want[b]), "%s: block %d differs (d %g vs %g, q0 %d vs %d)", what, b,
                (double)want[b].d, (double)got[b].d, want[b].qs[0], got[b].qs[0]);
}

int main(void) {
    t_seed("quant_q8k");
    kiln_init(0);
    if (!kiln_isa_supported(KILN_ISA_AVX512)) {
        printf("skip: no AVX-512 on this CPU\n");
        return t_done();
    }
    static float x[K];
    for (int rep = 0; rep < 200; rep++) {
        const float scale = rep % 4 == 0 ? 1e-6f : rep % 4 == 1 ? 1.0f : rep % 4 == 2 ? 300.0f : 1e30f;
        for (int i = 0; i < K; i++) x[i] = t_uniform(-scale, scale);
        check(x, "random");
    }
    for (int i = 0; i < K; i++) x[i] = t_uniform(-1, 1);
    memset(x + KILN_QK_K, 0, KILN_QK_K * sizeof(float)); /* block 1 all zero */
    x[2 * KILN_QK_K + 7] = -2.0f, x[2 * KILN_QK_K + 200] = 2.0f; /* tie: the first (negative) wins */
    x[3 * KILN_QK_K + 9] = 2.0f, x[3 * KILN_QK_K + 100] = -2.0f; /* tie: the first (positive) wins */
    for (int j = 0; j < KILN_QK_K; j++) x[4 * KILN_QK_K + j] = (float)(j % 255 - 127) * (1.0f / 127); /* exact ±127 .. */
    x[4 * KILN_QK_K + 5] = 0.5f / 127, x[4 * KILN_QK_K + 6] = -1.5f / 127; /* .. and ties at .5 */
    check(x, "special blocks");
    x[5 * KILN_QK_K + 3] = __builtin_nanf("");
    check(x, "a NaN");
    x[5 * KILN_QK_K + 3] = __builtin_inff();
    check(x, "an infinity");
    x[5 * KILN_QK_K + 3] = -__builtin_inff();
    x[2 * KILN_QK_K + 3] = __builtin_nanf("");
    for (int j = 0; j < KILN_QK_K; j++) x[KILN_QK_K + j] = __builtin_nanf("");
    check(x, "all NaN, -inf");
    return t_done();
}
