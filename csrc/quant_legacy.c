/* quant_legacy.c — the 32-element weight types (Q4_0, Q4_1, Q5_0, Q5_1,
 * IQ4_NL): scalar dequantizers (llama.cpp's dequantize_row_* arithmetic,
 * bit for bit) and the reference dot products against Q8_0 activations
 * (quant.h states the accumulation contract every variant follows). */
#include "quant.h"

const int8_t kiln_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                      1,    13,   25,  38,  53,  69,  89,  113};

/* q5_high returns bit e of a Q5 block's qh as the quant's fifth bit (0 or 16). */
KILN_INLINE int q5_high(uint32_t qh, int e) { return (int)((qh >> e) & 1) << 4; }

void kiln_dequantize_q4_0_ref(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = kiln_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void kiln_dequantize_q4_1_ref(const void *vx, float *y, int64_t n) {
    const block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = kiln_fp16_to_fp32(x[i].d), m = kiln_fp16_to_fp32(x[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

void kiln_dequantize_q5_0_ref(const void *vx, float *y, int64_t n) {
    const block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = kiln_fp16_to_fp32(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(((x[i].qs[j] & 0x0F) | q5_high(qh, j)) - 16) * d;
            y[j + 16] = (float)(((x[i].qs[j] >> 4) | q5_high(qh, j + 16)) - 16) * d;
        }
    }
}

void kiln_dequantize_q5_1_ref(const void *vx, float *y, int64_t n) {
    const block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = kiln_fp16_to_fp32(x[i].d), m = kiln_fp16_to_fp32(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) | q5_high(qh, j)) * d + m;
            y[j + 16] = (float)((x[i].qs[j] >> 4) | q5_high(qh, j + 16)) * d + m;
        }
    }
}

void kiln_dequantize_iq4_nl_ref(const void *vx, float *y, int64_t n) {
    const block_iq4_nl *x = vx;
    for (int64_t i = 0; i < n / 32; i++, y += 32) {
        const float d = kiln_fp16_to_fp32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * (float)kiln_iq4nl_values[x[i].qs[j] & 0xf];
            y[j + 16] = d * (float)kiln_iq4nl_values[x[i].qs[j] >> 4];
        }
    }
}

/* ---- reference dots against Q8_0 X -------------------------------------- */
/* Each block's contribution: Q4_0, Q5_0, IQ4_NL  (dw*dx)*sumi;
 * Q4_1, Q5_1  ((dw*dx)*sumi) + ((mw*dx)*xsum), xsum the X block's quant sum. */

float kiln_dot_q4_0_ref(const void *vw, const void *vxq, const float *xd, int64_t nb) {
    const block_q4_0 *w = vw;
    const int8_t *xq = vxq;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq + b * 32;
        int32_t s = 0;
        for (int j = 0; j < 16; j++)
            s += ((w[b].qs[j] & 0xF) - 8) * xb[j] + ((w[b].qs[j] >> 4) - 8) * xb[j + 16];
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * xd[b]) * (float)s;
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q4_1_ref(const void *vw, const void *vxq, const float *xd, int64_t nb) {
    const block_q4_1 *w = vw;
    const int8_t *xq = vxq;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq + b * 32;
        int32_t s = 0, xs = 0;
        for (int j = 0; j < 16; j++) {
            s += (w[b].qs[j] & 0xF) * xb[j] + (w[b].qs[j] >> 4) * xb[j + 16];
            xs += xb[j] + xb[j + 16];
        }
        const float contrib = (kiln_fp16_to_fp32(w[b].d) * xd[b]) * (float)s;
        lane[b % 8] = (lane[b % 8] + contrib) + (kiln_fp16_to_fp32(w[b].m) * xd[b]) * (float)xs;
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q5_0_ref(const void *vw, const void *vxq, const float *xd, int64_t nb) {
    const block_q5_0 *w = vw;
    const int8_t *xq = vxq;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq + b * 32;
        uint32_t qh;
        memcpy(&qh, w[b].qh, 4);
        int32_t s = 0;
        for (int j = 0; j < 16; j++) {
            s += (((w[b].qs[j] & 0xF) | q5_high(qh, j)) - 16) * xb[j];
            s += (((w[b].qs[j] >> 4) | q5_high(qh, j + 16)) - 16) * xb[j + 16];
        }
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * xd[b]) * (float)s;
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q5_1_ref(const void *vw, const void *vxq, const float *xd, int64_t nb) {
    const block_q5_1 *w = vw;
    const int8_t *xq = vxq;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq + b * 32;
        uint32_t qh;
        memcpy(&qh, w[b].qh, 4);
        int32_t s = 0, xs = 0;
        for (int j = 0; j < 16; j++) {
            s += ((w[b].qs[j] & 0xF) | q5_high(qh, j)) * xb[j];
            s += ((w[b].qs[j] >> 4) | q5_high(qh, j + 16)) * xb[j + 16];
            xs += xb[j] + xb[j + 16];
        }
        const float contrib = (kiln_fp16_to_fp32(w[b].d) * xd[b]) * (float)s;
        lane[b % 8] = (lane[b % 8] + contrib) + (kiln_fp16_to_fp32(w[b].m) * xd[b]) * (float)xs;
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_iq4_nl_ref(const void *vw, const void *vxq, const float *xd, int64_t nb) {
    const block_iq4_nl *w = vw;
    const int8_t *xq = vxq;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *xb = xq + b * 32;
        int32_t s = 0;
        for (int j = 0; j < 16; j++)
            s += kiln_iq4nl_values[w[b].qs[j] & 0xF] * xb[j] + kiln_iq4nl_values[w[b].qs[j] >> 4] * xb[j + 16];
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * xd[b]) * (float)s;
    }
    return kiln_q_lanes_sum(lane);
}
