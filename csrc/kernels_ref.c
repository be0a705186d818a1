/* kernels_ref.c — the scalar table: the portable reference of every kernel,
 * and the table every wider ISA's starts from. */
#include "kernels.h"

/* f32_to_float "dequantizes" F32: a copy (nothing when y == x). */
static void f32_to_float(const void *x, float *y, int64_t n) {
    if ((const void *)y != x) memmove(y, x, (size_t)n * sizeof(float));
}
static void f16_to_float(const void *x, float *y, int64_t n) { kiln_ops_scalar.f16_to_f32(x, y, n); }
static void bf16_to_float(const void *x, float *y, int64_t n) { kiln_ops_scalar.bf16_to_f32(x, y, n); }
static void q8_0_to_float(const void *x, float *y, int64_t n) { kiln_ops_scalar.q8_0_to_f32(x, y, n / KILN_QK8_0); }

/* float_row is a float weight type's reference row. */
static kiln_type_kernels float_row(kiln_to_float_fn to_float) {
    return (kiln_type_kernels){
        .to_float = to_float, .x_form = KILN_X_F32,
        .gemv = kiln_mm_float_ref, .gemm = kiln_mm_float_ref, .gemm_min_m = 1,
        .to_float_variant = "scalar", .gemv_variant = "scalar", .gemm_variant = "scalar",
    };
}

void kiln_kernels_fill_scalar(kiln_kernels *t) {
    memset(t, 0, sizeof *t);
    t->isa = "scalar";
    t->types[KILN_TYPE_F32] = float_row(f32_to_float);
    t->types[KILN_TYPE_F32].to_float_variant = "copy";
    t->types[KILN_TYPE_F16] = float_row(f16_to_float);
    t->types[KILN_TYPE_BF16] = float_row(bf16_to_float);
    t->types[KILN_TYPE_Q8_0] = (kiln_type_kernels){
        .to_float = q8_0_to_float, .x_form = KILN_X_Q8_0,
        .gemv = kiln_mm_q8_0_ref, .gemm = kiln_mm_q8_0_ref, .gemm_min_m = 1,
        .to_float_variant = "scalar", .gemv_variant = "scalar", .gemm_variant = "scalar",
    };
    kiln_quant_rows_scalar(t);
    t->quantize_q8_0 = kiln_mm_quantize_rows_ref;
    t->ops = kiln_ops_scalar;
    t->attn_item = kiln_attn_item_ref;
    t->kv_to_f16 = kiln_attn_f32_to_f16_ref;
    t->quantize_variant = t->ops_variant = t->attn_variant = t->kv_variant = "scalar";
}
