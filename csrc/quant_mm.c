/* quant_mm.c — the GEMV/GEMM loop nest shared by the quantized weight types
 * (quant.h) and their rows of the scalar kernel table.
 *
 * One output is one dot of a W row with a quantized X row, so an output
 * never depends on m, the column range or the thread that computes it, and
 * decode (m = 1) and prefill (m > 1) give the same bits for the same row.
 * For m > 1, W is walked in panels of QMM_PANEL rows that stay in L1/L2
 * while every X row passes over them (four at a time through the type's
 * dot4, which unpacks each weight block once for the four): W, the
 * dominant traffic, is read from memory once per call. */
#include "kernels.h"
#include "quant.h"

/* W rows per panel: 16 rows of a 4096-long Q4_K row are 36 KB. */
#define QMM_PANEL 16

void kiln_mm_qdot(const kiln_mm *p, int64_t n0, int64_t n1, kiln_qdot_fn dot, kiln_qdot4_fn dot4) {
    const kiln_type_traits *tr = kiln_type_traits_of(p->wtype);
    const int64_t nb = p->k / tr->block;
    const int q8k = tr->block == KILN_QK_K;
    const int64_t xk_stride = p->k / KILN_QK_K; /* Q8_K blocks per X row */
    const int64_t xd_stride = p->kpad / KILN_QK8_0;
    const void *xq[4];
    const float *xd[4];
    for (int64_t j0 = n0; j0 < n1; j0 += QMM_PANEL) {
        const int64_t j1 = j0 + QMM_PANEL < n1 ? j0 + QMM_PANEL : n1;
        int64_t i = 0;
        for (; dot4 && i + 4 <= p->m; i += 4) {
            for (int r = 0; r < 4; r++) {
                xq[r] = q8k ? (const void *)((const block_q8_K *)p->xk + (i + r) * xk_stride)
                            : (const void *)(p->xq + (i + r) * p->kpad);
                xd[r] = q8k ? NULL : p->xd + (i + r) * xd_stride;
            }
            for (int64_t j = j0; j < j1; j++) {
                float out[4];
                dot4((const char *)p->w + (size_t)j * p->wstride, xq, xd, nb, out);
                for (int r = 0; r < 4; r++) p->y[(i + r) * p->n + j] = out[r];
            }
        }
        for (; i < p->m; i++) {
            const void *x1 = q8k ? (const void *)((const block_q8_K *)p->xk + i * xk_stride)
                                 : (const void *)(p->xq + i * p->kpad);
            const float *d1 = q8k ? NULL : p->xd + i * xd_stride;
            float *y = p->y + i * p->n;
            for (int64_t j = j0; j < j1; j++) y[j] = dot((const char *)p->w + (size_t)j * p->wstride, x1, d1, nb);
        }
    }
}

void kiln_mm_quantize_rows_q8_K(const float *x, void *xk, int64_t k, int64_t r0, int64_t r1) {
    const int64_t nb = k / KILN_QK_K;
#if KILN_X86
    if (kiln_active_isa() >= KILN_ISA_AVX512) { /* the same bytes, vectorised */
        for (int64_t i = r0; i < r1; i++) kiln_quantize_row_q8_K_avx512(x + i * k, (block_q8_K *)xk + i * nb, k);
        return;
    }
#endif
    for (int64_t i = r0; i < r1; i++) kiln_quantize_row_q8_K_ref(x + i * k, (block_q8_K *)xk + i * nb, k);
}

/* The scalar rows: reference dequantizer and dot for every type. */
#define QMM_KERNEL(ty)                                                                \
    static void mm_##ty##_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        (void)s;                                                                      \
        kiln_mm_qdot(p, n0, n1, kiln_dot_##ty##_ref, NULL);                           \
    }
QMM_KERNEL(q4_0)
QMM_KERNEL(q4_1)
QMM_KERNEL(q5_0)
QMM_KERNEL(q5_1)
QMM_KERNEL(iq4_nl)
QMM_KERNEL(q2_K)
QMM_KERNEL(q3_K)
QMM_KERNEL(q4_K)
QMM_KERNEL(q5_K)
QMM_KERNEL(q6_K)
QMM_KERNEL(iq4_xs)

#define QMM_ROW(TYPE, ty, form)                                                                     \
    t->types[TYPE] = (kiln_type_kernels){                                                           \
        .to_float = kiln_dequantize_##ty##_ref, .x_form = form, .gemv = mm_##ty##_ref,             \
        .gemm = mm_##ty##_ref, .gemm_min_m = 1, .to_float_variant = "scalar",                      \
        .gemv_variant = "scalar dot", .gemm_variant = "scalar dot, W panels",                      \
    }

void kiln_quant_rows_scalar(kiln_kernels *t) {
    QMM_ROW(KILN_TYPE_Q4_0, q4_0, KILN_X_Q8_0);
    QMM_ROW(KILN_TYPE_Q4_1, q4_1, KILN_X_Q8_0);
    QMM_ROW(KILN_TYPE_Q5_0, q5_0, KILN_X_Q8_0);
    QMM_ROW(KILN_TYPE_Q5_1, q5_1, KILN_X_Q8_0);
    QMM_ROW(KILN_TYPE_IQ4_NL, iq4_nl, KILN_X_Q8_0);
    QMM_ROW(KILN_TYPE_Q2_K, q2_K, KILN_X_Q8_K);
    QMM_ROW(KILN_TYPE_Q3_K, q3_K, KILN_X_Q8_K);
    QMM_ROW(KILN_TYPE_Q4_K, q4_K, KILN_X_Q8_K);
    QMM_ROW(KILN_TYPE_Q5_K, q5_K, KILN_X_Q8_K);
    QMM_ROW(KILN_TYPE_Q6_K, q6_K, KILN_X_Q8_K);
    QMM_ROW(KILN_TYPE_IQ4_XS, iq4_xs, KILN_X_Q8_K);
}
