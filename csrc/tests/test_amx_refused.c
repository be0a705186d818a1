/* test_amx_refused.c — the fallback when Linux refuses the tile state,
 * simulated with KILN_AMX_DENY=1 (set before the library asks): the amx
 * variant is unsupported and says why, KILN_ISA=amx is an error, the
 * default is the best other variant, and Q8_0 matmuls still run there. */
#include "test_util.h"

int main(void) {
    t_seed("test_amx_refused");
    setenv("KILN_AMX_DENY", "1", 1);
    setenv("KILN_ISA", "amx", 1);
    T_CHECK(kiln_init(2) == KILN_ERR_ISA, "KILN_ISA=amx is refused when the OS refuses the tiles");
    unsetenv("KILN_ISA");
    T_CHECK(kiln_init(2) == KILN_OK, "init without KILN_ISA");
    T_CHECK(!kiln_isa_supported(KILN_ISA_AMX), "amx unsupported after a refusal");
    const char *why = kiln_isa_unsupported_reason(KILN_ISA_AMX);
    const uint32_t f = kiln_cpu_features();
    if ((f & KILN_CPU_AMX_TILE) && (f & KILN_CPU_AMX_INT8) && kiln_isa_supported(KILN_ISA_AVX512) &&
        (f & KILN_CPU_AVX512VNNI))
        T_CHECK(why && strstr(why, "amx: not permitted by the OS"), "the refusal is named: %s", why ? why : "(none)");
    else
        T_CHECK(why != NULL, "a reason is given: %s", why ? why : "(none)");
    T_CHECK(kiln_set_isa(KILN_ISA_AMX) == KILN_ERR_ISA, "kiln_set_isa(amx) refused");
    T_CHECK(kiln_get_isa() != KILN_ISA_AMX, "default variant: %s", kiln_isa_name(kiln_get_isa()));
    /* a prefill-sized Q8_0 matmul on the fallback gives AVX2's bits (one Q8_0 rule, matmul.h) */
    enum { M = 20, N = 40, K = 96 };
    float *x = t_alloc(sizeof(float) * M * K), *w = t_alloc(sizeof(float) * N * K);
    float *y = t_alloc(sizeof(float) * M * N), *ref = t_alloc(sizeof(float) * M * N);
    block_q8_0 *wq = t_alloc(sizeof(block_q8_0) * N * K / 32);
    t_fill(x, M * K, -1, 1);
    t_fill(w, N * K, -1, 1);
    kiln_quantize_q8_0(w, wq, N * K);
    const int def = kiln_get_isa();
    t_poison(y, M * N);
    T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, wq, x, y, M, N, K) == KILN_OK, "q8_0 matmul on %s", kiln_isa_name(def));
    if (def > KILN_ISA_AVX2) {
        kiln_set_isa(KILN_ISA_AVX2);
        t_poison(ref, M * N);
        kiln_matmul(KILN_TYPE_Q8_0, wq, x, ref, M, N, K);
        t_identical("fallback q8_0 GEMM = avx2's bits", y, ref, M * N);
    }
    free(x), free(w), free(y), free(ref), free(wq);
    return t_done();
}
