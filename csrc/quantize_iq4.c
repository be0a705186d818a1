/* quantize_iq4.c — the IQ4_NL and IQ4_XS quantizers: llama.cpp's
 * quantize_row_iq4_nl_impl as ggml_quantize_chunk runs it without an
 * importance matrix (weights x², 7 scale tries each way), operation for
 * operation, so the same floats give the same bytes. */
#include "quant.h"

#define GROUP_MAX_EPS 1e-15f

/* best_index is the index of the IQ4 value nearest x (the upper one on ties). */
static int best_index(const int8_t *val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[15]) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* iq4_quantize is quantize_row_iq4_nl_impl(super, 32, ..., NULL, ntry = 7):
 * super = 32 writes one IQ4_NL block (dh, q4), super = 256 one IQ4_XS
 * super-block (dh, scales_h, scales_l, q4). */
static void iq4_quantize(int super, const float *x, uint16_t *dh, uint8_t *q4, uint16_t *scales_h, uint8_t *scales_l) {
    const int8_t *values = kiln_iq4nl_values;
    const int ntry = 7;
    uint8_t L[KILN_QK_K];
    float scales[KILN_QK_K / 32], weight[32];
    memset(q4, 0, (size_t)super / 2);
    *dh = kiln_fp32_to_fp16(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super / 32; ib++) {
        const float *xb = x + ib * 32;
        uint8_t *Lb = L + ib * 32;
        for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
        float amax;
        const float max = kiln_abs_max_signed(xb, 32, &amax);
        if (amax < GROUP_MAX_EPS) {
            scales[ib] = 0;
            continue;
        }
        float d = -max / values[0], id = 1 / d, sumqx = 0, sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const int l = best_index(values, id * xb[j]);
            Lb[j] = (uint8_t)l;
            const float q = values[l], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                const float q = values[best_index(values, id * xb[j])], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                d = sumqx / sumq2;
                best = d * sumqx;
            }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) {
            amax_scale = fabsf(d);
            max_scale = d;
        }
    }
    if (super > 32) {
        *scales_h = 0;
        const float d = -max_scale / 32;
        *dh = kiln_fp32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < super / 32; ib++) {
            int l = kiln_nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * l, idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[ib * 32 + j] = (uint8_t)best_index(values, idl * x[ib * 32 + j]);
            l += 32;
            const uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
            if (ib % 2 == 0) scales_l[ib / 2] = l_l;
            else scales_l[ib / 2] |= (uint8_t)(l_l << 4);
            *scales_h |= (uint16_t)(l_h << 2 * (ib % 8));
        }
    } else {
        *dh = kiln_fp32_to_fp16(scales[0]);
        const float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index(values, id * x[j]);
    }
    for (int i = 0; i < super / 32; i++)
        for (int j = 0; j < 16; j++) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void kiln_quantize_iq4_nl_ref(const float *x, void *vy, int64_t nb) {
    block_iq4_nl *y = vy;
    for (int64_t i = 0; i < nb; i++) iq4_quantize(32, x + 32 * i, &y[i].d, y[i].qs, NULL, NULL);
}

void kiln_quantize_iq4_xs_ref(const float *x, void *vy, int64_t nb) {
    block_iq4_xs *y = vy;
    for (int64_t i = 0; i < nb; i++)
        iq4_quantize(KILN_QK_K, x + KILN_QK_K * i, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}
