/* quant_q8k_avx512.c — activations to Q8_K with AVX-512: the bytes of
 * kiln_quantize_row_q8_K_ref (quant_k.c), sixteen floats at a time.
 *
 * Why: every K-quant GEMV reads X as Q8_K, and in decode (one X row) one
 * thread quantizes it while the others wait for it (matmul.c's
 * quantize_groups). On the Xeon a row of 2048 took 2.0 us with the scalar
 * reference and takes 0.7 us here (8192: 7.8 and 2.8 us), about 0.14 ms of
 * a 2-thread l1b Q4_K_M decode step (~33 ms) for both threads.
 *
 * Same bits for every input, NaN and infinities included, because every
 * step is the reference's own: the magnitude maximum skips NaN (VMAXPS
 * returns its second operand when the first is NaN) and its signed element
 * is the first of that magnitude; the rounding is kiln_nearest_int's
 * (x·iscale + 1.5·2^23, then the mantissa bits), the clamp at 127 and the
 * int8 truncation are the reference's, and the sums of 16 are of the
 * stored bytes. */
#include "../../quant.h"

#if KILN_X86
#include <immintrin.h>

/* q8k_block writes y = Q8_K of the 256 floats x. */
KILN_TARGET_AVX512 static void q8k_block(const float *x, block_q8_K *y) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    __m512 am = _mm512_setzero_ps();
    for (int v = 0; v < KILN_QK_K / 16; v++) am = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v)), am);
    const float amax = _mm512_reduce_max_ps(am);
    if (amax == 0) { /* as the reference: zero quants, sums and d */
        memset(y, 0, sizeof *y);
        return;
    }
    float max = 0;
    const __m512 amv = _mm512_set1_ps(amax);
    for (int v = 0; v < KILN_QK_K / 16; v++) { /* the first element of that magnitude */
        const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * v)), amv, _CMP_EQ_OQ);
        if (hit) {
            max = x[16 * v + __builtin_ctz(hit)];
            break;
        }
    }
    const float iscale = -127.f / max;
    const __m512 s = _mm512_set1_ps(iscale), magic = _mm512_set1_ps(12582912.f);
    const __m512i mant = _mm512_set1_epi32(0x007fffff), half = _mm512_set1_epi32(0x00400000), top = _mm512_set1_epi32(127);
    for (int v = 0; v < KILN_QK_K / 16; v++) {
        const __m512 f = _mm512_add_ps(_mm512_mul_ps(s, _mm512_loadu_ps(x + 16 * v)), magic);
        __m512i q = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(f), mant), half);
        q = _mm512_min_epi32(q, top);
        const __m128i b = _mm512_cvtepi32_epi8(q); /* truncation, as the reference's (int8_t) cast */
        _mm_storeu_si128((__m128i *)(y->qs + 16 * v), b);
        y->bsums[v] = (int16_t)_mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(b));
    }
    y->d = 1 / iscale;
}

/* kiln_quantize_row_q8_K_avx512: y[k/256] = Q8_K(x[k]), kiln_quantize_row_q8_K_ref's bytes. */
KILN_TARGET_AVX512 void kiln_quantize_row_q8_K_avx512(const float *x, block_q8_K *y, int64_t k) {
    for (int64_t i = 0; i < k / KILN_QK_K; i++) q8k_block(x + i * KILN_QK_K, y + i);
}

#else
typedef int kiln_quant_q8k_avx512_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
