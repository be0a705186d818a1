/* quantize.c — float rows to GGUF weight blocks: kiln_quantize.
 *
 * The arithmetic is llama.cpp's reference quantizers' without an importance
 * matrix (quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0,q4_K,q5_K,q6_K}_ref, the
 * path llama-quantize takes when given no imatrix), operation for
 * operation and in the same order, so the same floats give the same bytes
 * (this file is compiled without fma contraction, as ggml-base is).
 * Rows are independent, so they are split over the thread pool. */
#include "kernels.h"
#include "quant.h"

#include <float.h>

#define GROUP_MAX_EPS 1e-15f

/* nearest_int rounds to nearest, ties to even (|f| <= 2^22), as llama.cpp. */
KILN_INLINE int nearest_int(float f) {
    const float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* abs_max_signed returns the element of largest magnitude (the first one on ties). */
static float abs_max_signed(const float *x, int n, float *amax_out) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    *amax_out = amax;
    return max;
}

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

/* make_qkx2_quants fits x[n] ≈ scale*L - min with L in 0..nmax, weighted
 * least squares over nstep+1 candidate scales (llama.cpp's make_qkx2_quants). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        const float diff = scale * L[i] + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                const float diff = this_scale * Laux[i] + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* quantize_q45_K: Q4_K (nmax 15) or Q5_K (nmax 31) super-blocks. */
static void quantize_q45_K(const float *x, void *vy, int64_t nb, int nmax) {
    const int q5 = nmax == 31;
    const size_t bytes = q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
    for (int64_t i = 0; i < nb; i++, x += KILN_QK_K) {
        uint8_t *blk = (uint8_t *)vy + i * bytes;
        /* the two layouts share d, dmin, scales; then Q5_K's qh precedes qs */
        uint16_t *dd = (uint16_t *)blk;
        uint8_t *scales_out = blk + 4, *qh = q5 ? blk + 16 : NULL, *qs = blk + (q5 ? 48 : 16);
        uint8_t L[KILN_QK_K], Laux[32];
        float weights[32], mins[8], scales[8], max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            const float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                         q5 ? -0.5f : -1.f, 0.1f, q5 ? 15 : 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        uint8_t sc[KILN_K_SCALE_SIZE] = {0};
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (j < 4) {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j - 0] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        memcpy(scales_out, sc, sizeof sc);
        dd[0] = kiln_fp32_to_fp16(max_scale / 63.f);
        dd[1] = kiln_fp32_to_fp16(max_min / 63.f);
        for (int j = 0; j < 8; j++) {
            uint8_t s, m;
            kiln_get_scale_min_k4(j, sc, &s, &m);
            const float d = kiln_fp16_to_fp32(dd[0]) * s;
            if (!d) continue;
            const float dm = kiln_fp16_to_fp32(dd[1]) * m;
            for (int ii = 0; ii < 32; ii++) {
                const int l = nearest_int((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
            }
        }
        if (q5) memset(qh, 0, KILN_QK_K / 8);
        for (int c = 0; c < 4; c++, qs += 32)
            for (int l = 0; l < 32; l++) {
                int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
                if (q5 && l1 > 15) l1 -= 16, qh[l] |= (uint8_t)(1 << (2 * c));
                if (q5 && l2 > 15) l2 -= 16, qh[l] |= (uint8_t)(2 << (2 * c));
                qs[l] = (uint8_t)(l1 | (l2 << 4));
            }
    }
}

/* make_qx_quants with rmse_type 1 and no weights (llama.cpp's make_qx_quants):
 * x[n] ≈ scale*(L - nmax), L in 0..2*nmax-1, the best of 19 scales. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float amax;
    const float max = abs_max_signed(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void quantize_q6_K(const float *x, void *vy, int64_t nb) {
    block_q6_K *y = vy;
    for (int64_t i = 0; i < nb; i++, x += KILN_QK_K) {
        int8_t L[KILN_QK_K];
        float scales[16], max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (max_abs_scale < GROUP_MAX_EPS) continue;
        const float iscale = -128.f / max_scale;
        y[i].d = kiln_fp32_to_fp16(1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            const int s = nearest_int(iscale * scales[ib]);
            y[i].scales[ib] = (int8_t)(s < 127 ? s : 127);
        }
        for (int j = 0; j < 16; j++) {
            const float d = kiln_fp16_to_fp32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                const int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
            }
        }
        for (int half = 0; half < 2; half++) {
            const int8_t *Lh = L + 128 * half;
            uint8_t *ql = y[i].ql + 64 * half, *qh = y[i].qh + 32 * half;
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = Lh[l] & 0xF, q2 = Lh[l + 32] & 0xF, q3 = Lh[l + 64] & 0xF, q4 = Lh[l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
            }
        }
    }
}

static void quantize_q4_K(const float *x, void *y, int64_t nb) { quantize_q45_K(x, y, nb, 15); }
static void quantize_q5_K(const float *x, void *y, int64_t nb) { quantize_q45_K(x, y, nb, 31); }

typedef void (*quantize_fn)(const float *x, void *y, int64_t nblocks);

static quantize_fn quantizer(int type) {
    switch (type) {
    case KILN_TYPE_Q4_0: return quantize_q4_0;
    case KILN_TYPE_Q4_1: return quantize_q4_1;
    case KILN_TYPE_Q5_0: return quantize_q5_0;
    case KILN_TYPE_Q5_1: return quantize_q5_1;
    case KILN_TYPE_Q8_0: return quantize_q8_0;
    case KILN_TYPE_Q4_K: return quantize_q4_K;
    case KILN_TYPE_Q5_K: return quantize_q5_K;
    case KILN_TYPE_Q6_K: return quantize_q6_K;
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
