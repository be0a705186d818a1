/* quant_avx512.c — the rows of the AVX-512 kernel table for every
 * quantized type. The kernels live beside it: the decode GEMVs (16 W rows
 * per step, every type) in quant_gemv_*_avx512.c, the prefill GEMMs in
 * quant_gemm_*_avx512.c, the dequantizers in quant_dequant_avx512.c. Each
 * GEMV measured faster than the dot it replaced (8192x2048, m = 1,
 * 1 thread, in cache: Q6_K 1.5x, IQ4_XS 2.6x, Q3_K 2.6x, Q2_K 6x), and
 * dispatch never picks a slower variant. Every kernel gives the scalar
 * reference's bits (quant.h).
 * Without AVX512_VNNI the AVX-512 table keeps the AVX2 rows. */
#include "../../kernels.h"
#include "quant_avx2.h"

#if KILN_X86

/* GEMM_MIN_M: the outer-product GEMM from this many X rows on (below it the
 * dot kernels; a panel's unpacking costs about what four rows of dots do). */
#define GEMM_MIN_M KILN_MM_Q8G_MIN_M

#define QMM_ROW(TYPE, ty, gemv_fn, gemv_name)                                               \
    do {                                                                                    \
        kiln_type_kernels *r_ = &t->types[TYPE];                                            \
        r_->gemv = gemv_fn;                                                                 \
        r_->gemm = kiln_mm_gemm_##ty##_avx512;                                              \
        r_->gemm_min_m = GEMM_MIN_M;                                                        \
        r_->gemv_variant = gemv_name;                                                       \
        r_->gemm_variant = "avx512-vnni int8 16-column outer product (vpdpbusd)";           \
    } while (0)

/* The 32-element types share the Q8_0 GEMM's X layout (and its tile height
 * and threshold, so one multi-output call lays X out once for all of them). */
#define QMM_ROW_Q8X(TYPE, ty)                                                                            \
    do {                                                                                                 \
        QMM_ROW(TYPE, ty, kiln_mm_gemv_##ty##_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)"); \
        t->types[TYPE].gemm_layout = kiln_mm_q8v_layout_avx512;                                          \
        t->types[TYPE].gemm_mr = KILN_MM_Q8V_MR;                                                         \
    } while (0)
_Static_assert(GEMM_MIN_M == KILN_MM_Q8G_MIN_M, "Q8_0-form rows sharing X's GEMM layout share its threshold");

void kiln_quant_rows_avx512(kiln_kernels *t, uint32_t features) {
    if (!(features & KILN_CPU_AVX512VNNI)) return; /* the AVX2 rows stay */
    QMM_ROW_Q8X(KILN_TYPE_Q4_0, q4_0);
    QMM_ROW_Q8X(KILN_TYPE_Q4_1, q4_1);
    QMM_ROW_Q8X(KILN_TYPE_Q5_0, q5_0);
    QMM_ROW_Q8X(KILN_TYPE_Q5_1, q5_1);
    QMM_ROW_Q8X(KILN_TYPE_IQ4_NL, iq4_nl);
    QMM_ROW(KILN_TYPE_Q4_K, q4_K, kiln_mm_gemv_q4_K_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_Q5_K, q5_K, kiln_mm_gemv_q5_K_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_Q6_K, q6_K, kiln_mm_gemv_q6_K_avx512, "avx512-vnni 16-row dot (vpmaddubsw + vpdpwssd, exact int32 sums)");
#define DQ_ROW(TYPE, ty)                                              \
    do {                                                              \
        t->types[TYPE].to_float = kiln_dequantize_##ty##_avx512;      \
        t->types[TYPE].to_float_variant = "avx512";                   \
    } while (0)
    DQ_ROW(KILN_TYPE_Q4_0, q4_0);
    DQ_ROW(KILN_TYPE_Q4_1, q4_1);
    DQ_ROW(KILN_TYPE_Q5_0, q5_0);
    DQ_ROW(KILN_TYPE_Q5_1, q5_1);
    DQ_ROW(KILN_TYPE_IQ4_NL, iq4_nl);
    DQ_ROW(KILN_TYPE_Q2_K, q2_K);
    DQ_ROW(KILN_TYPE_Q3_K, q3_K);
    DQ_ROW(KILN_TYPE_Q4_K, q4_K);
    DQ_ROW(KILN_TYPE_Q5_K, q5_K);
    DQ_ROW(KILN_TYPE_Q6_K, q6_K);
    DQ_ROW(KILN_TYPE_IQ4_XS, iq4_xs);
    QMM_ROW(KILN_TYPE_Q2_K, q2_K, kiln_mm_gemv_q2_K_avx512, "avx512-vnni 16-row dot (vpmaddubsw + vpdpwssd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_Q3_K, q3_K, kiln_mm_gemv_q3_K_avx512, "avx512-vnni 16-row dot (vpmaddubsw + vpdpwssd, exact int32 sums)");
    QMM_ROW(KILN_TYPE_IQ4_XS, iq4_xs, kiln_mm_gemv_iq4_xs_avx512, "avx512-vnni 16-row dot (vpdpbusd, exact int32 sums)");
}

#else
typedef int kiln_quant_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
