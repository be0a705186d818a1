/* kernels_avx512.c — the AVX-512 (F/BW/VL/DQ) table: the AVX2 table with
 * every kernel that has a faster AVX-512 variant overridden; VNNI variants
 * where the CPU has AVX512_VNNI. Entries not overridden keep AVX2's (the
 * quantizer, the KV-store converter). */
#include "../../kernels.h"

#if KILN_X86

static void f16_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx512.f16_to_f32(x, y, n); }
static void bf16_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx512.bf16_to_f32(x, y, n); }
static void q8_0_to_float(const void *x, float *y, int64_t n) { kiln_ops_avx512.q8_0_to_f32(x, y, n / KILN_QK8_0); }

/* float_row: the blocked driver with 4x4 / 1x8 16-lane fma tiles (matmul_avx512.c). */
static void float_row(kiln_type_kernels *r, kiln_to_float_fn to_float) {
    if (to_float) {
        r->to_float = to_float;
        r->to_float_variant = "avx512";
    }
    r->gemv = r->gemm = kiln_mm_float_avx512;
    r->gemm_min_m = 1;
    r->gemm_layout = NULL;
    r->gemv_variant = "avx512 1x8 fma tiles";
    r->gemm_variant = "avx512 4x4 fma tiles";
}

void kiln_kernels_fill_avx512(kiln_kernels *t, uint32_t features) {
    const int vnni = (features & KILN_CPU_AVX512VNNI) != 0;
    t->isa = "avx512";
    float_row(&t->types[KILN_TYPE_F32], NULL);
    float_row(&t->types[KILN_TYPE_F16], f16_to_float);
    float_row(&t->types[KILN_TYPE_BF16], bf16_to_float);
    if (features & KILN_CPU_AVX512BF16) { /* twice the products per instruction, W used as stored */
        kiln_type_kernels *bf = &t->types[KILN_TYPE_BF16];
        bf->gemv = bf->gemm = kiln_mm_bf16_avx512bf16;
        bf->gemv_variant = "avx512-bf16 1x8 vdpbf16ps tiles";
        bf->gemm_variant = "avx512-bf16 4x4 vdpbf16ps tiles";
    }
    /* Q8_0 keeps the AVX2 arithmetic rule (one f32 accumulator per output,
     * one fma per block), so GEMV and GEMM give the same bits here as on AVX2. */
    kiln_type_kernels *q8 = &t->types[KILN_TYPE_Q8_0];
    q8->to_float = q8_0_to_float;
    q8->to_float_variant = "avx512";
    if (vnni) {
        q8->gemv = kiln_mm_q8_gemv_avx512_vnni;
        q8->gemv_variant = "avx512-vnni 16-row dot (vpdpbusd)";
        q8->gemm = kiln_mm_q8v_gemm_avx512;
        q8->gemm_layout = kiln_mm_q8v_layout_avx512;
        q8->gemm_mr = KILN_MM_Q8V_MR;
        q8->gemm_variant = "avx512-vnni int8 6x32 outer product (vpdpbusd)";
    }
    kiln_quant_rows_avx512(t, features);
    t->ops = kiln_ops_avx512;
    t->attn_item = kiln_attn_item_avx512;
    t->ops_variant = t->attn_variant = "avx512";
}

#else
typedef int kiln_kernels_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
