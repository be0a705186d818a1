/* quantize.c — float rows to GGUF weight blocks: kiln_quantize, and the
 * 32-element types' quantizers (the K-quants' are in quantize_k.c).
 *
 * The arithmetic is llama.cpp's reference quantizers' without an importance
 * matrix (quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0,q2_K,...,q6_K}_ref, the
 * path llama-quantize takes when given no imatrix), operation for
 * operation and in the same order, so the same floats give the same bytes
 * (this file is compiled without fma contraction, as ggml-base is).
 * Rows are independent, so they are split over the thread pool. */
#include "kernels.h"
#include "quant.h"

#include <float.h>

#define abs_max_signed kiln_abs_max_signed

static void quantize_q4_0(const float *x, void *vy, int64_t nb) {
    block_q4_0 *y = vy;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax;
        const float max = abs_max_signed(x, 32, &amax);
        const float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = kiln_fp32_to_fp16(d);
        for (int j = 0; j < 16; j++) {
            const int8_t a = (int8_t)(x[j] * id + 8.5f), b = (int8_t)(x[j + 16] * id + 8.5f);
            const uint8_t q0 = (uint8_t)(a < 15 ? a : 15), q1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void quantize_q4_1(const float *x, void *vy, int64_t nb) {
    block_q4_1 *y = vy;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = kiln_fp32_to_fp16(d);
        y[i].m = kiln_fp32_to_fp16(min);
        for (int j = 0; j < 16; j++) {
            const int8_t a = (int8_t)((x[j] - min) * id + 0.5f), b = (int8_t)((x[j + 16] - min) * id + 0.5f);
            const uint8_t q0 = (uint8_t)(a < 15 ? a : 15), q1 = (uint8_t)(b < 15 ? b : 15);
            y[i].qs[j] = (uint8_t)(q0 | q1 << 4);
        }
    }
}

static void quantize_q5_0(const float *x, void *vy, int64_t nb) {
    block_q5_0 *y = vy;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax;
        const float max = abs_max_signed(x, 32, &amax);
        const float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = kiln_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const int8_t a = (int8_t)(x[j] * id + 16.5f), b = (int8_t)(x[j + 16] * id + 16.5f);
            const uint8_t q0 = (uint8_t)(a < 31 ? a : 31), q1 = (uint8_t)(b < 31 ? b : 31);
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | (q1 & 0x0F) << 4);
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quantize_q5_1(const float *x, void *vy, int64_t nb) {
    block_q5_1 *y = vy;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = kiln_fp32_to_fp16(d);
        y[i].m = kiln_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const uint8_t q0 = (uint8_t)((x[j] - min) * id + 0.5f), q1 = (uint8_t)((x[j + 16] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0x0F) | (q1 & 0x0F) << 4);
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void quantize_q8_0(const float *x, void *vy, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) kiln_q8_0_quantize_block_ref(x + 32 * i, (block_q8_0 *)vy + i);
}


typedef void (*quantize_fn)(const float *x, void *y, int64_t nblocks);

static quantize_fn quantizer(int type) {
    switch (type) {
    case KILN_TYPE_Q4_0: return quantize_q4_0;
    case KILN_TYPE_Q4_1: return quantize_q4_1;
    case KILN_TYPE_Q5_0: return quantize_q5_0;
    case KILN_TYPE_Q5_1: return quantize_q5_1;
    case KILN_TYPE_Q8_0: return quantize_q8_0;
    case KILN_TYPE_Q2_K: return kiln_quantize_q2_K_ref;
    case KILN_TYPE_Q3_K: return kiln_quantize_q3_K_ref;
    case KILN_TYPE_Q4_K: return kiln_quantize_q4_K_ref;
    case KILN_TYPE_Q5_K: return kiln_quantize_q5_K_ref;
    case KILN_TYPE_Q6_K: return kiln_quantize_q6_K_ref;
    case KILN_TYPE_IQ4_NL: return kiln_quantize_iq4_nl_ref;
    case KILN_TYPE_IQ4_XS: return kiln_quantize_iq4_xs_ref;
    default: return NULL;
    }
}

typedef struct {
    quantize_fn fn;
    const float *x;
    char *y;
    int64_t rows, per_row, blocks_per_row;
    size_t row_bytes;
} quantize_task;

static void quantize_worker(void *arg, int ith, int nth) {
    const quantize_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->rows, ith, nth, 1, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) t->fn(t->x + r * t->per_row, t->y + (size_t)r * t->row_bytes, t->blocks_per_row);
}

int kiln_quantize_supported(int type) { return quantizer(type) != NULL; }

int kiln_quantize(int type, const float *x, void *y, int64_t rows, int64_t per_row) {
    if (!x || !y) return KILN_ERR_NULL;
    if (rows <= 0 || per_row <= 0 || per_row > ((int64_t)1 << 40) / rows) return KILN_ERR_SIZE;
    const quantize_fn fn = quantizer(type);
    if (!fn) return KILN_ERR_TYPE;
    const size_t row_bytes = kiln_row_size(type, per_row);
    if (!row_bytes) return KILN_ERR_ALIGN;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    quantize_task t = {.fn = fn, .x = x, .y = y, .rows = rows, .per_row = per_row,
                       .blocks_per_row = per_row / kiln_type_traits_of(type)->block,
                       .row_bytes = row_bytes};
    kiln_parallel(quantize_worker, &t, kiln_threads_for(rows * per_row, 1 << 16));
    return KILN_OK;
}
