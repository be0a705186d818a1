/* test_matmul_q6r.c — repacked Q6_K weights (KILN_TYPE_Q6_K_R16): the
 * layout kiln.h documents, pack/unpack round trip, and on every variant
 * (the direct AVX-512 VNNI and AVX2 GEMVs, the portable unpack path)
 * results bit-identical to the scalar reference's on the Q6_K weights they
 * came from — GEMV and GEMM, 1 and 2 threads, every row alone and in a
 * batch, a column range alone, extreme quants and scales. What every
 * format must do (dispatch, errors, kiln_matmul_multi, unaligned buffers)
 * is test_repack_formats.c's. */
#include "test_repacked.h"

#include "quant.h"
#include "repack.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* make_q6 fills n rows of k Q6_K weights: any quant bits, any int8 scale
 * (-128 included), d of either sign. */
static block_q6_K *make_q6(int64_t n, int64_t k) {
    const int64_t nb = n * (k / KILN_QK_K);
    block_q6_K *w = t_alloc(sizeof(block_q6_K) * (size_t)nb);
    for (int64_t i = 0; i < nb; i++) {
        for (size_t c = 0; c < sizeof w[i].ql; c++) w[i].ql[c] = (uint8_t)t_int(0, 255);
        for (size_t c = 0; c < sizeof w[i].qh; c++) w[i].qh[c] = (uint8_t)t_int(0, 255);
        for (int g = 0; g < 16; g++) w[i].scales[g] = (int8_t)t_int(-128, 127);
        w[i].d = kiln_fp32_to_fp16(t_uniform(-0.002f, 0.002f));
    }
    return w;
}

/* repacked returns kiln_repack's copy of w (checked to succeed). */
static void *repacked(const block_q6_K *w, int64_t n, int64_t k) {
    void *r = t_alloc(kiln_row_size(KILN_TYPE_Q6_K_R16, k) * (size_t)n);
    const int rc = kiln_repack(KILN_TYPE_Q6_K, w, n, k, r);
    T_CHECK(rc == KILN_OK, "kiln_repack q6_k n=%lld k=%lld: status %d", (long long)n, (long long)k, rc);
    return r;
}

/* q6_u is the unsigned quant (q + 32) of element e of a GGUF Q6_K block,
 * written out from GGUF's definition (ggml's dequantize_row_q6_K). */
static int q6_u(const block_q6_K *b, int e) {
    const int half = e / 128, l = e % 128, c = l / 32, i = l % 32;
    const uint8_t *ql = b->ql + 64 * half, *qh = b->qh + 32 * half;
    switch (c) {
    case 0: return (ql[i] & 0xF) | ((qh[i] >> 0) & 3) << 4;
    case 1: return (ql[i + 32] & 0xF) | ((qh[i] >> 2) & 3) << 4;
    case 2: return (ql[i] >> 4) | ((qh[i] >> 4) & 3) << 4;
    default: return (ql[i + 32] >> 4) | ((qh[i] >> 6) & 3) << 4;
    }
}

/* ---- the layout ------------------------------------------------------------ */
/* Every bit where kiln.h says it is (group g, super-block s at
 * (g·nb + s)·3392; sub-block t's scales at 832(t/4) + 16(t%4) + j, its
 * quants at 832(t/4) + 64 + 192(t%4): vector i byte 64i + 4j + c: bits 0-5
 * u of element 16t+4i+c, bits 6-7 bits 2i..2i+1 of u of element 16t+12+c;
 * f16 d at 3328 + 2j; 32 zero bytes), 212 bytes
 * per row and super-block; and unpack gives back the source bytes. */
static void test_layout(void) {
    enum { N = 48, K = 768, NB = K / KILN_QK_K };
    T_CHECK(kiln_row_size(KILN_TYPE_Q6_K_R16, K) == 212 * NB, "q6_k_r16 row size %zu", kiln_row_size(KILN_TYPE_Q6_K_R16, K));
    T_CHECK(kiln_row_size(KILN_TYPE_Q6_K_R16, 128) == 0, "q6_k_r16 row size of k %% 256 != 0");
    block_q6_K *w = make_q6(N, K);
    const uint8_t *r = repacked(w, N, K);
    int ok = 1, zero = 1;
    for (int64_t row = 0; row < N; row++)
        for (int64_t s = 0; s < NB; s++) {
            const block_q6_K *src = &w[row * NB + s];
            const uint8_t *sb = r + ((row / 16) * NB + s) * 3392;
            const int j = (int)(row % 16);
            for (int t = 0; t < 16; t++) {
                for (int c = 0; c < 4; c++) {
                    const int top = q6_u(src, 16 * t + 12 + c);
                    for (int i = 0; i < 3; i++) {
                        const uint8_t byte = sb[832 * (t / 4) + 64 + 192 * (t % 4) + 64 * i + 4 * j + c];
                        ok &= (byte & 0x3F) == q6_u(src, 16 * t + 4 * i + c);
                        ok &= byte >> 6 == (top >> 2 * i & 3);
                    }
                }
                ok &= (int8_t)sb[832 * (t / 4) + 16 * (t % 4) + j] == src->scales[t];
            }
            uint16_t d;
            memcpy(&d, sb + 3328 + 2 * j, 2);
            ok &= d == src->d;
            for (int z = 3360; z < 3392; z++) zero &= sb[z] == 0;
        }
    T_CHECK(ok, "q6_k_r16 bits where kiln.h places them");
    T_CHECK(zero, "q6_k_r16 padding is zero");
    block_q6_K *back = t_alloc(sizeof(block_q6_K) * N * NB);
    memset(back, 0xA5, sizeof(block_q6_K) * N * NB);
    for (int g = 0; g < N / 16; g++)
        kiln_q6r_unpack(r + (size_t)g * NB * 3392, K, (char *)(back + g * 16 * NB), sizeof(block_q6_K) * NB);
    T_CHECK(memcmp(back, w, sizeof(block_q6_K) * N * NB) == 0, "q6_k_r16 unpack gives the source bytes back");
    free(w); free((void *)r); free(back);
}

/* ---- results = Q6_K's ------------------------------------------------------ */
/* want: the scalar reference's Q6_K result (1 thread). Then on one variant:
 * Q6_K_R16 = want bit for bit at 1 and 2 threads; every row alone = its row
 * in the batch; a column range of whole groups alone = in the full W. */
static void check_same(int isa, int64_t m, int64_t n, int64_t k, const block_q6_K *w, const void *r) {
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    float *want = t_alloc(sizeof(float) * (size_t)(m * n));
    t_fill(x, m * k, -1, 1);
    char what[160];
    snprintf(what, sizeof what, "q6_k_r16 %s m=%lld n=%lld k=%lld", kiln_isa_name(isa), (long long)m, (long long)n,
             (long long)k);
    kiln_init(1);
    kiln_set_isa(KILN_ISA_SCALAR);
    t_poison(want, m * n);
    int rc = kiln_matmul(KILN_TYPE_Q6_K, w, x, want, m, n, k);
    T_CHECK(rc == KILN_OK, "%s: scalar q6_k (status %d)", what, rc);
    t_check_repacked(isa, KILN_TYPE_Q6_K_R16, r, x, want, m, n, k, what);
    free(x); free(want);
}

static void test_same_as_q6_k(void) {
    static const int64_t shapes[][2] = {
        /* n, k: one group and super-block; odd super-block counts (3, 5); the model
         * shapes' k; k past the AVX-512 kernel's 512-super-block X-correction chunk;
         * n large enough that the driver hands a kernel call several groups (GEMV runs
         * of 160 rows at k = 2048, 48 at k = 8192: the AVX-512 kernel's side-by-side
         * streams, an even and an odd number of groups) */
        {16, 256}, {48, 768}, {32, 1280}, {64, 2048}, {32, 8192}, {32, 256 * 515}, {1024, 2048}, {208, 8192},
    };
    static const int64_t ms[] = {1, 2, 3, 4, 5, 7, 13, 17};
    for (int s = 0; s < COUNT(shapes); s++) {
        const int64_t n = shapes[s][0], k = shapes[s][1];
        block_q6_K *w = make_q6(n, k);
        void *r = repacked(w, n, k);
        for (int v = 0; v < n_isas; v++)
            for (int c = 0; c < COUNT(ms); c++) {
                if (k > 8192 && ms[c] > 3) continue; /* the GEMV's shape; the GEMM's k is covered above */
                check_same(isas[v], ms[c], n, k, w, r);
            }
        free(w); free(r);
    }
    kiln_init(0);
}

/* Extremes through the direct kernels: every quant 0 (q = -32) or 63 (q = 31),
 * scales -128 or 127, X at ±1 (quants ±127): the largest int32 sums the
 * format allows (|sumi| = 16·128·16·32·127 < 2^31), against the reference. */
static void test_extremes(void) {
    enum { M = 3, N = 32, K = 2048, NB = K / KILN_QK_K };
    block_q6_K *w = t_alloc(sizeof(block_q6_K) * N * NB);
    float *x = t_alloc(sizeof(float) * M * K), *want = t_alloc(sizeof(float) * M * N), *got = t_alloc(sizeof(float) * M * N);
    for (int variant = 0; variant < 4; variant++) {
        const int hi_quants = variant & 1, neg_scale = variant >> 1;
        for (int64_t i = 0; i < N * NB; i++) {
            memset(w[i].ql, hi_quants ? 0xFF : 0, sizeof w[i].ql);
            memset(w[i].qh, hi_quants ? 0xFF : 0, sizeof w[i].qh);
            memset(w[i].scales, neg_scale ? 0x80 : 0x7F, sizeof w[i].scales);
            w[i].d = kiln_fp32_to_fp16(i % 2 ? 1.0f : -0.5f);
        }
        void *r = repacked(w, N, K);
        for (int64_t i = 0; i < M; i++)
            for (int64_t c = 0; c < K; c++) x[i * K + c] = i == 1 && c % 3 == 0 ? -1.0f : 1.0f;
        kiln_init(1);
        kiln_set_isa(KILN_ISA_SCALAR);
        int rc = kiln_matmul(KILN_TYPE_Q6_K, w, x, want, M, N, K);
        for (int v = 0; v < n_isas; v++) {
            kiln_set_isa(isas[v]);
            for (int m = 1; m <= M; m++) {
                t_poison(got, M * N);
                rc |= kiln_matmul(KILN_TYPE_Q6_K_R16, r, x, got, m, N, K);
                char what[160];
                snprintf(what, sizeof what, "q6_k_r16 extremes (%s, m=%d, quants %s, scales %s, status %d)",
                         kiln_isa_name(isas[v]), m, hi_quants ? "63" : "0", neg_scale ? "-128" : "127", rc);
                t_identical(what, want, got, m * N);
            }
        }
        free(r);
    }
    kiln_init(0);
    free(w); free(x); free(want); free(got);
}

int main(void) {
    n_isas = t_repacked_start("matmul_q6r", isas);
    test_layout();
    test_same_as_q6_k();
    test_extremes();
    return t_done();
}
