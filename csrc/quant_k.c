/* quant_k.c — the 256-element weight types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
 * IQ4_XS): scalar dequantizers (llama.cpp's dequantize_row_* arithmetic,
 * bit for bit), the Q8_K activation quantizer (quantize_row_q8_K_ref) and
 * the reference dot products against Q8_K activations.
 *
 * The references unpack a super-block into its integer quants and
 * sub-block scales first (one layout per format, written once here), then
 * form the exact int32 sums; quant.h states how those become floats. */
#include "quant.h"

/* ---- dequantize --------------------------------------------------------- */

void kiln_dequantize_q2_K_ref(const void *vx, float *y, int64_t n) {
    const block_q2_K *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const float d = kiln_fp16_to_fp32(x[i].d), min = kiln_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int h = 0; h < 2; h++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xF), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * (float)((int8_t)((q[l + 16 * h] >> shift) & 3)) - ml;
                }
            }
        }
    }
}

void kiln_dequantize_q3_K_ref(const void *vx, float *y, int64_t n) {
    const block_q3_K *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const float d_all = kiln_fp16_to_fp32(x[i].d);
        int8_t scales[16];
        kiln_q3_K_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int h = 0; h < 2; h++) {
                    const float dl = d_all * (float)(scales[is++] - 32);
                    for (int l = 0; l < 16; l++) {
                        const int v = (int8_t)((q[l + 16 * h] >> shift) & 3) - ((hm[l + 16 * h] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

void kiln_dequantize_q4_K_ref(const void *vx, float *y, int64_t n) {
    const block_q4_K *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const uint8_t *q = x[i].qs;
        const float d = kiln_fp16_to_fp32(x[i].d), min = kiln_fp16_to_fp32(x[i].dmin);
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            kiln_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            kiln_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void kiln_dequantize_q5_K_ref(const void *vx, float *y, int64_t n) {
    const block_q5_K *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = kiln_fp16_to_fp32(x[i].d), min = kiln_fp16_to_fp32(x[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            kiln_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            kiln_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void kiln_dequantize_q6_K_ref(const void *vx, float *y, int64_t n) {
    const block_q6_K *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const float d = kiln_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * (float)sc[is + 0] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

void kiln_dequantize_iq4_xs_ref(const void *vx, float *y, int64_t n) {
    const block_iq4_xs *x = vx;
    for (int64_t i = 0; i < n / KILN_QK_K; i++) {
        const uint8_t *qs = x[i].qs;
        const float d = kiln_fp16_to_fp32(x[i].d);
        for (int ib = 0; ib < 8; ib++, y += 32, qs += 16) {
            const float dl = d * (float)kiln_iq4_xs_scale(&x[i], ib);
            for (int j = 0; j < 16; j++) {
                y[j + 0] = dl * (float)kiln_iq4nl_values[qs[j] & 0xf];
                y[j + 16] = dl * (float)kiln_iq4nl_values[qs[j] >> 4];
            }
        }
    }
}

/* ---- Q8_K --------------------------------------------------------------- */

#define nearest_int kiln_nearest_int

void kiln_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t k) {
    for (int64_t i = 0; i < k / KILN_QK_K; i++, x += KILN_QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < KILN_QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) { /* llama.cpp leaves bsums unset here; they are zero */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < KILN_QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < KILN_QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

/* ---- reference dots against Q8_K X -------------------------------------- */
/* Unpackers: q[256] the super-block's integer quants in element order, and
 * its sub-block scales (and mins). */

static void unpack_q2_K(const block_q2_K *b, int8_t q[256], int sc[16], int mn[16]) {
    for (int g = 0; g < 16; g++) {
        sc[g] = b->scales[g] & 0xF;
        mn[g] = b->scales[g] >> 4;
    }
    for (int half = 0; half < 2; half++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) q[128 * half + 32 * j + l] = (int8_t)((b->qs[32 * half + l] >> (2 * j)) & 3);
}

static void unpack_q3_K(const block_q3_K *b, int8_t q[256], int sc[16]) {
    int8_t s[16];
    kiln_q3_K_scales(b->scales, s);
    for (int g = 0; g < 16; g++) sc[g] = s[g] - 32;
    for (int half = 0; half < 2; half++)
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) {
                const int m = 1 << (4 * half + j);
                q[128 * half + 32 * j + l] =
                    (int8_t)(((b->qs[32 * half + l] >> (2 * j)) & 3) - ((b->hmask[l] & m) ? 0 : 4));
            }
}

/* unpack_q45_K: Q4_K (qh NULL) or Q5_K quants, 8 scales and mins. */
static void unpack_q45_K(const uint8_t *scales, const uint8_t *qs, const uint8_t *qh, int8_t q[256], int sc[8],
                         int mn[8]) {
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        kiln_get_scale_min_k4(j, scales, &s, &m);
        sc[j] = s;
        mn[j] = m;
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
            if (qh) {
                lo |= ((qh[l] >> (2 * c)) & 1) << 4;
                hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
            }
            q[64 * c + l] = (int8_t)lo;
            q[64 * c + 32 + l] = (int8_t)hi;
        }
}

static void unpack_q6_K(const block_q6_K *b, int8_t q[256]) {
    for (int half = 0; half < 2; half++) {
        const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
        int8_t *o = q + 128 * half;
        for (int l = 0; l < 32; l++) {
            o[l + 0] = (int8_t)(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            o[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            o[l + 64] = (int8_t)(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
    }
}

/* scaled_sum is Σ_g sc[g] · Σ_{e in group g} q[e]·x[e] over groups of len. */
static int32_t scaled_sum(const int8_t *q, const int8_t *x, const int *sc, int len) {
    int32_t total = 0;
    for (int g = 0; g < KILN_QK_K / len; g++) {
        int32_t s = 0;
        for (int e = g * len; e < (g + 1) * len; e++) s += q[e] * x[e];
        total += sc[g] * s;
    }
    return total;
}

/* min_sum is Σ_g mn[g] · (X's quant sum over group g of len), from bsums. */
static int32_t min_sum(const int16_t *bsums, const int *mn, int len) {
    int32_t total = 0;
    for (int g = 0; g < KILN_QK_K / len; g++) {
        int32_t s = 0;
        for (int h = 0; h < len / 16; h++) s += bsums[g * (len / 16) + h];
        total += mn[g] * s;
    }
    return total;
}

float kiln_dot_q2_K_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q2_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[16], mn[16];
        unpack_q2_K(&w[b], q, sc, mn);
        lane[b % 8] = kiln_q_with_min(lane[b % 8], kiln_fp16_to_fp32(w[b].d), kiln_fp16_to_fp32(w[b].dmin), x[b].d,
                               scaled_sum(q, x[b].qs, sc, 16), min_sum(x[b].bsums, mn, 16));
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q3_K_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q3_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[16];
        unpack_q3_K(&w[b], q, sc);
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * x[b].d) * (float)scaled_sum(q, x[b].qs, sc, 16);
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q4_K_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q4_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[8], mn[8];
        unpack_q45_K(w[b].scales, w[b].qs, NULL, q, sc, mn);
        lane[b % 8] = kiln_q_with_min(lane[b % 8], kiln_fp16_to_fp32(w[b].d), kiln_fp16_to_fp32(w[b].dmin), x[b].d,
                               scaled_sum(q, x[b].qs, sc, 32), min_sum(x[b].bsums, mn, 32));
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q5_K_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q5_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[8], mn[8];
        unpack_q45_K(w[b].scales, w[b].qs, w[b].qh, q, sc, mn);
        lane[b % 8] = kiln_q_with_min(lane[b % 8], kiln_fp16_to_fp32(w[b].d), kiln_fp16_to_fp32(w[b].dmin), x[b].d,
                               scaled_sum(q, x[b].qs, sc, 32), min_sum(x[b].bsums, mn, 32));
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_q6_K_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_q6_K *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[16];
        unpack_q6_K(&w[b], q);
        for (int g = 0; g < 16; g++) sc[g] = w[b].scales[g];
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * x[b].d) * (float)scaled_sum(q, x[b].qs, sc, 16);
    }
    return kiln_q_lanes_sum(lane);
}

float kiln_dot_iq4_xs_ref(const void *vw, const void *vx, const float *xd, int64_t nb) {
    (void)xd;
    const block_iq4_xs *w = vw;
    const block_q8_K *x = vx;
    float lane[8] = {0};
    for (int64_t b = 0; b < nb; b++) {
        int8_t q[256];
        int sc[8];
        for (int ib = 0; ib < 8; ib++) {
            sc[ib] = kiln_iq4_xs_scale(&w[b], ib);
            for (int j = 0; j < 16; j++) {
                q[32 * ib + j] = kiln_iq4nl_values[w[b].qs[16 * ib + j] & 0xF];
                q[32 * ib + 16 + j] = kiln_iq4nl_values[w[b].qs[16 * ib + j] >> 4];
            }
        }
        lane[b % 8] = lane[b % 8] + (kiln_fp16_to_fp32(w[b].d) * x[b].d) * (float)scaled_sum(q, x[b].qs, sc, 32);
    }
    return kiln_q_lanes_sum(lane);
}
