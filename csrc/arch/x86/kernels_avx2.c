/* kernels_avx2.c — the AVX2+FMA+F16C table: the scalar table with every
 * kernel that has an AVX2 variant overridden. */
#include "../../kernels.h"

#if KILN_X86

static void f16_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx2.f16_to_f32(x, y, n); }
static void bf16_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx2.bf16_to_f32(x, y, n); }
static void q8_0_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx2.q8_0_to_f32(x, y, n / KILN_QK8_0); }

/* float_row: the blocked driver with 3x4 / 1x8 fma tiles (matmul_avx2.c). */
static void float_row(kiln_type_kernels *r, kiln_to_float_fn to_float) {
    if (to_float) {
        r->to_float = to_float;
        r->to_float_variant = "avx2";
    }
    r->gemv = r->gemm = kiln_mm_float_avx2;
    r->gemm_min_m = 1;
    r->gemm_layout = NULL;
    r->gemv_variant = "avx2 1x8 fma tiles";
    r->gemm_variant = "avx2 3x4 fma tiles";
}

void kiln_kernels_fill_avx2(kiln_kernels *t) {
    t->isa = "avx2";
    float_row(&t->types[KILN_TYPE_F32], NULL); /* a copy: the scalar memmove */
    float_row(&t->types[KILN_TYPE_F16], f16_to_float);
    float_row(&t->types[KILN_TYPE_BF16], bf16_to_float);
    t->types[KILN_TYPE_Q8_0] = (kiln_type_kernels){
        .to_float = q8_0_to_float, .x_form = KILN_X_Q8_0,
        .gemv = kiln_mm_q8_gemv_avx2, .gemm = kiln_mm_q8_gemm_avx2, .gemm_min_m = KILN_MM_Q8G_MIN_M,
        .gemm_layout = kiln_mm_q8_layout_avx2, .gemm_mr = KILN_MM_Q8G_MR,
        .to_float_variant = "avx2",
        .gemv_variant = "avx2 8-row dot (maddubs)",
        .gemm_variant = "avx2 int16 6x16 outer product (madd)",
    };
    kiln_quant_rows_avx2(t);
    kiln_quant_legacy_rows_avx2(t);
    t->quantize_q8_0 = kiln_mm_quantize_rows_avx2;
    t->ops = kiln_ops_avx2;
    t->attn_item = kiln_attn_item_avx2;
    t->kv_to_f16 = kiln_attn_f32_to_f16_avx2;
    t->quantize_variant = t->ops_variant = t->attn_variant = t->kv_variant = "avx2";
}

#else
typedef int kiln_kernels_avx2_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
