/* kernels.h — the kernel table: one per ISA, filled once by kiln_init, the
 * only way any entry point reaches a kernel.
 *
 * Like ggml's type_traits_cpu, the matmul half is indexed by weight type
 * (GGUF's type id): a row holds the type's dequantizer, its GEMV and GEMM
 * loop nests (each computes y[0:m, n0:n1] of one kiln_mm problem), the
 * activation form those read, and the X layout its GEMM wants. Adding a
 * weight type is adding a row to each table; an empty row (gemv == NULL)
 * is an unsupported type (KILN_ERR_TYPE). The element-wise ops, the
 * attention item kernel and the KV-store converter of the same ISA sit
 * beside the rows, so ops, matmul and attention dispatch alike.
 *
 * A table starts as a copy of the narrower ISA's and overrides only what
 * it does better: an entry that has no faster variant on this ISA keeps the
 * narrower one (dispatch never picks a slower variant). Every entry names
 * its variant, so `kiln version` can say what each kernel uses. */
#ifndef KILN_KERNELS_H
#define KILN_KERNELS_H

#include "attention.h"
#include "matmul.h"
#include "ops.h"

/* One more than the largest type id a table can hold a row for (GGUF's and
 * the repacked types from 40 on). */
#define KILN_TYPE_SLOTS 56

/* kiln_type_traits are the ISA-independent facts of a weight type. */
typedef struct {
    const char *name;     /* "f32", "q8_0", ... (NULL: unknown type) */
    int64_t block;        /* elements per block (1 for float types) */
    size_t block_bytes;   /* bytes per block */
    const char *kernel_names[3]; /* its kernels as kiln_kernel_name names them: dequantize, gemv, gemm */
} kiln_type_traits;

/* kiln_type_traits_of returns the traits of a GGUF type id, or NULL. */
const kiln_type_traits *kiln_type_traits_of(int type);

/* y[n] = float(x[n]) for n elements of the row's type (n % block == 0). */
typedef void (*kiln_to_float_fn)(const void *x, float *y, int64_t n);

/* Activation forms a matmul row can read. */
enum {
    KILN_X_F32 = 0, /* kiln_mm.x as given */
    KILN_X_Q8_0 = 1, /* kiln_mm.xq / xd: X quantized to Q8_0 by the table's quantize_q8_0 */
    KILN_X_Q8_K = 2  /* kiln_mm.xk: X quantized to Q8_K (kiln_mm_quantize_rows_q8_K) */
};

/* kiln_type_kernels is one weight type's row. */
typedef struct {
    kiln_to_float_fn to_float;
    int x_form;              /* KILN_X_F32 or KILN_X_Q8_0 */
    kiln_mm_kernel gemv;     /* m < gemm_min_m (NULL: the type is unsupported) */
    kiln_mm_kernel gemm;     /* m >= gemm_min_m */
    int gemm_min_m;
    /* Non-NULL: gemm reads p->xp / p->xdp, which gemm_layout(p, r0, r1)
     * fills from p->xq / p->xd for rows [r0, r1) (r0 a multiple of gemm_mr;
     * r1 too, or m). */
    void (*gemm_layout)(const kiln_mm *p, int64_t r0, int64_t r1);
    int gemm_mr;
    /* Repacked types only: this ISA's unpack of one group to source rows
     * for the GEMM path (repack.h; NULL: the format's portable unpack). */
    void (*r16_unpack)(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
    const char *to_float_variant, *gemv_variant, *gemm_variant;
} kiln_type_kernels;

/* Quantize rows of X to Q8_0 (see matmul.h; every variant gives the same bits). */
typedef void (*kiln_q8_rows_fn)(const float *x, int8_t *xq, float *xd, int64_t k, int64_t kpad,
                                int64_t r0, int64_t r1);

typedef void (*kiln_attn_item_fn)(const kiln_attn_params *p, const kiln_attn_item *it, float *scratch);

/* kiln_kernels is one ISA's table. */
typedef struct {
    const char *isa;
    kiln_type_kernels types[KILN_TYPE_SLOTS];
    kiln_q8_rows_fn quantize_q8_0;
    kiln_ops_kernels ops;
    kiln_attn_item_fn attn_item;
    void (*kv_to_f16)(const float *x, uint16_t *y, int64_t n);
    const char *quantize_variant, *ops_variant, *attn_variant, *kv_variant;
} kiln_kernels;

/* kiln_kernels_active is the table of the ISA in use (kiln_active_isa()). */
const kiln_kernels *kiln_kernels_active(void);

/* kiln_kernels_row returns the row of `type` in t, or NULL if t has none. */
KILN_INLINE const kiln_type_kernels *kiln_kernels_row(const kiln_kernels *t, int type) {
    if (type < 0 || type >= KILN_TYPE_SLOTS || !t->types[type].gemv) return NULL;
    return &t->types[type];
}


/* kiln_kernels_init fills every table this CPU can run (once; kiln_init calls it). */
void kiln_kernels_init(uint32_t features);

/* Per-ISA fillers: each starts from the table it is given (the narrower
 * ISA's, already filled) and overrides its own entries. */
void kiln_kernels_fill_scalar(kiln_kernels *t);
#if KILN_X86
void kiln_kernels_fill_avx2(kiln_kernels *t);
void kiln_kernels_fill_avx512(kiln_kernels *t, uint32_t features);
/* kiln_kernels_fill_amx overrides the AVX-512 table's entries that AMX
 * tiles run faster (arch/x86/kernels_amx.c). Filled on every x86 CPU;
 * reachable only when kiln_isa_supported(KILN_ISA_AMX). */
void kiln_kernels_fill_amx(kiln_kernels *t, uint32_t features);
/* kiln_quant_rows_k_amx gives the K-quant rows of the AMX table their
 * AMX-INT8 GEMMs where those measured faster (arch/x86/quant_gemm_k_amx.c). */
void kiln_quant_rows_k_amx(kiln_kernels *t);
#endif

/* The rows of the quantized types (quant_mm.c, arch/x86/quant_*.c): each
 * ISA's filler adds them to its table. */
void kiln_quant_rows_scalar(kiln_kernels *t);
#if KILN_X86
void kiln_quant_rows_avx2(kiln_kernels *t);
void kiln_quant_legacy_rows_avx2(kiln_kernels *t); /* the 32-element types' GEMV and GEMM (after kiln_quant_rows_avx2) */
/* kiln_quant_rows_k_mm_avx2 gives the K-quant rows their AVX2 GEMMs
 * (quant_gemm_k_avx2.c) and, where the dot is slower, GEMVs (quant_gemv_k_avx2.c). */
void kiln_quant_rows_k_mm_avx2(kiln_kernels *t);
void kiln_quant_rows_avx512(kiln_kernels *t, uint32_t features);
#endif

#endif /* KILN_KERNELS_H */
