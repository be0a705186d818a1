/* test_matmul_q4r.c — repacked Q4_0, Q5_0, IQ4_NL, Q4_1 and Q5_1 weights
 * (KILN_TYPE_Q4_0_R16, KILN_TYPE_Q5_0_R16, KILN_TYPE_IQ4_NL_R16, which is
 * Q4_0_R16's layout, KILN_TYPE_Q4_1_R16, KILN_TYPE_Q5_1_R16): the layouts
 * kiln.h documents, and on every variant
 * (the direct AVX-512 VNNI and AVX2 GEMVs, the portable unpack path)
 * results bit-identical to the weights they came from and to the scalar
 * reference of their type — GEMV and GEMM, 1 and 2 threads, every row alone
 * and in a batch — and extremes. Every check runs for every type; what
 * every format must do (dispatch, errors, kiln_matmul_multi, unaligned
 * buffers) is test_repack_formats.c's. */
#include "test_repacked.h"

#include "quant.h"
#include "repack.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* The type under test: its GGUF source, its repacked type, its block bytes. */
static int SRC = KILN_TYPE_Q4_0, R16 = KILN_TYPE_Q4_0_R16;
static size_t BLK = sizeof(block_q4_0);
static const char *NAME = "q4_0_r16";

enum { KIND_Q4_0, KIND_Q5_0, KIND_IQ4_NL, KIND_Q4_1, KIND_Q5_1, KINDS };
static int MIN; /* the type under test has a min m after d (Q4_1, Q5_1) */

static void use_type(int kind) {
    static const struct { int src, r16; size_t blk; const char *name; } kinds[KINDS] = {
        {KILN_TYPE_Q4_0, KILN_TYPE_Q4_0_R16, sizeof(block_q4_0), "q4_0_r16"},
        {KILN_TYPE_Q5_0, KILN_TYPE_Q5_0_R16, sizeof(block_q5_0), "q5_0_r16"},
        {KILN_TYPE_IQ4_NL, KILN_TYPE_IQ4_NL_R16, sizeof(block_iq4_nl), "iq4_nl_r16"},
        {KILN_TYPE_Q4_1, KILN_TYPE_Q4_1_R16, sizeof(block_q4_1), "q4_1_r16"},
        {KILN_TYPE_Q5_1, KILN_TYPE_Q5_1_R16, sizeof(block_q5_1), "q5_1_r16"},
    };
    MIN = kind == KIND_Q4_1 || kind == KIND_Q5_1;
    SRC = kinds[kind].src;
    R16 = kinds[kind].r16;
    BLK = kinds[kind].blk;
    NAME = kinds[kind].name;
}

/* make_q4 fills n rows of k weights of the type under test: any quant and
 * fifth-bit byte, scales (and mins) of either sign. */
static void *make_q4(int64_t n, int64_t k) {
    uint8_t *w = t_alloc(BLK * (size_t)(n * (k / 32)));
    for (int64_t i = 0; i < n * (k / 32); i++) {
        const uint16_t d = kiln_fp32_to_fp16(t_uniform(-0.05f, 0.05f)), m = kiln_fp32_to_fp16(t_uniform(-0.5f, 0.5f));
        memcpy(w + (size_t)i * BLK, &d, 2);
        for (size_t c = 2; c < BLK; c++) w[(size_t)i * BLK + c] = (uint8_t)t_int(0, 255);
        if (MIN) memcpy(w + (size_t)i * BLK + 2, &m, 2);
    }
    return w;
}

/* repacked returns kiln_repack's copy of w (checked to succeed). */
static void *repacked(const void *w, int64_t n, int64_t k) {
    void *r = t_alloc(kiln_row_size(R16, k) * (size_t)n);
    const int rc = kiln_repack(SRC, w, n, k, r);
    T_CHECK(rc == KILN_OK, "kiln_repack to %s n=%lld k=%lld: status %d", NAME, (long long)n, (long long)k, rc);
    return r;
}

/* ---- the layout ------------------------------------------------------------ */
/* Every byte where kiln.h says it is: scale of row j, block b at group
 * g*(k/64)*576 + (b/2)*576 + (b%2)*32 + 2j; qs[i] at ... + 64 + (b%2)*256
 * + 64(i/4) + 4j + i%4; n·k/32·18 bytes in all; unpacking gives the rows back. */
static void test_layout_q4(void) {
    enum { N = 48, K = 192 };
    use_type(KIND_Q4_0);
    T_CHECK(kiln_row_size(KILN_TYPE_Q4_0_R16, K) == kiln_row_size(KILN_TYPE_Q4_0, K), "q4_0_r16 keeps q4_0's size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q4_0_R16, 96) == 0, "q4_0_r16 rows are whole block pairs");
    block_q4_0 *w = make_q4(N, K);
    const uint8_t *r = repacked(w, N, K);
    int ok = 1;
    for (int64_t row = 0; row < N; row++)
        for (int64_t b = 0; b < K / 32; b++) {
            const block_q4_0 *src = &w[row * (K / 32) + b];
            const uint8_t *pair = r + (row / 16) * (K / 64) * 576 + (b / 2) * 576;
            const int j = (int)(row % 16);
            uint16_t d;
            memcpy(&d, pair + (b % 2) * 32 + 2 * j, 2);
            ok &= d == src->d;
            for (int i = 0; i < 16; i++) ok &= pair[64 + (b % 2) * 256 + 64 * (i / 4) + 4 * j + i % 4] == src->qs[i];
        }
    T_CHECK(ok, "q4_0_r16 bytes where kiln.h places them");
    block_q4_0 *back = t_alloc(sizeof(block_q4_0) * N * (K / 32));
    for (int g = 0; g < N / 16; g++)
        kiln_q4r_unpack(r + (size_t)g * 16 * kiln_row_size(KILN_TYPE_Q4_0_R16, K), K,
                        (char *)(back + (size_t)g * 16 * (K / 32)), kiln_row_size(KILN_TYPE_Q4_0, K));
    T_CHECK(memcmp(back, w, sizeof(block_q4_0) * N * (K / 32)) == 0, "q4_0_r16 unpacks to the source rows");
    free(w); free((void *)r); free(back);
}

/* Q5_0_R16: scales as Q4_0_R16's; in block b's 320 bytes at + 64 + (b%2)*320,
 * bit 4j+c of mask word 2u (2u+1) = bit 4u+c (4u+c+16) of row j's qh, and
 * qs[i] at + 64 + 64(i/4) + 4j + i%4; n·k/32·22 bytes; unpacking gives the rows back. */
static void test_layout_q5(void) {
    enum { N = 48, K = 192 };
    use_type(KIND_Q5_0);
    T_CHECK(kiln_row_size(KILN_TYPE_Q5_0_R16, K) == kiln_row_size(KILN_TYPE_Q5_0, K), "q5_0_r16 keeps q5_0's size");
    T_CHECK(kiln_row_size(KILN_TYPE_Q5_0_R16, 96) == 0, "q5_0_r16 rows are whole block pairs");
    block_q5_0 *w = make_q4(N, K);
    const uint8_t *r = repacked(w, N, K);
    int ok = 1;
    for (int64_t row = 0; row < N; row++)
        for (int64_t b = 0; b < K / 32; b++) {
            const block_q5_0 *src = &w[row * (K / 32) + b];
            const uint8_t *pair = r + (row / 16) * (K / 64) * 704 + (b / 2) * 704;
            const uint8_t *blk = pair + 64 + (b % 2) * 320;
            const int j = (int)(row % 16);
            uint16_t d;
            uint32_t qh;
            memcpy(&d, pair + (b % 2) * 32 + 2 * j, 2);
            memcpy(&qh, src->qh, 4);
            ok &= d == src->d;
            for (int i = 0; i < 16; i++) ok &= blk[64 + 64 * (i / 4) + 4 * j + i % 4] == src->qs[i];
            for (int e = 0; e < 32; e++) {
                const int word = 2 * ((e % 16) / 4) + e / 16, bit = 4 * j + e % 4;
                ok &= ((blk[8 * word + bit / 8] >> (bit % 8)) & 1) == ((qh >> e) & 1);
            }
        }
    T_CHECK(ok, "q5_0_r16 bytes and bits where kiln.h places them");
    block_q5_0 *back = t_alloc(sizeof(block_q5_0) * N * (K / 32));
    for (int g = 0; g < N / 16; g++)
        kiln_q5r_unpack(r + (size_t)g * 16 * kiln_row_size(KILN_TYPE_Q5_0_R16, K), K,
                        (char *)(back + (size_t)g * 16 * (K / 32)), kiln_row_size(KILN_TYPE_Q5_0, K));
    T_CHECK(memcmp(back, w, sizeof(block_q5_0) * N * (K / 32)) == 0, "q5_0_r16 unpacks to the source rows");
    free(w); free((void *)r); free(back);
}

/* IQ4_NL_R16: the bytes Q4_0_R16 makes of the same block bytes; n·k/32·18. */
static void test_layout_nl(void) {
    enum { N = 32, K = 320 };
    use_type(KIND_IQ4_NL);
    T_CHECK(kiln_row_size(KILN_TYPE_IQ4_NL_R16, K) == kiln_row_size(KILN_TYPE_IQ4_NL, K), "iq4_nl_r16 keeps iq4_nl's size");
    T_CHECK(kiln_row_size(KILN_TYPE_IQ4_NL_R16, 96) == 0, "iq4_nl_r16 rows are whole block pairs");
    void *w = make_q4(N, K);
    uint8_t *r = repacked(w, N, K), *r4 = t_alloc(kiln_row_size(KILN_TYPE_Q4_0_R16, K) * N);
    T_CHECK(kiln_repack(KILN_TYPE_Q4_0, w, N, K, r4) == KILN_OK, "repack the same bytes as q4_0");
    T_CHECK(memcmp(r, r4, kiln_row_size(KILN_TYPE_Q4_0_R16, K) * N) == 0, "iq4_nl_r16 bytes = q4_0_r16's");
    free(w); free(r); free(r4);
}

/* Q4_1_R16 and Q5_1_R16: d of row j, block b at pair + (b%2)*32 + 2j, m at
 * + 64 + (b%2)*32 + 2j; from + 128 + (b%2)*256 (320) the block as Q4_0_R16
 * (Q5_0_R16) lays it out, which the bytes of the same d and quants repacked
 * as Q4_0 (Q5_0) give; unpacking gives the rows back. */
static void test_layout_min(int kind) {
    enum { N = 32, K = 320, NB = K / 32 };
    use_type(kind);
    const int five = kind == KIND_Q5_1, src0 = five ? KILN_TYPE_Q5_0 : KILN_TYPE_Q4_0;
    const size_t pair_bytes = five ? 768 : 640, pair0 = five ? 704 : 576, qblock = five ? 320 : 256;
    T_CHECK(kiln_row_size(R16, K) == kiln_row_size(SRC, K), "%s keeps its source's size", NAME);
    T_CHECK(kiln_row_size(R16, 96) == 0, "%s rows are whole block pairs", NAME);
    uint8_t *w = make_q4(N, K), *w0 = t_alloc(kiln_row_size(src0, K) * N);
    const size_t blk0 = BLK - 2; /* the source block without m: Q4_0's (Q5_0's) */
    for (int64_t i = 0; i < N * NB; i++) {
        memcpy(w0 + i * blk0, w + i * BLK, 2);
        memcpy(w0 + i * blk0 + 2, w + i * BLK + 4, BLK - 4);
    }
    uint8_t *r = repacked(w, N, K), *r0 = t_alloc(kiln_row_size(src0, K) * N);
    T_CHECK(kiln_repack(src0, w0, N, K, r0) == KILN_OK, "%s: repack the same d and quants", NAME);
    int ok = 1;
    for (int64_t g = 0; g < N / 16; g++)
        for (int64_t p = 0; p < NB / 2; p++) {
            const uint8_t *pr = r + (g * (NB / 2) + p) * pair_bytes, *p0 = r0 + (g * (NB / 2) + p) * pair0;
            ok &= memcmp(pr, p0, 64) == 0 && memcmp(pr + 128, p0 + 64, 2 * qblock) == 0;
            for (int e = 0; e < 2; e++)
                for (int j = 0; j < 16; j++)
                    ok &= memcmp(pr + 64 + 32 * e + 2 * j, w + ((g * 16 + j) * NB + 2 * p + e) * BLK + 2, 2) == 0;
        }
    T_CHECK(ok, "%s bytes where kiln.h places them", NAME);
    uint8_t *back = t_alloc(kiln_row_size(SRC, K) * N);
    for (int g = 0; g < N / 16; g++)
        (five ? kiln_q51r_unpack : kiln_q41r_unpack)(r + (size_t)g * 16 * kiln_row_size(R16, K), K,
                                                     (char *)back + (size_t)g * 16 * kiln_row_size(SRC, K), kiln_row_size(SRC, K));
    T_CHECK(memcmp(back, w, kiln_row_size(SRC, K) * N) == 0, "%s unpacks to the source rows", NAME);
    free(w); free(w0); free(r); free(r0); free(back);
}

/* ---- results = the source type's ------------------------------------------ */
/* For one shape on one variant: the source weights on this variant = the
 * scalar source kernel, then the repacked weights = them (test_repacked.h). */
static void check_same(int isa, int64_t m, int64_t n, int64_t k) {
    void *w = make_q4(n, k);
    void *r = repacked(w, n, k);
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    float *yq = t_alloc(sizeof(float) * (size_t)(m * n)), *ys = t_alloc(sizeof(float) * (size_t)(m * n));
    t_fill(x, m * k, -1, 1);
    char what[160];
    snprintf(what, sizeof what, "%s %s m=%lld n=%lld k=%lld", NAME, kiln_isa_name(isa), (long long)m, (long long)n,
             (long long)k);
    kiln_init(1);
    kiln_set_isa(KILN_ISA_SCALAR);
    t_poison(ys, m * n);
    int rc = kiln_matmul(SRC, w, x, ys, m, n, k);
    kiln_set_isa(isa);
    t_poison(yq, m * n);
    rc |= kiln_matmul(SRC, w, x, yq, m, n, k);
    char msg[220];
    snprintf(msg, sizeof msg, "%s: the source kernel = the scalar source kernel (status %d)", what, rc);
    t_identical(msg, ys, yq, m * n);
    t_check_repacked(isa, R16, r, x, yq, m, n, k, what);
    free(w); free(r); free(x); free(yq); free(ys);
}

static void test_same_as_source(void) {
    static const int64_t shapes[][2] = {
        /* n, k: one group; odd pair counts and block counts not a multiple of 8 (k/32 = 18, 34);
         * the model shapes' k; k past the direct kernels' X-correction chunks (1024 and
         * 2048 blocks: 65600 = 2050 blocks); n large enough that the driver hands a
         * kernel call several groups (GEMV runs of 12-15 groups at k = 2048, 4 at
         * k = 8192): the AVX-512 kernel's two streams, even and odd group counts */
        {16, 64}, {48, 576}, {32, 1088}, {64, 2048}, {16, 8192}, {32, 65600}, {1008, 2048}, {208, 8192},
    };
    static const int64_t ms[] = {1, 2, 3, 4, 5, 7, 13, 17};
    for (int v = 0; v < n_isas; v++)
        for (int s = 0; s < COUNT(shapes); s++)
            for (int c = 0; c < COUNT(ms); c++) {
                if (shapes[s][1] > 8192 && ms[c] > 4) continue; /* the GEMV's shape; the GEMM's k is covered above */
                check_same(isas[v], ms[c], shapes[s][0], shapes[s][1]);
            }
    kiln_init(0);
}

/* Extreme products through the direct kernels: every nibble 0 or 15 or a
 * byte of each (0x0F, 0xF0: low and high nibbles apart; IQ4_NL: values
 * -127 and 113), Q5_0 with every fifth bit clear, set, or set on one half
 * of the elements only; X quants ±127 (scales 1): every block dot and lane
 * sum is exact, and the results are the source weights'. */
static void test_extremes(int kind) {
    const int five = kind == KIND_Q5_0 || kind == KIND_Q5_1, nl = kind == KIND_IQ4_NL;
    enum { M = 3, N = 32, K = 8192 };
    static const uint8_t bytes[] = {0x00, 0xFF, 0x0F, 0xF0};
    static const uint32_t qhs[] = {0, 0xFFFFFFFFu, 0x0000FFFFu, 0xFFFF0000u};
    uint8_t *w = t_alloc(BLK * (size_t)N * (K / 32));
    float *x = t_alloc(sizeof(float) * M * K), *y = t_alloc(sizeof(float) * M * N), *yq = t_alloc(sizeof(float) * M * N);
    for (int hi_bits = 0; hi_bits < (five ? COUNT(qhs) : 1); hi_bits++)
        for (int bi = 0; bi < COUNT(bytes); bi++) {
            for (int64_t i = 0; i < (int64_t)N * (K / 32); i++) {
                uint8_t *blk = w + (size_t)i * BLK;
                const uint16_t one = kiln_fp32_to_fp16(1.0f);
                memcpy(blk, &one, 2);
                if (MIN) memcpy(blk + 2, &one, 2); /* m = 1: + Σx per block */
                if (five) memcpy(blk + (MIN ? 4 : 2), &qhs[hi_bits], 4);
                memset(blk + (MIN ? 4 : 2) + (five ? 4 : 0), bytes[bi], 16);
            }
            void *r = repacked(w, N, K);
            const int off = MIN ? 0 : five ? 16 : 8, h_lo = five && (qhs[hi_bits] & 1) ? 16 : 0,
                      h_hi = five && (qhs[hi_bits] >> 31) ? 16 : 0;
            const int lo = nl ? kiln_iq4nl_values[bytes[bi] & 0xF] : (bytes[bi] & 0xF) + h_lo - off,
                      hi = nl ? kiln_iq4nl_values[bytes[bi] >> 4] : (bytes[bi] >> 4) + h_hi - off;
            for (int v = 0; v < n_isas; v++) {
                kiln_set_isa(isas[v]);
                for (int one_sign = 0; one_sign < 2; one_sign++) {
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t c = 0; c < K; c++) x[i * K + c] = one_sign || (i + c / 32) % 2 == 0 ? 127.0f : -127.0f;
                    const float want = one_sign ? 127.0f * (float)(16 * (lo + hi) + (MIN ? 32 : 0)) * (K / 32) : 0.0f;
                    for (int m = 1; m <= M; m++) {
                        t_poison(y, M * N);
                        t_poison(yq, M * N);
                        int rc = kiln_matmul(R16, r, x, y, m, N, K);
                        rc |= kiln_matmul(SRC, w, x, yq, m, N, K);
                        int ok = rc == KILN_OK;
                        for (int64_t i = 0; i < m * N; i++) ok &= y[i] == want && yq[i] == want;
                        T_CHECK(ok, "%s extreme byte 0x%02x qh 0x%08x (%s, m=%d, %s): status %d, y[0] = %.9g, source %.9g, want %.9g",
                                NAME, bytes[bi], five ? qhs[hi_bits] : 0, kiln_isa_name(isas[v]), m,
                                one_sign ? "one sign" : "alternating", rc, y[0], yq[0], want);
                    }
                }
            }
            free(r);
        }
    free(w); free(x); free(y); free(yq);
}

int main(void) {
    n_isas = t_repacked_start("matmul_q4r", isas);
    test_layout_q4();
    test_layout_q5();
    test_layout_nl();
    test_layout_min(KIND_Q4_1);
    test_layout_min(KIND_Q5_1);
    for (int kind = 0; kind < KINDS; kind++) {
        use_type(kind);
        test_same_as_source();
        test_extremes(kind);
    }
    return t_done();
}
