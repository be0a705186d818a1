/* moe.h — kernels kiln_moe_ffn (moe.c) picks for its experts beside the
 * kernel table's rows. */
#ifndef KILN_MOE_H
#define KILN_MOE_H

#include "matmul.h"

#if KILN_X86
/* kiln_moe_gemv_q6_K_avx512 (arch/x86/moe_q6k_avx512.c): y[0:m, n0:n1] of
 * Q6_K weights against Q8_K X (p->xk), 16 W rows per step, for any m (the
 * rows three at a time); bit-identical to the Q6_K dot and GEMM. Needs
 * AVX-512 VNNI. */
void kiln_moe_gemv_q6_K_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
#endif

#endif /* KILN_MOE_H */
