/* test_repack_formats.c — what every repacked format (repack.h's registry)
 * must do whatever its layout, checked once for all of them, so a new
 * format is covered by registering it:
 *  - kiln_repack_type picks it on every SIMD variant and never on scalar;
 *  - every error code of kiln_repack and of kiln_matmul on the repacked
 *    type, with nothing written by a refused call; dequantize and get_rows
 *    refuse it (its rows are interleaved);
 *  - in kiln_matmul_multi beside its source type, Q8_0 and F32 outputs it
 *    gives the bits of separate calls with the source weights;
 *  - read from a buffer that does not start on a cache line (a caller's
 *    own allocation, a view into a larger mapping) it gives the aligned
 *    copy's bits instead of faulting on an aligned vector load;
 *  - every table's unpack of a group (an ISA's own, or the format's
 *    portable one), which prefill's GEMM path runs, gives back the source
 *    rows byte for byte, into rows with a stride wider than a row.
 * Each format's own test (test_matmul_q8r, _q4kr, _q6r, _q4r, ...) checks
 * its layout byte for byte and its kernels against the source rule. */
#include "test_util.h"

#include "kernels.h"
#include "repack.h"

static int isas[KILN_ISA_COUNT + 1], n_isas; /* scalar first, then the supported SIMD ones */

/* source_weights returns n rows of k weights of type src, quantized by the
 * library from uniform floats. */
static void *source_weights(int src, int64_t n, int64_t k) {
    float *f = t_alloc(sizeof(float) * (size_t)(n * k));
    t_fill(f, n * k, -1, 1);
    void *w = t_alloc(kiln_row_size(src, k) * (size_t)n);
    T_CHECK(kiln_quantize(src, f, w, n, k) == KILN_OK, "quantize %s n=%lld k=%lld", kiln_type_traits_of(src)->name,
            (long long)n, (long long)k);
    free(f);
    return w;
}

/* repacked returns kiln_repack's copy of w (checked to succeed). */
static void *repacked(const kiln_r16_format *f, const void *w, int64_t n, int64_t k) {
    void *r = t_alloc(kiln_row_size(f->to, k) * (size_t)n);
    const int rc = kiln_repack(f->from, w, n, k, r);
    T_CHECK(rc == KILN_OK, "repack %s n=%lld k=%lld: status %d", kiln_type_traits_of(f->to)->name, (long long)n,
            (long long)k, rc);
    return r;
}

static void test_dispatch(const kiln_r16_format *f) {
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        const int direct = isas[v] != KILN_ISA_SCALAR; /* the SIMD variants read the groups directly */
        T_CHECK(kiln_repack_type(f->from) == (direct ? f->to : -1), "repack_type(%s) on %s: %d",
                kiln_type_traits_of(f->from)->name, kiln_isa_name(isas[v]), kiln_repack_type(f->from));
    }
    kiln_init(0);
}

static void test_errors(const kiln_r16_format *f) {
    const char *name = kiln_type_traits_of(f->to)->name;
    const int64_t blk = kiln_type_traits_of(f->to)->block; /* k must be whole blocks of the repacked type */
    const int64_t k = 2 * blk, k_bad = blk + blk / 2;      /* k_bad: whole source blocks, not whole repacked ones */
    void *w = source_weights(f->from, 32, k);
    void *r = t_alloc(kiln_row_size(f->to, k) * 32);
    float *x = t_alloc(sizeof(float) * (size_t)(2 * k)), y[512]; /* room for a get_rows row (k <= 512) */
    t_fill(x, 2 * k, -1, 1);
    T_CHECK(kiln_repack(f->from, NULL, 32, k, r) == KILN_ERR_NULL, "%s: repack NULL w", name);
    T_CHECK(kiln_repack(f->from, w, 32, k, NULL) == KILN_ERR_NULL, "%s: repack NULL out", name);
    T_CHECK(kiln_repack(f->from, w, 24, k, r) == KILN_ERR_ALIGN, "%s: repack n %% 16 != 0", name);
    T_CHECK(kiln_repack(f->from, w, 32, k_bad, r) == KILN_ERR_ALIGN, "%s: repack k %% %lld != 0", name, (long long)blk);
    T_CHECK(kiln_repack(f->from, w, 32, k + 1, r) == KILN_ERR_ALIGN, "%s: repack k not whole source blocks", name);
    T_CHECK(kiln_repack(f->from, w, 0, k, r) == KILN_ERR_SIZE, "%s: repack n = 0", name);
    T_CHECK(kiln_repack(f->from, w, -16, k, r) == KILN_ERR_SIZE, "%s: repack n < 0", name);
    T_CHECK(kiln_repack(f->from, w, 32, -blk, r) == KILN_ERR_SIZE, "%s: repack k < 0", name);
    T_CHECK(kiln_repack(f->from, w, 32, k, r) == KILN_OK, "%s: repack", name);
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int i = 0; i < 64; i++) y[i] = NAN;
        const char *isa = kiln_isa_name(isas[v]);
        T_CHECK(kiln_matmul(f->to, r, x, y, 1, 24, k) == KILN_ERR_ALIGN, "%s on %s: matmul n %% 16 != 0", name, isa);
        T_CHECK(kiln_matmul(f->to, r, x, y, 1, 16, k_bad) == KILN_ERR_ALIGN, "%s on %s: matmul k %% %lld != 0", name,
                isa, (long long)blk);
        T_CHECK(kiln_matmul(f->to, NULL, x, y, 1, 16, k) == KILN_ERR_NULL, "%s on %s: matmul NULL w", name, isa);
        T_CHECK(isnan(y[0]) && isnan(y[63]), "%s on %s: a refused call writes nothing", name, isa);
        T_CHECK(kiln_dequantize(f->to, r, y, blk) == KILN_ERR_TYPE, "%s on %s: dequantize (rows interleaved)", name, isa);
        const int32_t id = 0;
        T_CHECK(kiln_get_rows(f->to, r, 32, k, &id, 1, y) == KILN_ERR_TYPE, "%s on %s: get_rows", name, isa);
    }
    kiln_init(0);
    free(w); free(r); free(x);
}

/* kiln_matmul_multi with the repacked type beside its source, Q8_0 and F32
 * outputs = separate calls (the repacked one's with its source weights). */
static void test_multi(const kiln_r16_format *f) {
    enum { K = 768, OUTS = 4 }; /* whole blocks of every repacked type (64 and 256 elements) */
    const int64_t ns[OUTS] = {64, 48, 32, 16};
    const int types[OUTS] = {f->to, f->from, KILN_TYPE_Q8_0, KILN_TYPE_F32};
    void *src = source_weights(f->from, ns[0], K);
    void *ws[OUTS] = {repacked(f, src, ns[0], K), source_weights(f->from, ns[1], K), source_weights(KILN_TYPE_Q8_0, ns[2], K),
                      t_alloc(sizeof(float) * (size_t)(ns[3] * K))};
    t_fill(ws[3], ns[3] * K, -1, 1);
    for (int v = 0; v < n_isas; v++)
        for (int m = 1; m <= 5; m += 2) {
            kiln_init(2);
            kiln_set_isa(isas[v]);
            float *x = t_alloc(sizeof(float) * (size_t)(m * K));
            t_fill(x, m * K, -1, 1);
            float *want[OUTS], *got[OUTS];
            kiln_matmul_out outs[OUTS];
            for (int o = 0; o < OUTS; o++) {
                want[o] = t_alloc(sizeof(float) * (size_t)(m * ns[o]));
                got[o] = t_alloc(sizeof(float) * (size_t)(m * ns[o]));
                t_poison(want[o], m * ns[o]);
                t_poison(got[o], m * ns[o]);
                const int rc = kiln_matmul(o == 0 ? f->from : types[o], o == 0 ? src : ws[o], x, want[o], m, ns[o], K);
                T_CHECK(rc == KILN_OK, "separate call %d: status %d", o, rc);
                outs[o] = (kiln_matmul_out){.wtype = types[o], .w = ws[o], .y = got[o], .n = ns[o]};
            }
            const int rc = kiln_matmul_multi(x, m, K, outs, OUTS);
            for (int o = 0; o < OUTS; o++) {
                char what[160];
                snprintf(what, sizeof what, "multi with %s on %s, m=%d: output %d (%s, status %d)",
                         kiln_type_traits_of(f->to)->name, kiln_isa_name(isas[v]), m, o, kiln_type_traits_of(types[o])->name, rc);
                t_identical(what, want[o], got[o], m * ns[o]);
                free(want[o]); free(got[o]);
            }
            free(x);
        }
    kiln_init(0);
    free(src);
    for (int o = 0; o < OUTS; o++) free(ws[o]);
}

static void test_unaligned(const kiln_r16_format *f) {
    enum { M = 3, N = 32, K = 512, SHIFT = 4 };
    void *w = source_weights(f->from, N, K);
    void *r = repacked(f, w, N, K);
    const size_t bytes = kiln_row_size(f->to, K) * N;
    uint8_t *shifted = t_alloc(bytes + 64);
    memcpy(shifted + SHIFT, r, bytes);
    float x[M * K], want[M * N], got[M * N];
    t_fill(x, M * K, -1, 1);
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        for (int m = 1; m <= M; m++) {
            t_poison(want, M * N);
            t_poison(got, M * N);
            int rc = kiln_matmul(f->to, r, x, want, m, N, K);
            rc |= kiln_matmul(f->to, shifted + SHIFT, x, got, m, N, K);
            char what[120];
            snprintf(what, sizeof what, "%s buffer at +%d bytes (%s, m=%d, status %d)", kiln_type_traits_of(f->to)->name,
                     SHIFT, kiln_isa_name(isas[v]), m, rc);
            t_identical(what, want, got, m * N);
        }
    }
    kiln_init(0);
    free(w); free(r); free(shifted);
}

static void test_unpack(const kiln_r16_format *f) {
    const int64_t blk = kiln_type_traits_of(f->to)->block;
    const int64_t ks[] = {blk, 2 * blk, 7 * blk, 64 * blk};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        const int64_t k = ks[i];
        void *w = source_weights(f->from, KILN_R16_ROWS, k);
        void *r = repacked(f, w, KILN_R16_ROWS, k);
        const size_t row_bytes = kiln_row_size(f->from, k), stride = row_bytes + 40; /* rows of a larger scratch */
        char *rows = t_alloc(stride * KILN_R16_ROWS);
        for (int v = 0; v < n_isas; v++) {
            kiln_set_isa(isas[v]);
            const kiln_type_kernels *row = &kiln_kernels_active()->types[f->to];
            memset(rows, 0xA5, stride * KILN_R16_ROWS);
            (row->r16_unpack ? row->r16_unpack : f->unpack)(r, k, rows, stride);
            int bad = 0;
            for (int j = 0; j < KILN_R16_ROWS; j++) {
                bad |= memcmp(rows + (size_t)j * stride, (const char *)w + (size_t)j * row_bytes, row_bytes) != 0;
                for (size_t e = row_bytes; e < stride; e++) bad |= (uint8_t)rows[(size_t)j * stride + e] != 0xA5;
            }
            T_CHECK(!bad, "unpack of %s on %s (%s), k=%lld: source rows byte for byte, nothing past them",
                    kiln_type_traits_of(f->to)->name, kiln_isa_name(isas[v]), row->r16_unpack ? "its own" : "portable",
                    (long long)k);
        }
        free(w); free(r); free(rows);
    }
    /* which tables bring their own (SIMD) unpack: the checks above reached them */
    printf("  unpack of %s, its own on:", kiln_type_traits_of(f->to)->name);
    int own = 0;
    for (int v = 0; v < n_isas; v++) {
        kiln_set_isa(isas[v]);
        if (!kiln_kernels_active()->types[f->to].r16_unpack) continue;
        printf(" %s", kiln_isa_name(isas[v]));
        own++;
    }
    printf("%s\n", own ? "" : " none (the portable one everywhere)");
    kiln_init(0);
}

int main(void) {
    t_seed("repack_formats");
    kiln_init(0);
    isas[n_isas++] = KILN_ISA_SCALAR;
    n_isas += t_simd_isas(isas + n_isas);
    T_CHECK(kiln_repack(KILN_TYPE_F16, isas, 16, 64, isas) == KILN_ERR_TYPE, "repack of a type with no layout");
    T_CHECK(kiln_repack_type(KILN_TYPE_F16) == -1, "repack_type(f16)");
    int formats = 0;
    for (int to = 0; to < KILN_TYPE_SLOTS; to++) {
        const kiln_r16_format *f = kiln_r16_format_of(to);
        if (!f) continue;
        printf("format %s -> %s\n", kiln_type_traits_of(f->from)->name, kiln_type_traits_of(f->to)->name);
        formats++;
        test_dispatch(f);
        test_errors(f);
        test_multi(f);
        test_unaligned(f);
        test_unpack(f);
    }
    T_CHECK(formats >= 5, "the registry lists %d formats", formats);
    return t_done();
}
