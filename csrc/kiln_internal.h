/* kiln_internal.h — what every kernel file shares: the ISA target macros,
 * GGUF block structs, scalar half/bfloat conversions, the thread pool and
 * the row-splitting helper. Not installed; the public API is include/kiln.h. */
#ifndef KILN_INTERNAL_H
#define KILN_INTERNAL_H

#include "kiln.h"

/* No silent a*b+c -> fma contraction, so a kernel gives the same bits
 * wherever the compiler inlines it (the determinism contract), and no errno
 * writes from sqrtf and friends. Set here rather than on the command line so
 * CMake and cgo (whose flag allow-list rejects -ffp-contract) build alike. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off", "no-math-errno")
#endif

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Per-function ISA targets: every file compiles with the same flags (no
 * -mavx2), so the library runs on any x86-64 and only the variant chosen at
 * run time executes wider instructions. Helpers called from a target
 * function must carry the same macro so they inline. */
#if defined(__x86_64__) || defined(_M_X64)
#define KILN_X86 1
#define KILN_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define KILN_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define KILN_TARGET_AVX512VNNI \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#else
#define KILN_X86 0
#endif

#define KILN_INLINE static inline __attribute__((always_inline))
#define KILN_MAX_THREADS 256

/* block_q8_0 is GGUF's Q8_0 block: 32 int8 quants and one f16 scale. */
typedef struct {
    uint16_t d;              /* f16 scale: x ≈ d * qs[i] */
    int8_t qs[KILN_QK8_0];   /* quants */
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must match GGUF's 34-byte layout");

/* ---- scalar half / bfloat16 conversions (bit exact, portable) ---------- */
KILN_INLINE uint32_t kiln_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
KILN_INLINE float kiln_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* kiln_fp16_to_fp32 converts IEEE binary16 to float exactly (subnormals, inf, NaN). */
KILN_INLINE float kiln_fp16_to_fp32(uint16_t h) {
    const uint32_t w = (uint32_t)h << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const uint32_t exp_offset = 0xE0u << 23;
    const float exp_scale = 0x1.0p-112f;
    const float normalized = kiln_bits_f32((two_w >> 4) + exp_offset) * exp_scale;
    const uint32_t magic_mask = 126u << 23;
    const float magic_bias = 0.5f;
    const float denormalized = kiln_bits_f32((two_w >> 17) | magic_mask) - magic_bias;
    const uint32_t denormalized_cutoff = 1u << 27;
    const uint32_t result = sign | (two_w < denormalized_cutoff ? kiln_f32_bits(denormalized)
                                                                : kiln_f32_bits(normalized));
    return kiln_bits_f32(result);
}

/* kiln_fp32_to_fp16 rounds to nearest even, as F16C's vcvtps2ph does. */
KILN_INLINE uint16_t kiln_fp32_to_fp16(float f) {
    const float scale_to_inf = 0x1.0p+112f;
    const float scale_to_zero = 0x1.0p-110f;
    float base = (fabsf(f) * scale_to_inf) * scale_to_zero;
    const uint32_t w = kiln_f32_bits(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = kiln_bits_f32((bias >> 1) + 0x07800000u) + base;
    const uint32_t bits = kiln_f32_bits(base);
    const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
    const uint32_t mantissa_bits = bits & 0x00000FFFu;
    const uint32_t nonsign = exp_bits + mantissa_bits;
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

KILN_INLINE float kiln_bf16_to_fp32(uint16_t h) { return kiln_bits_f32((uint32_t)h << 16); }

/* kiln_fp32_to_bf16 rounds to nearest even; NaN stays a (quiet) NaN. */
KILN_INLINE uint16_t kiln_fp32_to_bf16(float f) {
    uint32_t u = kiln_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

/* ---- dispatch ----------------------------------------------------------- */
/* kiln_ensure_init starts the pool and picks the ISA on first use; returns a status. */
int kiln_ensure_init(void);
/* kiln_active_isa is the variant kernels must use for this call. */
int kiln_active_isa(void);
uint32_t kiln_detect_cpu_features(void);
int kiln_cpu_is_intel(void);

/* ---- thread pool -------------------------------------------------------- */
/* kiln_task is one op's body: worker ith of nth handles its share of rows. */
typedef void (*kiln_task)(void *arg, int ith, int nth);

/* kiln_parallel runs fn(arg, ith, nth) for ith = 0..nth-1 on the pool (the
 * caller runs ith = 0) and returns when all are done. nth is clamped to the
 * pool size; nth <= 1 runs inline. Concurrent callers are serialised. */
void kiln_parallel(kiln_task fn, void *arg, int nth);

/* kiln_scratch_take returns a 64-byte aligned area of at least bytes for
 * one kernel call, or NULL; kiln_scratch_give returns it. The area comes from
 * the calling thread's pool (the bound one, else the global one), which keeps
 * one cached buffer: decode calls kiln_matmul hundreds of times per token,
 * and a malloc of a few hundred KB each time would be an mmap and page
 * faults. Replicas on their own pools thus never contend for it; callers
 * sharing a pool take it by atomic exchange (a second caller allocates its
 * own; the larger is kept). kiln_scratch_allocs counts the allocations made
 * (observability: proves replicas do not steal each other's buffer). */
void *kiln_scratch_take(size_t bytes);
void kiln_scratch_give(void *area);
int64_t kiln_scratch_allocs(void);
/* kiln_parallel_claim is kiln_parallel for a task whose calls take their
 * items from the task itself until none is left (a shared counter), so that
 * any subset of the calls, the caller's alone included, completes it: it
 * returns once the caller's call has and every worker that started one has
 * finished; a worker that was not running yet skips the task. ith is still
 * unique (per-thread scratch) and < nth. */
void kiln_parallel_claim(kiln_task fn, void *arg, int nth);

/* kiln_pool_stalls counts the claim tasks of p (NULL: the global pool) whose
 * caller waited far longer for a joined worker than its own share took; each
 * makes the pool run its next tasks on the caller alone for a while (pool.c). */
int64_t kiln_pool_stalls(const kiln_pool *p);

/* kiln_spin_until_at_least waits (spinning, then yielding) until *v >= want:
 * a barrier inside one task, between phases whose items threads claim. */
void kiln_spin_until_at_least(const _Atomic int64_t *v, int64_t want);

/* kiln_pool_start / kiln_pool_stop manage the workers (used by kiln_init). */
int kiln_pool_start(int n_threads);
void kiln_pool_stop(void);
int kiln_pool_size(void);

/* kiln_split gives worker ith its share [*lo, *hi) of n items, in whole
 * chunks of `align` items (the last chunk may be short). Shares depend only
 * on (n, ith, nth, align), never on timing. */
KILN_INLINE void kiln_split(int64_t n, int ith, int nth, int64_t align, int64_t *lo, int64_t *hi) {
    if (align < 1) align = 1;
    const int64_t chunks = (n + align - 1) / align;
    const int64_t c0 = chunks * ith / nth;
    const int64_t c1 = chunks * (ith + 1) / nth;
    *lo = c0 * align < n ? c0 * align : n;
    *hi = c1 * align < n ? c1 * align : n;
}

/* kiln_threads_for picks how many threads an op of `work` units deserves:
 * small ops stay on the caller so the wake-up cost does not dominate. */
KILN_INLINE int kiln_threads_for(int64_t work, int64_t min_work_per_thread) {
    int n = kiln_pool_size();
    if (min_work_per_thread < 1) min_work_per_thread = 1;
    int64_t want = work / min_work_per_thread;
    if (want < 1) want = 1;
    return want < n ? (int)want : n;
}

#endif /* KILN_INTERNAL_H */
