/* kiln-bench — the kernels in isolation, no Go involved: first this
 * machine's ceilings (read bandwidth, FMA peak, int8 multiply-accumulate and bf16
 * pair-dot peaks) for each thread count, then each kernel at real model shapes with its
 * ratio to the relevant ceiling (Q8_0 GEMM: to the FMA and the int8 peak).
 *
 *   kiln-bench [--quick] [--attention] [--ports] [--threads 1,2] [--isa scalar|avx2|avx512|amx]
 *
 * --ports measures which instructions share VPDPBUSD's pipes (ports.c).
 * --attention runs the paged-attention kernels only (decode with F16 and
 * Q8_0 caches at 1k and 4k tokens of context, side by side; prefill).
 *
 * Weights are rotated over copies totalling COLD_BYTES so that m = 1 (GEMV)
 * streams from DRAM as a real forward pass does. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLD_BYTES ((size_t)256 << 20)

int kiln_bench_ports(void); /* ports.c */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, unsigned seed) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        x[i] = (float)(s >> 8) / (float)(1 << 23) - 1.0f;
    }
}

typedef struct { const char *model; int n, k; } shape;
static const shape k_shapes[] = {
    {"smollm2-135m", 576, 576}, {"smollm2-135m", 1536, 576}, {"smollm2-135m", 576, 1536},
    {"smollm2-135m", 49152, 576}, {"llama3.2-1b", 2048, 2048}, {"llama3.2-1b", 8192, 2048},
    {"llama3.2-1b", 2048, 8192}, {"llama3.2-1b", 128256, 2048},
};
static const int k_types[] = {KILN_TYPE_F32, KILN_TYPE_F16, KILN_TYPE_BF16, KILN_TYPE_Q8_0};
static const char *type_name(int t) {
    return t == KILN_TYPE_F32 ? "f32" : t == KILN_TYPE_F16 ? "f16" : t == KILN_TYPE_BF16 ? "bf16" : "q8_0";
}

/* make_weights encodes n*k random values as type t and copies them until
 * the copies total COLD_BYTES; returns the copy count. */
static int make_weights(int t, int n, int k, void ***copies, size_t *bytes) {
    size_t nk = (size_t)n * k;
    float *f = malloc(nk * sizeof(float));
    if (!f) return 0;
    fill(f, nk, (unsigned)(n * 31 + k));
    *bytes = kiln_row_size(t, k) * (size_t)n;
    void *w = malloc(*bytes);
    if (!w) { free(f); return 0; }
    switch (t) {
    case KILN_TYPE_F32: memcpy(w, f, *bytes); break;
    case KILN_TYPE_F16: kiln_f32_to_f16(f, w, (int64_t)nk); break;
    case KILN_TYPE_BF16: kiln_f32_to_bf16(f, w, (int64_t)nk); break;
    default: kiln_quantize_q8_0(f, w, (int64_t)nk); break;
    }
    free(f);
    int count = (int)((COLD_BYTES + *bytes - 1) / *bytes);
    if (count < 1) count = 1;
    *copies = calloc((size_t)count, sizeof(void *));
    (*copies)[0] = w;
    for (int i = 1; i < count; i++) {
        (*copies)[i] = malloc(*bytes);
        if (!(*copies)[i]) { count = i; break; }
        memcpy((*copies)[i], w, *bytes);
    }
    return count;
}

enum { MAX_RUNS = 1 << 16 };

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median sorts runs in place and returns the middle one. The median, not
 * the best: one short call can burst past what memory sustains, and the
 * ceilings it is compared with are sustained rates. */
static double median(double *runs, int n) {
    qsort(runs, (size_t)n, sizeof(double), cmp_double);
    return runs[n / 2];
}

/* time_matmul returns the median seconds per call within about min_time. */
static double time_matmul(int t, void **w, int copies, const float *x, float *y, int m, int n, int k,
                          double min_time, double *runs) {
    double start = now();
    int i = 1; /* w[0] is warm after this call: timed calls start at the next copy */
    kiln_matmul(t, w[0], x, y, m, n, k);
    int nr = 0;
    do {
        double t0 = now();
        int rc = kiln_matmul(t, w[i++ % copies], x, y, m, n, k);
        if (rc != KILN_OK) { fprintf(stderr, "matmul: %s\n", kiln_strerror(rc)); exit(1); }
        runs[nr++] = now() - t0;
    } while (nr < MAX_RUNS && (nr < 3 || now() - start < min_time));
    return median(runs, nr);
}

/* attn_row_bytes is one cache row of d values in type (kiln.h's layout). */
static size_t attn_row_bytes(int type, int d) {
    return type == KILN_TYPE_Q8_0 ? (size_t)(d + 31) / 32 * 34 : (size_t)d * (type == KILN_TYPE_F16 ? 2 : 4);
}

/* bench_attention_decode: 4 sequences x ctx cached tokens, Llama-3.2-1B heads
 * (32 q / 8 kv, d 64), a K/V cache of type; GB/s counts the K and V bytes read. */
static void bench_attention_decode(int type, int ctx, double bw, double min_time) {
    kiln_kv_layout kv = {.n_head = 32, .n_head_kv = 8, .head_dim = 64, .block_size = 16, .kv_type = type, .scale = 0.125f};
    const int n_seq = 4, max_blocks = ctx / 16;
    kv.n_blocks = n_seq * max_blocks;
    const size_t rows = (size_t)kv.n_blocks * kv.n_head_kv * kv.block_size, pool = rows * attn_row_bytes(type, 64);
    kv.k_cache = calloc(1, pool);
    kv.v_cache = calloc(1, pool);
    int32_t *tables = malloc(sizeof(int32_t) * n_seq * max_blocks), lens[4];
    for (int i = 0; i < n_seq * max_blocks; i++) tables[i] = i;
    const size_t qn = (size_t)n_seq * kv.n_head * kv.head_dim;
    float *q = malloc(qn * sizeof(float)), *out = malloc(qn * sizeof(float));
    fill(q, qn, 3);
    float *kvrow = malloc(rows * 64 * sizeof(float));
    fill(kvrow, rows * 64, 5);
    int32_t *slots = malloc(sizeof(int32_t) * kv.n_blocks * 16);
    for (int i = 0; i < kv.n_blocks * 16; i++) slots[i] = i;
    kiln_kv_store(&kv, kvrow, kvrow, slots, kv.n_blocks * 16);
    for (int s = 0; s < n_seq; s++) lens[s] = ctx;
    double *runs = malloc(sizeof(double) * MAX_RUNS), start = now();
    int nr = 0;
    do {
        double t0 = now();
        kiln_attn_decode(&kv, q, out, n_seq, tables, max_blocks, lens);
        runs[nr++] = now() - t0;
    } while (nr < MAX_RUNS && (nr < 3 || now() - start < min_time));
    const double best = median(runs, nr), bytes = 2.0 * pool;
    char name[32], shape[32];
    snprintf(name, sizeof name, "attn_decode %s", type == KILN_TYPE_Q8_0 ? "q8_0" : "f16");
    snprintf(shape, sizeof shape, "4 seq x %d ctx", ctx);
    printf("%-22s %-22s %9.3f ms %8.2f GB/s   %5.1f%% of read bw\n", name, shape, best * 1e3, bytes / best * 1e-9,
           100 * bytes / best * 1e-9 / bw);
    free(runs); free(kv.k_cache); free(kv.v_cache); free(tables); free(q); free(out); free(kvrow); free(slots);
}

static void bench_attention(double bw, double peak, double min_time) {
    /* decode at 1k and 4k tokens of context, F16 and Q8_0 caches side by side */
    for (int ctx = 1024; ctx <= 4096; ctx *= 4)
        for (int t = 0; t < 2; t++) bench_attention_decode(t ? KILN_TYPE_Q8_0 : KILN_TYPE_F16, ctx, bw, min_time);
    /* prefill: one sequence of 512 new tokens, F16 K/V */
    kiln_kv_layout kv = {.n_head = 32, .n_head_kv = 8, .head_dim = 64, .block_size = 16,
                         .kv_type = KILN_TYPE_F16, .scale = 0.125f};
    const int ctx = 512, max_blocks = ctx / 16;
    kv.n_blocks = max_blocks;
    size_t pool = (size_t)kv.n_blocks * kv.n_head_kv * kv.block_size * kv.head_dim * 2;
    kv.k_cache = calloc(1, pool);
    kv.v_cache = calloc(1, pool);
    int32_t *tables = malloc(sizeof(int32_t) * max_blocks), q_start[2], ctx_lens[1];
    for (int i = 0; i < max_blocks; i++) tables[i] = i;
    size_t qn = (size_t)ctx * kv.n_head * kv.head_dim;
    float *q = malloc(qn * sizeof(float)), *out = malloc(qn * sizeof(float));
    fill(q, qn, 3);
    float *kvrow = malloc((size_t)kv.n_blocks * 16 * kv.n_head_kv * kv.head_dim * sizeof(float));
    fill(kvrow, (size_t)kv.n_blocks * 16 * kv.n_head_kv * kv.head_dim, 5);
    int32_t *slots = malloc(sizeof(int32_t) * kv.n_blocks * 16);
    for (int i = 0; i < kv.n_blocks * 16; i++) slots[i] = i;
    kiln_kv_store(&kv, kvrow, kvrow, slots, kv.n_blocks * 16);
    double *runs = malloc(sizeof(double) * MAX_RUNS), start = now();
    q_start[0] = 0; q_start[1] = 512; ctx_lens[0] = 512;
    int nr = 0;
    do {
        double t0 = now();
        kiln_attn_prefill(&kv, q, out, 1, q_start, ctx_lens, tables, max_blocks);
        runs[nr++] = now() - t0;
    } while (nr < MAX_RUNS && (nr < 3 || now() - start < min_time));
    const double best = median(runs, nr);
    /* causal: QK and PV over ~n²/2 pairs, 2 flops per MAC, 32 heads, d 64 */
    double flops = 2.0 * 2.0 * 32 * 64 * (512.0 * 513.0 / 2.0);
    printf("%-22s %-22s %9.3f ms %8.2f GFLOP/s %5.1f%% of fma peak\n", "attn_prefill f16", "512 tokens causal",
           best * 1e3, flops / best * 1e-9, 100 * flops / best * 1e-9 / peak);
    free(runs); free(kv.k_cache); free(kv.v_cache); free(tables); free(q); free(out); free(kvrow); free(slots);
}

int main(int argc, char **argv) {
    int quick = 0, only_attention = 0, ports = 0, threads[4] = {1, 2}, n_threads = 2;
    const char *isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--attention")) only_attention = 1;
        else if (!strcmp(argv[i], "--ports")) ports = 1;
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = sscanf(argv[++i], "%d,%d,%d,%d", &threads[0], &threads[1], &threads[2], &threads[3]);
        } else {
            fprintf(stderr, "usage: %s [--quick] [--attention] [--ports] [--threads 1,2] [--isa scalar|avx2|avx512|amx]\n",
                    argv[0]);
            return 2;
        }
    }
    if (ports) return kiln_bench_ports();
    double min_time = quick ? 0.05 : 0.3;
    double *runs = malloc(sizeof(double) * MAX_RUNS);
    if (!runs) return 1;
    for (int ti = 0; ti < n_threads; ti++) {
        int rc = kiln_init(threads[ti]);
        if (rc != KILN_OK) { fprintf(stderr, "kiln_init: %s\n", kiln_strerror(rc)); return 1; }
        if (isa) {
            int chosen = -1;
            for (int v = 0; v < KILN_ISA_COUNT; v++)
                if (!strcmp(isa, kiln_isa_name(v))) chosen = v;
            if (kiln_set_isa(chosen) != KILN_OK) { fprintf(stderr, "--isa %s: not supported here\n", isa); return 1; }
        }
        double bw = 0, peak = 0, int8_peak = 0, bf16_peak = 0;
        kiln_probe_read_bandwidth(2 * COLD_BYTES, threads[ti], 5, &bw);
        kiln_probe_fma_peak(threads[ti], 0.5, &peak);
        kiln_probe_int8_peak(threads[ti], 0.5, &int8_peak);
        kiln_probe_bf16_peak(threads[ti], 0.5, &bf16_peak);
        printf("\n== %d thread(s), variant %s: read %.1f GB/s, FMA peak %.1f GFLOP/s, int8 peak %.1f GOP/s, "
               "bf16 peak %.1f GFLOP/s ==\n",
               threads[ti], kiln_isa_name(kiln_get_isa()), bw, peak, int8_peak, bf16_peak);
        int n_shapes = only_attention ? 0 : quick ? 3 : (int)(sizeof k_shapes / sizeof k_shapes[0]);
        for (int si = 0; si < n_shapes; si++) {
            const shape *s = &k_shapes[si];
            for (size_t ty = 0; ty < sizeof k_types / sizeof k_types[0]; ty++) {
                void **w = NULL;
                size_t wbytes = 0;
                int copies = make_weights(k_types[ty], s->n, s->k, &w, &wbytes);
                if (!copies) { fprintf(stderr, "out of memory\n"); return 1; }
                const int ms[2] = {1, 128};
                for (int mi = 0; mi < 2; mi++) {
                    int m = ms[mi];
                    float *x = malloc(sizeof(float) * (size_t)m * s->k);
                    float *y = malloc(sizeof(float) * (size_t)m * s->n);
                    fill(x, (size_t)m * s->k, 7);
                    double sec = time_matmul(k_types[ty], w, copies, x, y, m, s->n, s->k, min_time, runs);
                    double gflops = 2.0 * m * s->n * (double)s->k / sec * 1e-9;
                    double gbps = ((double)wbytes + 4.0 * m * (s->k + s->n)) / sec * 1e-9;
                    char label[64];
                    snprintf(label, sizeof label, "%dx%d m=%d", s->n, s->k, m);
                    char int8[32] = "";
                    if (m > 1 && k_types[ty] == KILN_TYPE_Q8_0)
                        snprintf(int8, sizeof int8, ", %5.1f%% of int8 peak", 100 * gflops / int8_peak);
                    /* BF16 GEMM: against its own instruction's peak (VDPBF16PS where it runs on it) */
                    const int bf16 = m > 1 && k_types[ty] == KILN_TYPE_BF16;
                    printf("matmul %-15s %-22s %9.3f ms %8.2f GFLOP/s %8.2f GB/s  %5.1f%% of %s%s\n",
                           type_name(k_types[ty]), label, sec * 1e3, gflops, gbps,
                           m == 1 ? 100 * gbps / bw : 100 * gflops / (bf16 ? bf16_peak : peak),
                           m == 1 ? "read bw" : bf16 ? "bf16 peak" : "fma peak", int8);
                    free(x);
                    free(y);
                }
                for (int i = 0; i < copies; i++) free(w[i]);
                free(w);
            }
        }
        bench_attention(bw, peak, min_time);
    }
    free(runs);
    kiln_shutdown();
    return 0;
}
