/* probe.c — the machine's own ceilings, measured in the same run as the
 * kernels they judge: memory read bandwidth, peak f32 FMA throughput,
 * peak int8 multiply-accumulate throughput (the Q8_0 kernels' instructions)
 * and the bf16 pair-dot peak (VDPBF16PS, the BF16 kernels' instruction).
 * Benchmarks report kernels as a fraction of these, never as absolute times
 * alone (absolute times on shared machines are noisy). */
#include "kiln_internal.h"
#include "arch/x86/amx.h"

#include <stdlib.h>
#include <time.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if KILN_X86
#include <immintrin.h>
#endif

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- read bandwidth ------------------------------------------------------ */
typedef struct {
    const float *buf;
    int64_t n;            /* floats */
    int sequential;       /* 1: each share as one stream (read_seq_avx2), 0: as 8 (read_avx2) */
    double sums[KILN_MAX_THREADS];
} read_task;

/* read_ref sums its share with 8 independent accumulators (no FP dependency
 * chain on the load stream). */
static float read_ref(const float *p, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += p[i + j];
    for (; i < n; i++) acc[0] += p[i];
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
}

#if KILN_X86
#ifndef KILN_PROBE_PREFETCH
#define KILN_PROBE_PREFETCH 256 /* floats ahead in each stream */
#endif

/* read_avx2 reads its share as 8 interleaved sequential streams: a single
 * stream is capped by one prefetcher's reach, while kernels (a GEMV walks 8
 * weight rows at once) draw on several, and the ceiling must be what a
 * kernel can actually reach. */
KILN_TARGET_AVX2 static float read_avx2(const float *p, int64_t n) {
    enum { STREAMS = 8 };
    const int64_t seg = (n / STREAMS) & ~(int64_t)31;
    __m256 acc[STREAMS];
    for (int s = 0; s < STREAMS; s++) acc[s] = _mm256_setzero_ps();
    for (int64_t i = 0; i < seg; i += 16) {
#pragma GCC unroll 8
        for (int s = 0; s < STREAMS; s++) {
            const float *q = p + s * seg + i;
            _mm_prefetch((const char *)(q + KILN_PROBE_PREFETCH), _MM_HINT_T1);
            acc[s] = _mm256_add_ps(acc[s], _mm256_add_ps(_mm256_load_ps(q), _mm256_load_ps(q + 8)));
        }
    }
    __m256 t = acc[0];
    for (int s = 1; s < STREAMS; s++) t = _mm256_add_ps(t, acc[s]);
    float l[8];
    _mm256_storeu_ps(l, t);
    return l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7] + read_ref(p + STREAMS * seg, n - STREAMS * seg);
}

/* read_seq_avx2 reads its share front to back as one stream with no
 * software prefetch: what a kernel reading a repacked layout does, and on
 * some cores (Zen 5: ~60 GB/s against ~30 for 8 streams, one thread) far
 * more than the interleaved streams get. */
KILN_TARGET_AVX2 static float read_seq_avx2(const float *p, int64_t n) {
    __m256 acc[4];
    for (int s = 0; s < 4; s++) acc[s] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int s = 0; s < 4; s++)
            acc[s] = _mm256_add_ps(acc[s], _mm256_add_ps(_mm256_load_ps(p + i + 16 * s), _mm256_load_ps(p + i + 16 * s + 8)));
    const __m256 t = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    float l[8];
    _mm256_storeu_ps(l, t);
    return l[0] + l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7] + read_ref(p + i, n - i);
}
#endif

static void read_worker(void *arg, int ith, int nth) {
    read_task *t = arg;
    int64_t lo, hi;
    kiln_split(t->n, ith, nth, 1024, &lo, &hi);
#if KILN_X86
    if (kiln_active_isa() >= KILN_ISA_AVX2) {
        t->sums[ith] = t->sequential ? read_seq_avx2(t->buf + lo, hi - lo) : read_avx2(t->buf + lo, hi - lo);
        return;
    }
#endif
    t->sums[ith] = read_ref(t->buf + lo, hi - lo);
}

int kiln_probe_read_bandwidth(size_t bytes, int n_threads, int reps, double *gbps) {
    if (!gbps) return KILN_ERR_NULL;
    if (bytes < 4096 || n_threads < 1 || reps < 1) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    if (n_threads > kiln_pool_size()) n_threads = kiln_pool_size();
    /* huge pages where the system grants them on request, as a loaded
     * model's repacked weights are held: the ceiling of the memory the
     * decode GEMVs actually stream (a plain read measured alike on both
     * kinds of page on the Xeon; the GEMVs did not) */
    const size_t huge = (size_t)2 << 20;
    float *buf = NULL;
    if (posix_memalign((void **)&buf, huge, bytes)) return KILN_ERR_NOMEM;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(buf, bytes / huge * huge, MADV_HUGEPAGE); /* a hint; errors leave 4 KB pages */
#endif
    read_task t = {.buf = buf, .n = (int64_t)(bytes / sizeof(float)) & ~(int64_t)31};
    for (int64_t i = 0; i < t.n; i++) buf[i] = (float)(i & 1023); /* fault every page in */
    kiln_parallel(read_worker, &t, n_threads);               /* warm TLB and pool */
    /* the ceiling is the better of the two access patterns, each rep */
    double best = 0;
    for (int r = 0; r < reps; r++)
        for (int seq = 0; seq < 2; seq++) {
            t.sequential = seq;
            double t0 = now_seconds();
            kiln_parallel(read_worker, &t, n_threads);
            double dt = now_seconds() - t0;
            double g = (double)t.n * sizeof(float) / dt * 1e-9;
            if (g > best) best = g;
        }
    free(buf);
    *gbps = best;
    return KILN_OK;
}

/* ---- FMA and int8 peaks -------------------------------------------------- */
typedef struct {
    double seconds;
    int kind;        /* PEAK_FMA, PEAK_INT8 or PEAK_BF16 */
    /* per thread: flops (or ops) per second, and a result to keep live */
    double flops[KILN_MAX_THREADS];
    float sink[KILN_MAX_THREADS];
} peak_task;

enum { FMA_CHUNK = 1 << 14 }; /* iterations between clock reads */
enum { PEAK_FMA, PEAK_INT8, PEAK_BF16 };

/* Each loop keeps 12 independent accumulators: enough to cover FMA latency
 * (4 cycles) times throughput (2 per cycle) with room to spare. */
static double fma_ref(double seconds, float *sink) {
    float a[12], b = 0.999f, c = 0.001f;
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    double t0 = now_seconds(), iters = 0;
    do {
        for (int it = 0; it < FMA_CHUNK; it++)
            for (int i = 0; i < 12; i++) a[i] = fmaf(a[i], b, c);
        iters += FMA_CHUNK;
    } while (now_seconds() - t0 < seconds);
    *sink = a[0] + a[11];
    return iters * 12 * 2 / (now_seconds() - t0);
}

#if KILN_X86
#define FMA_BODY(T, FMA, SET1, ADD, LANES)                                          \
    T a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), \
      a5 = SET1(5.f), a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), \
      a10 = SET1(10.f), a11 = SET1(11.f);                                           \
    const T b = SET1(0.999f), c = SET1(0.001f);                                     \
    double t0 = now_seconds(), iters = 0;                                           \
    do {                                                                            \
        for (int it = 0; it < FMA_CHUNK; it++) {                                    \
            a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c);             \
            a3 = FMA(a3, b, c); a4 = FMA(a4, b, c); a5 = FMA(a5, b, c);             \
            a6 = FMA(a6, b, c); a7 = FMA(a7, b, c); a8 = FMA(a8, b, c);             \
            a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);         \
        }                                                                           \
        iters += FMA_CHUNK;                                                         \
    } while (now_seconds() - t0 < seconds);                                         \
    T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));        \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                    \
    float lanes[LANES];                                                             \
    memcpy(lanes, &s, sizeof lanes);                                                \
    *sink = lanes[0];                                                               \
    return iters * 12 * LANES * 2 / (now_seconds() - t0);

KILN_TARGET_AVX2 static double fma_avx2(double seconds, float *sink) {
    FMA_BODY(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps, 8)
}
KILN_TARGET_AVX512 static double fma_avx512(double seconds, float *sink) {
    FMA_BODY(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps, 16)
}
#endif

/* ---- int8 multiply-accumulate peak -------------------------------------- */
/* The instruction sequence each ISA's Q8_0 kernels spend per product, in 12
 * independent accumulator chains that stay throughput-bound:
 *   scalar:  a = a*b + c on 32-bit integers                      1 MAC
 *   AVX2:    a = a + vpmaddwd(b, c), int16 pairs into int32       16 MACs
 *            (asm: operands independent of the chain, as in the GEMM)
 *   AVX-512: a = vpdpbusd(a, b, c) with VNNI                      64 MACs
 *            (every step reads its own accumulator: nothing to hoist);
 *            without VNNI the AVX2 sequence (its Q8_0 kernels are AVX2's)
 *   AMX:     C += A·B by TDPBSSD on 16×64-byte tiles, 4 C tiles   16384 MACs
 *            from 2 A and 2 B tiles (amx_int8 below)
 * One MAC counts two ops, as an FMA counts two flops. */
static double int8_ref(double seconds, float *sink) {
    volatile uint32_t vb = 3, vc = 1;
    const uint32_t b = vb, c = vc;
    uint32_t a[12];
    for (int i = 0; i < 12; i++) a[i] = (uint32_t)i;
    double t0 = now_seconds(), iters = 0;
    do {
        for (int it = 0; it < FMA_CHUNK; it++)
            for (int i = 0; i < 12; i++) a[i] = a[i] * b + c;
        iters += FMA_CHUNK;
    } while (now_seconds() - t0 < seconds);
    *sink = (float)(a[0] + a[11]);
    return iters * 12 * 2 / (now_seconds() - t0);
}

#if KILN_X86
/* INT8_BODY times LOOP (one step of the 12 chains a0..a11) and counts MACS
 * products per chain and step. */
#define INT8_BODY(T, ADD, MACS, LOOP)                                               \
    T a0 = a, a1 = ADD(a0, a), a2 = ADD(a1, a), a3 = ADD(a2, a), a4 = ADD(a3, a),   \
      a5 = ADD(a4, a), a6 = ADD(a5, a), a7 = ADD(a6, a), a8 = ADD(a7, a),           \
      a9 = ADD(a8, a), a10 = ADD(a9, a), a11 = ADD(a10, a);                         \
    double t0 = now_seconds(), iters = 0;                                           \
    do {                                                                            \
        for (int it = 0; it < FMA_CHUNK; it++) LOOP                                 \
        iters += FMA_CHUNK;                                                         \
    } while (now_seconds() - t0 < seconds);                                         \
    T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));        \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                    \
    int32_t lane;                                                                   \
    memcpy(&lane, &s, sizeof lane);                                                 \
    *sink = (float)lane;                                                            \
    return iters * 12 * (MACS) * 2 / (now_seconds() - t0);

#define STEPS12(STEP)                                                               \
    {                                                                               \
        a0 = STEP(a0); a1 = STEP(a1); a2 = STEP(a2); a3 = STEP(a3);                 \
        a4 = STEP(a4); a5 = STEP(a5); a6 = STEP(a6); a7 = STEP(a7);                 \
        a8 = STEP(a8); a9 = STEP(a9); a10 = STEP(a10); a11 = STEP(a11);             \
    }

/* AVX2 in asm, so the loop is exactly the GEMM's pair per product vector:
 * vpmaddwd of two operands independent of the chain into a temporary, then
 * vpaddd into the accumulator (the only dependency, 1 cycle, as in the GEMM). */
#define MADD_ADD(i, t) "vpmaddwd %[b], %[c], %%ymm" #t "\n\tvpaddd %%ymm" #t ", %[a" #i "], %[a" #i "]\n\t"
KILN_TARGET_AVX2 static double int8_avx2(double seconds, float *sink) {
    const __m256i a = _mm256_set1_epi32(0x00030001), b = _mm256_set1_epi32(0x00050007),
                  c = _mm256_set1_epi32(0x00020003);
    INT8_BODY(__m256i, _mm256_add_epi32, 16, {
        __asm__ volatile(MADD_ADD(0, 14) MADD_ADD(1, 15) MADD_ADD(2, 14) MADD_ADD(3, 15) MADD_ADD(4, 14)
                         MADD_ADD(5, 15) MADD_ADD(6, 14) MADD_ADD(7, 15) MADD_ADD(8, 14) MADD_ADD(9, 15)
                         MADD_ADD(10, 14) MADD_ADD(11, 15)
                         : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4),
                           [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9),
                           [a10] "+x"(a10), [a11] "+x"(a11)
                         : [b] "x"(b), [c] "x"(c)
                         : "xmm14", "xmm15");
    })
}
#undef MADD_ADD

KILN_TARGET_AVX512VNNI static double int8_avx512vnni(double seconds, float *sink) {
    const __m512i a = _mm512_set1_epi32(0x01030507), b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(-5);
#define STEP_VNNI(v) _mm512_dpbusd_epi32(v, b, c)
    INT8_BODY(__m512i, _mm512_add_epi32, 64, STEPS12(STEP_VNNI))
#undef STEP_VNNI
}

/* amx_int8 times TDPBSSD (s8·s8 into int32, the AMX Q8_0 GEMM's product
 * instruction) on full tiles: C0..C3 (tmm0-3) += A0,A1 (tmm4-5) · B0,B1
 * (tmm6-7), four independent accumulators, each step 16×16×64 MACs. The
 * operands stay in tiles (no loads), as the ceiling of the instruction. */
KILN_TARGET_AMX static double int8_amx(double seconds, float *sink) {
    _Alignas(64) int8_t src[KILN_AMX_MAX_ROWS * KILN_AMX_MAX_COLSB];
    _Alignas(64) int32_t c[KILN_AMX_MAX_ROWS * 16];
    for (int i = 0; i < (int)sizeof src; i++) src[i] = (int8_t)(i % 7 - 3);
    kiln_amx_tilecfg cfg;
    kiln_amx_cfg_init(&cfg);
    for (int t = 0; t < KILN_AMX_TILES; t++) kiln_amx_cfg_tile(&cfg, t, KILN_AMX_MAX_ROWS, KILN_AMX_MAX_COLSB);
    kiln_amx_begin(&cfg);
    KILN_TILE_ZERO(0);
    KILN_TILE_ZERO(1);
    KILN_TILE_ZERO(2);
    KILN_TILE_ZERO(3);
    KILN_TILE_LOADD(4, src, KILN_AMX_MAX_COLSB);
    KILN_TILE_LOADD(5, src, KILN_AMX_MAX_COLSB);
    KILN_TILE_LOADD(6, src, KILN_AMX_MAX_COLSB);
    KILN_TILE_LOADD(7, src, KILN_AMX_MAX_COLSB);
    double t0 = now_seconds(), iters = 0;
    do {
        for (int it = 0; it < FMA_CHUNK / 16; it++) {
            KILN_TILE_DPBSSD(0, 4, 6);
            KILN_TILE_DPBSSD(1, 4, 7);
            KILN_TILE_DPBSSD(2, 5, 6);
            KILN_TILE_DPBSSD(3, 5, 7);
        }
        iters += FMA_CHUNK / 16;
    } while (now_seconds() - t0 < seconds);
    KILN_TILE_STORED(0, c, 64);
    kiln_amx_end();
    *sink = (float)c[0];
    return iters * 4 * (16.0 * 16 * 64) * 2 / (now_seconds() - t0);
}

/* ---- bf16 pair-dot peak -------------------------------------------------- */
/* VDPBF16PS: per f32 lane, two bf16 products added to the accumulator (32
 * products, 64 flops per zmm instruction), in the 12 chains of FMA_BODY. It
 * is what the BF16 weights' kernels run per product where the CPU has
 * AVX512_BF16 (matmul_bf16_avx512.c); measured, not assumed to be twice the
 * FMA rate (a CPU may run it at half width or on one pipe). */
#define KILN_TARGET_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))
KILN_TARGET_AVX512BF16 static double bf16_avx512(double seconds, float *sink) {
    const __m512bh b = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), c = (__m512bh)_mm512_set1_epi32(0x3a833a83);
#define DPBF16(a, b_, c_) _mm512_dpbf16_ps(a, b_, c_)
#define SET1(v) _mm512_set1_ps(v)
    __m512 a0 = SET1(0.f), a1 = SET1(1.f), a2 = SET1(2.f), a3 = SET1(3.f), a4 = SET1(4.f), a5 = SET1(5.f),
           a6 = SET1(6.f), a7 = SET1(7.f), a8 = SET1(8.f), a9 = SET1(9.f), a10 = SET1(10.f), a11 = SET1(11.f);
    double t0 = now_seconds(), iters = 0;
    do {
        for (int it = 0; it < FMA_CHUNK; it++) {
            a0 = DPBF16(a0, b, c); a1 = DPBF16(a1, b, c); a2 = DPBF16(a2, b, c); a3 = DPBF16(a3, b, c);
            a4 = DPBF16(a4, b, c); a5 = DPBF16(a5, b, c); a6 = DPBF16(a6, b, c); a7 = DPBF16(a7, b, c);
            a8 = DPBF16(a8, b, c); a9 = DPBF16(a9, b, c); a10 = DPBF16(a10, b, c); a11 = DPBF16(a11, b, c);
        }
        iters += FMA_CHUNK;
    } while (now_seconds() - t0 < seconds);
#undef DPBF16
#undef SET1
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    float lanes[16];
    memcpy(lanes, &s, sizeof lanes);
    *sink = lanes[0];
    return iters * 12 * 32 * 2 / (now_seconds() - t0);
}
#endif

static void int8_worker(peak_task *t, int ith) {
    switch (kiln_active_isa()) {
#if KILN_X86
    case KILN_ISA_AMX: t->flops[ith] = int8_amx(t->seconds, &t->sink[ith]); return;
    case KILN_ISA_AVX512:
        /* without VNNI the AVX-512 table runs the AVX2 Q8_0 kernels */
        t->flops[ith] = (kiln_cpu_features() & KILN_CPU_AVX512VNNI) ? int8_avx512vnni(t->seconds, &t->sink[ith])
                                                                    : int8_avx2(t->seconds, &t->sink[ith]);
        return;
    case KILN_ISA_AVX2: t->flops[ith] = int8_avx2(t->seconds, &t->sink[ith]); return;
#endif
    default: t->flops[ith] = int8_ref(t->seconds, &t->sink[ith]); return;
    }
}

/* fma_worker times the f32 FMA of the active variant's widest vectors. */
static void fma_worker(peak_task *t, int ith) {
    switch (kiln_active_isa()) {
#if KILN_X86
    case KILN_ISA_AMX: /* the AVX-512 FMA: AMX's float steps run on it */
    case KILN_ISA_AVX512: t->flops[ith] = fma_avx512(t->seconds, &t->sink[ith]); return;
    case KILN_ISA_AVX2: t->flops[ith] = fma_avx2(t->seconds, &t->sink[ith]); return;
#endif
    default: t->flops[ith] = fma_ref(t->seconds, &t->sink[ith]); return;
    }
}

/* bf16_dot_active: the active variant runs BF16 weights on VDPBF16PS (the
 * kernel table's choice in kernels_avx512.c); elsewhere they convert to f32
 * and FMA, so their ceiling is the FMA peak. */
static int bf16_dot_active(void) {
#if KILN_X86
    return kiln_active_isa() >= KILN_ISA_AVX512 && (kiln_cpu_features() & KILN_CPU_AVX512BF16); /* AMX keeps the row */
#else
    return 0;
#endif
}

static void peak_worker(void *arg, int ith, int nth) {
    (void)nth;
    peak_task *t = arg;
    switch (t->kind) {
    case PEAK_INT8: int8_worker(t, ith); return;
#if KILN_X86
    case PEAK_BF16:
        if (bf16_dot_active()) {
            t->flops[ith] = bf16_avx512(t->seconds, &t->sink[ith]);
            return;
        }
        break;
#endif
    default: break;
    }
    fma_worker(t, ith);
}

enum { PEAK_SLICES = 5 };

/* peak runs the loop of kind on n_threads threads for about seconds, in
 * PEAK_SLICES slices, and keeps the best slice: a ceiling is what the cores
 * can do, and on a shared machine one slice may lose a core to another
 * process (a whole-run average then reads as a lower ceiling). */
static int peak(int kind, int n_threads, double seconds, double *g) {
    if (!g) return KILN_ERR_NULL;
    if (n_threads < 1 || !(seconds > 0) || seconds > 60) return KILN_ERR_SIZE;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    if (n_threads > kiln_pool_size()) n_threads = kiln_pool_size();
    peak_task t = {.seconds = seconds * 0.2, .kind = kind};
    kiln_parallel(peak_worker, &t, n_threads); /* clocks up, pool awake */
    t.seconds = seconds / PEAK_SLICES;
    double best = 0;
    for (int s = 0; s < PEAK_SLICES; s++) {
        kiln_parallel(peak_worker, &t, n_threads);
        double total = 0;
        for (int i = 0; i < n_threads; i++) total += t.flops[i];
        if (total > best) best = total;
    }
    *g = best * 1e-9;
    return KILN_OK;
}

int kiln_probe_fma_peak(int n_threads, double seconds, double *gflops) {
    return peak(PEAK_FMA, n_threads, seconds, gflops);
}

int kiln_probe_int8_peak(int n_threads, double seconds, double *gops) {
    return peak(PEAK_INT8, n_threads, seconds, gops);
}

int kiln_probe_bf16_peak(int n_threads, double seconds, double *gflops) {
    return peak(PEAK_BF16, n_threads, seconds, gflops);
}
