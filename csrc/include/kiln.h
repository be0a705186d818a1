/* kiln.h — the sole public C API of kiln's native kernel library.
 *
 * Conventions
 *  - Every entry point returns a kiln_status (0 = KILN_OK, negative = error);
 *    nothing in the library exits, aborts or prints.
 *  - One call = one whole operation: the call splits rows over the persistent
 *    thread pool (kiln_init) and returns when every row is written.
 *  - Results never depend on the thread count or on which other rows are in
 *    the batch: row i of a batch of m is bit-identical to the same row alone.
 *    (They may differ between ISA variants, within the tolerances the tests name.)
 *  - Weight types use GGUF's numbering and block layouts, so rows mapped from a
 *    GGUF file are used in place.
 *  - Shapes are written as in the comments: X[m,k] is row-major, k contiguous.
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes -------------------------------------------------------- */
typedef enum {
    KILN_OK = 0,
    KILN_ERR_NULL = -1,        /* a required pointer is NULL */
    KILN_ERR_SIZE = -2,        /* a size is zero, negative or out of range */
    KILN_ERR_ALIGN = -3,       /* k is not a multiple of the block size (32 for Q8_0) */
    KILN_ERR_TYPE = -4,        /* unsupported tensor type for this operation */
    KILN_ERR_NOMEM = -5,       /* scratch allocation failed */
    KILN_ERR_ISA = -6,         /* the requested ISA is unknown or not supported by this CPU */
    KILN_ERR_THREADS = -7,     /* thread pool could not be created */
    KILN_ERR_INDEX = -8,       /* an index (token id, block id, position) is out of range */
} kiln_status;

/* kiln_strerror returns a static, human-readable description of a status. */
const char *kiln_strerror(int status);

/* ---- tensor types (GGUF / ggml type ids) --------------------------------- */
typedef enum {
    KILN_TYPE_F32 = 0,
    KILN_TYPE_F16 = 1,
    KILN_TYPE_Q4_0 = 2,
    KILN_TYPE_Q4_1 = 3,
    KILN_TYPE_Q5_0 = 6,
    KILN_TYPE_Q5_1 = 7,
    KILN_TYPE_Q8_0 = 8,
    KILN_TYPE_Q2_K = 10,
    KILN_TYPE_Q3_K = 11,
    KILN_TYPE_Q4_K = 12,
    KILN_TYPE_Q5_K = 13,
    KILN_TYPE_Q6_K = 14,
    KILN_TYPE_IQ4_NL = 20,
    KILN_TYPE_IQ4_XS = 23,
    KILN_TYPE_BF16 = 30,
    /* Not GGUF types: weights repacked by kiln_repack (below), 40..55. */
    KILN_TYPE_Q8_0_R16 = 40,
    KILN_TYPE_Q4_K_R16 = 41,
    KILN_TYPE_Q6_K_R16 = 42,
    KILN_TYPE_Q4_0_R16 = 43,
    KILN_TYPE_Q5_0_R16 = 44,
    KILN_TYPE_Q5_K_R16 = 45,
    KILN_TYPE_IQ4_XS_R16 = 46,
    KILN_TYPE_IQ4_NL_R16 = 47,
    KILN_TYPE_Q4_1_R16 = 48,
    KILN_TYPE_Q5_1_R16 = 49,
} kiln_type;

#define KILN_QK8_0 32 /* elements per Q8_0 block */

/* kiln_row_size is the byte size of one row of k elements of type t
 * (0 for an unknown type or a k that is not a multiple of the block size). */
size_t kiln_row_size(int type, int64_t k);

/* ---- library lifecycle, CPU features, dispatch --------------------------- */
typedef enum {
    KILN_ISA_SCALAR = 0,  /* portable reference */
    KILN_ISA_AVX2 = 1,    /* AVX2 + FMA + F16C */
    KILN_ISA_AVX512 = 2,  /* AVX-512 F/BW/VL (+VNNI used when present) */
    KILN_ISA_AMX = 3,     /* AVX-512 + AMX-TILE/INT8 tiles, once Linux grants the tile state */
    KILN_ISA_COUNT = 4,
} kiln_isa;

/* CPU feature bits reported by kiln_cpu_features. */
#define KILN_CPU_SSE42       (1u << 0)
#define KILN_CPU_AVX         (1u << 1)
#define KILN_CPU_AVX2        (1u << 2)
#define KILN_CPU_FMA         (1u << 3)
#define KILN_CPU_F16C        (1u << 4)
#define KILN_CPU_AVX512F     (1u << 5)
#define KILN_CPU_AVX512BW    (1u << 6)
#define KILN_CPU_AVX512VL    (1u << 7)
#define KILN_CPU_AVX512DQ    (1u << 8)
#define KILN_CPU_AVX512VNNI  (1u << 9)
#define KILN_CPU_AVX512BF16  (1u << 10)
#define KILN_CPU_AVXVNNI     (1u << 11)
#define KILN_CPU_AMX_TILE    (1u << 12)
#define KILN_CPU_AMX_INT8    (1u << 13)
#define KILN_CPU_AMX_BF16    (1u << 14)

/* kiln_init starts (or restarts with a new size) the persistent thread pool.
 * n_threads <= 0 means one thread per online CPU. It also picks the kernel
 * variant: the best the CPU supports, or the one named by the environment
 * variable KILN_ISA (scalar|avx2|avx512|amx; an unsupported name is an error).
 * Every kernel calls kiln_init(0) implicitly if it has not been called. */
int kiln_init(int n_threads);

/* kiln_shutdown stops the pool's threads; a later call re-initialises. */
void kiln_shutdown(void);

/* kiln_threads is the pool size (including the calling thread). */
int kiln_threads(void);

/* Private pools let several model replicas run kernels at the same time, each
 * on its own threads and cores, instead of taking turns on the global pool.
 * kiln_pool_create starts n_threads threads (the binding thread counts as
 * one); with n_cpus > 0, worker i is pinned to cpus[i % n_cpus] (a failed pin
 * is a warning on stderr, not an error). NULL on bad arguments or failure.
 * kiln_pool_destroy stops the threads; no thread may still be bound to it.
 * kiln_pool_bind(p) makes every kernel called from this OS thread run on p
 * (NULL: back to the global pool) and pins the caller to cpus[0]; returns a
 * status. Results are bit-identical whichever pool runs them. */
typedef struct kiln_pool kiln_pool;
kiln_pool *kiln_pool_create(int n_threads, const int *cpus, int n_cpus);
void kiln_pool_destroy(kiln_pool *pool);
int kiln_pool_bind(kiln_pool *pool);
/* kiln_pool_threads is p's size (NULL: the global pool's). */
int kiln_pool_threads(const kiln_pool *pool);
/* kiln_parallel_peak is the most kernel runs seen in flight at once across
 * all pools since the last reset (reset != 0 restarts it from now). */
int kiln_parallel_peak(int reset);

uint32_t kiln_cpu_features(void);   /* KILN_CPU_* bits of this CPU (with OS support) */
int kiln_isa_supported(int isa);    /* 1 if this CPU can run the variant, else 0 */
int kiln_get_isa(void);             /* the variant in use */
int kiln_set_isa(int isa);          /* force a variant (tests, benchmarks) */
const char *kiln_isa_name(int isa); /* "scalar", "avx2", "avx512", "amx"; NULL if unknown */
/* kiln_isa_unsupported_reason says why this machine cannot run variant isa
 * (e.g. "amx: not permitted by the OS"), or NULL if it can (or isa is unknown). */
const char *kiln_isa_unsupported_reason(int isa);
const char *kiln_version(void);

/* The active variant's kernel table, entry by entry (what `kiln version`
 * prints): kiln_kernel_count entries; kiln_kernel_name(i) names entry i
 * ("ops", "attention", "gemv q8_0", ...) and kiln_kernel_variant(i) what
 * implements it on this CPU ("avx512-vnni ..."). Static strings; NULL for
 * an index out of range. */
int kiln_kernel_count(void);
const char *kiln_kernel_name(int index);
const char *kiln_kernel_variant(int index);

/* ---- conversions ---------------------------------------------------------- */
/* y[n] = float(x[n]) */
int kiln_f16_to_f32(const uint16_t *x, float *y, int64_t n);
int kiln_bf16_to_f32(const uint16_t *x, float *y, int64_t n);
/* y[n] = half(x[n]), round to nearest even; bf16 likewise (NaN stays NaN) */
int kiln_f32_to_f16(const float *x, uint16_t *y, int64_t n);
int kiln_f32_to_bf16(const float *x, uint16_t *y, int64_t n);
/* y = Q8_0 blocks of x[n]; n % 32 == 0; y holds n/32 blocks of 34 bytes */
int kiln_quantize_q8_0(const float *x, void *y, int64_t n);
/* y = rows × per_row floats quantized to GGUF blocks of `type` (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS), row after row, kiln_row_size(type,
 * per_row) bytes each: the bytes llama.cpp's reference quantizers
 * (quantize_row_*_ref, no importance matrix) write for the same floats. */
int kiln_quantize(int type, const float *x, void *y, int64_t rows, int64_t per_row);
/* kiln_quantize_supported is 1 if kiln_quantize writes `type`, else 0. */
int kiln_quantize_supported(int type);
/* y[n] = float(x[n]) for x of any supported type (n a multiple of its block) */
int kiln_dequantize(int type, const void *x, float *y, int64_t n);

/* ---- matmul --------------------------------------------------------------- */
/* Y[m,n] = X[m,k] · W[n,k]ᵀ
 * W: n rows of k elements of type wtype (F32, F16, BF16, Q8_0, or one of the
 *    quantized types above: Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL read X as Q8_0, the
 *    256-element K-quants and IQ4_XS read X quantized to Q8_K), each row
 *    kiln_row_size(wtype, k) bytes, rows contiguous.
 * X: f32, row-major, k contiguous.  Y: f32, row-major, n contiguous.
 * For Q8_0 the rows of X are quantized to Q8_0 on the fly and the products are
 * int8·int8 dot products with one f32 scale per 32-element block; k % 32 == 0. */
int kiln_matmul(int wtype, const void *w, const float *x, float *y,
                int64_t m, int64_t n, int64_t k);

/* One output of kiln_matmul_multi: y[m, n] = X[m,k] · w[n,k]ᵀ, w of type
 * wtype laid out as for kiln_matmul. */
typedef struct {
    int wtype;
    const void *w;
    float *y;
    int64_t n;
} kiln_matmul_out;

#define KILN_MATMUL_MAX_OUTS 4

/* Several matmuls over the same X (attention Q, K, V; FFN gate and up):
 * outs[i].y = X[m,k] · outs[i].wᵀ for i < count (1..KILN_MATMUL_MAX_OUTS).
 * Bit-identical to count kiln_matmul calls, but X is quantized once and the
 * columns of every output are shared out over the pool in one hand-off.
 * Weights may be of different types; outputs must not overlap X or each other.
 * Any bad output is an error before anything is written. */
int kiln_matmul_multi(const float *x, int64_t m, int64_t k, const kiln_matmul_out *outs, int count);

/* ---- repacked weights ---------------------------------------------------- */
/* KILN_TYPE_Q8_0_R16 holds Q8_0 weights W[n,k] (n % 16 == 0, k % 64 == 0)
 * in groups of 16 rows that a GEMV reads front to back: group g (rows
 * 16g..16g+15) at g*(k/64)*1088 bytes; in it, block pair p (blocks 2p,
 * 2p+1) at p*1088: 64 bytes of f16 scales (d of block 2p for rows 0..15,
 * then of block 2p+1), then per block 512 bytes: quant 4q+c (q < 8, c < 4)
 * of row j at 64q + 4j + c, stored as w ^ 0x80. Same byte size as the Q8_0
 * tensor; kiln_matmul and kiln_matmul_multi take it like any weight type,
 * with the same result bits as the Q8_0 weights it came from (no dequantize
 * or get_rows: its rows are interleaved). */

/* KILN_TYPE_Q4_K_R16 holds Q4_K weights W[n,k] (n % 16 == 0, k % 256 == 0)
 * in groups of 16 rows: group g at g*(k/256)*2304 bytes; in it, super-block
 * b at b*2304: the 16 rows' f16 d (32 bytes), their f16 dmin (32 bytes),
 * their 12 packed scale/min bytes as three planes of dwords (bytes 4w..4w+3
 * of row j at 64 + 64w + 4j), then the quant bytes qs[32c + 4u + e] of row j
 * at 256 + 512c + 64u + 4j + e (c < 4, u < 8, e < 4), unchanged. Same byte
 * size as the Q4_K tensor and the Q4_K weights' result bits. */
/* KILN_TYPE_Q6_K_R16 holds Q6_K weights W[n,k] (n % 16 == 0, k % 256 == 0)
 * in groups of 16 rows: group g at g*(k/256)*3392 bytes; in it, super-block
 * s at s*3392, sub-block t (16 elements, t < 16; c = t/4, i = t%4): the
 * int8 scale of row j at 832c + 16i + j; at 832c + 64 + 192i three 64-byte
 * vectors v = 0, 1, 2 whose byte 64v + 4j + e (row j, e < 4) holds in bits
 * 0-5 the quant q + 32 of element 16t + 4v + e and in bits 6-7 bits 2v,
 * 2v+1 of q + 32 of element 16t + 12 + e; the f16 d of row j at 3328 + 2j;
 * 32 zero bytes. 212 bytes per 256 elements and row (GGUF: 210), the same
 * result bits as the Q6_K weights it came from. */
/* KILN_TYPE_Q4_0_R16 holds Q4_0 weights W[n,k] (n % 16 == 0, k % 64 == 0)
 * in groups of 16 rows: group g at g*(k/64)*576 bytes; in it, block pair p
 * at p*576: 64 bytes of f16 scales (d of block 2p for rows 0..15, then of
 * block 2p+1), then per block 256 bytes: byte qs[4u+c] (u < 4, c < 4) of
 * row j at 64u + 4j + c, GGUF's byte unchanged (low nibble element 4u+c,
 * high nibble element 4u+c+16). Same byte size as the Q4_0 tensor. */

/* KILN_TYPE_Q5_0_R16 holds Q5_0 weights W[n,k] (n % 16 == 0, k % 64 == 0)
 * in groups of 16 rows: group g at g*(k/64)*704 bytes; in it, block pair p
 * at p*704: 64 bytes of f16 scales as in Q4_0_R16, then per block 320
 * bytes: 8 little-endian 64-bit fifth-bit masks (for u < 4: "low" word 2u,
 * bit 4j+c = bit 4u+c of row j's qh; "high" word 2u+1, bit 4u+c+16), then
 * 256 bytes of quant bytes laid out as in Q4_0_R16. Same byte size as the
 * Q5_0 tensor. */

/* KILN_TYPE_Q5_K_R16 holds Q5_K weights W[n,k] (n % 16 == 0, k % 256 == 0)
 * in groups of 16 rows: group g at g*(k/256)*2816 bytes; in it, super-block
 * b at b*2816: d, dmin and the three scale planes as in Q4_K_R16 (bytes
 * 0..255), then the fifth-bit bytes qh[4u + e] of row j at 256 + 64u + 4j + e
 * (u < 8, e < 4), then the quant bytes qs[32c + 4u + e] of row j at
 * 768 + 512c + 64u + 4j + e (c < 4, u < 8), all bytes unchanged. Same byte
 * size as the Q5_K tensor and the Q5_K weights' result bits. */
/* KILN_TYPE_IQ4_XS_R16 holds IQ4_XS weights W[n,k] (n % 16 == 0, k % 256 ==
 * 0) in groups of 16 rows: group g at g*(k/256)*2176 bytes; in it,
 * super-block b at b*2176: the 16 rows' f16 d (32 bytes), their uint16
 * scales_h (32 bytes), their scales_l[0..3] (row j at 64 + 4j), then the
 * quant bytes qs[16s + 4u + e] of row j at 128 + 256s + 64u + 4j + e (s < 8,
 * u < 4, e < 4), all bytes unchanged. Same byte size as the IQ4_XS tensor
 * and the IQ4_XS weights' result bits. */

/* KILN_TYPE_IQ4_NL_R16 holds IQ4_NL weights W[n,k] (n % 16 == 0, k % 64 ==
 * 0) in Q4_0_R16's layout (an IQ4_NL block is a Q4_0 block's bytes: f16 d,
 * 16 nibble bytes). Same byte size as the IQ4_NL tensor and the IQ4_NL
 * weights' result bits. */

/* KILN_TYPE_Q4_1_R16 and KILN_TYPE_Q5_1_R16 hold Q4_1 (Q5_1) weights W[n,k]
 * (n % 16 == 0, k % 64 == 0) in groups of 16 rows: group g at
 * g*(k/64)*640 (768) bytes; in it, block pair p at p*640 (768): 64 bytes of
 * f16 d (block 2p for rows 0..15, then block 2p+1), 64 bytes of f16 m
 * alike, then block 2p and block 2p+1 each as in Q4_0_R16 (Q5_0_R16: 64
 * bytes of fifth-bit mask words, then the quant bytes). Same byte size as
 * the source tensor and the source weights' result bits. */

/* Every repacked type (KILN_TYPE_*_R16) holds W[n,k] of its source type in
 * groups of 16 rows, n*kiln_row_size(repacked, k) bytes in all, and
 * kiln_matmul / kiln_matmul_multi take it (n % 16 == 0) with the source
 * weights' result bits; nothing else reads it. */

/* kiln_repack_type returns the type kiln_repack makes of `type` when the
 * active kernel variant reads it faster than `type` itself (e.g. Q8_0 ->
 * KILN_TYPE_Q8_0_R16 on AVX2 and AVX-512), else -1. */
int kiln_repack_type(int type);
/* kiln_repack writes W[n,k] of `type` (GGUF layout) into out,
 * n*kiln_row_size(kiln_repack_type(type), k) bytes, as its repacked type.
 * n must be a multiple of 16 and k a whole number of the repacked type's
 * blocks, i.e. kiln_row_size(repacked, k) > 0 (KILN_ERR_ALIGN otherwise); KILN_ERR_TYPE for a type with no repacked
 * layout. Runs on the pool. */
int kiln_repack(int type, const void *w, int64_t n, int64_t k, void *out);

/* ---- mixture-of-experts feed-forward -------------------------------------- */
/* kiln_moe_shape: the sizes and weight types of one kiln_moe_ffn call. */
typedef struct {
    int32_t gate_type, up_type, down_type; /* weight types: each must read Q8_K X (Q2_K..Q6_K, IQ4_XS) */
    int32_t reserved;                      /* 0 */
    int64_t n_expert; /* experts stacked in each weight */
    int64_t d;        /* model width: X and Y columns, gate/up k, down rows (multiple of 256) */
    int64_t f;        /* expert width: gate/up rows, down k (multiple of 256) */
    int64_t t;        /* tokens: rows of X and Y */
    int64_t k;        /* experts per token (1..n_expert) */
} kiln_moe_shape;

/* y[i] = Σ_j weight[i,j] · down_e(silu(gate_e · x[i]) * (up_e · x[i])), e = pick[i,j],
 * summed in slot order: ((w0·r0 + w1·r1) + w2·r2) + ...
 * gate, up: n_expert matrices [f, d] one after another (expert e's at
 * e·f·kiln_row_size(type, d) bytes); down: n_expert matrices [d, f].
 * x [t, d], pick [t, k] expert ids, weight [t, k], y [t, d] (not overlapping x).
 * The pairs are grouped by expert, so each chosen expert's matrices are read
 * once per call (a GEMM over its tokens), and every chosen expert's gate/up
 * columns, then down columns, are one run of the pool's claimed work (one
 * hand-off per call). Bit-identical to the per-expert kiln_matmul_multi
 * (gate, up), kiln_swiglu, kiln_matmul (down), kiln_scale and kiln_add, so a
 * row's result depends on neither the rest of the batch nor the threads.
 * An id outside [0, n_expert) is KILN_ERR_INDEX, a type that does not read
 * Q8_K X is KILN_ERR_TYPE, and nothing is written. */
int kiln_moe_ffn(const kiln_moe_shape *s, const void *gate, const void *up, const void *down, const float *x,
                 const int32_t *pick, const float *weight, float *y);

/* ---- element-wise and row-wise ops (in place allowed: y == x) ------------ */
/* y[m,n] = x[m,n] / sqrt(mean(x[i,:]²) + eps) * w[n]   (w may be NULL = ones) */
int kiln_rmsnorm(float *y, const float *x, const float *w, int64_t m, int64_t n, float eps);

/* y[m,n] = softmax(x[i,:]) per row (max-subtracted; expf in the reference,
 * a <= ~2 ulp polynomial exp in the SIMD variants) */
int kiln_softmax(float *y, const float *x, int64_t m, int64_t n);

/* y[n] = silu(gate[n]) * up[n]    with silu(g) = g / (1 + exp(-g)) */
int kiln_swiglu(float *y, const float *gate, const float *up, int64_t n);

/* y[n] = gelu_tanh(gate[n]) * up[n], gelu_tanh(g) = 0.5g(1 + tanh(sqrt(2/pi) g (1 + 0.044715 g²)))
 * (gemma's GeGLU FFN; portable scalar, libm tanhf) */
int kiln_geglu_tanh(float *y, const float *gate, const float *up, int64_t n);

/* y[n] = cap * tanh(x[n] / cap), cap > 0 (gemma2's final logit soft-capping) */
int kiln_softcap(float *y, const float *x, float cap, int64_t n);

/* x[r*stride + i] *= s for r < rows, i < n <= stride (in place; LongRoPE's
 * attention factor on the rotated dims of each head) */
int kiln_scale_strided(float *x, int64_t rows, int64_t stride, int64_t n, float s);

/* y[n] = a[n] + b[n] */
int kiln_add(float *y, const float *a, const float *b, int64_t n);

/* y[n] = x[n] * s */
int kiln_scale(float *y, const float *x, float s, int64_t n);

/* RoPE, in place, on x[m, n_heads, head_dim] (row stride n_heads*head_dim).
 * Token i is at position pos[i]. The first rope_dim (even, <= head_dim)
 * dimensions of every head rotate; the rest pass through.
 *   theta_j = pos * freq_scale * freq_base^(-2j/rope_dim) / freq_factors[j]
 *   (freq_factors may be NULL = ones; it has rope_dim/2 entries)
 * mode KILN_ROPE_NORMAL rotates adjacent pairs (x[2j], x[2j+1]) — llama;
 * mode KILN_ROPE_NEOX rotates halves (x[j], x[j + rope_dim/2]) — qwen2, neox. */
#define KILN_ROPE_NORMAL 0
#define KILN_ROPE_NEOX 2
int kiln_rope(float *x, const int32_t *pos, int64_t m, int n_heads, int head_dim,
              int rope_dim, int mode, float freq_base, float freq_scale,
              const float *freq_factors);

/* Embedding lookup: y[n_ids, k] = float(table[ids[i], :]) for a table of
 * n_rows rows of k elements of type `type` (any supported type).
 * An id outside [0, n_rows) is KILN_ERR_INDEX and nothing is written. */
int kiln_get_rows(int type, const void *table, int64_t n_rows, int64_t k,
                  const int32_t *ids, int64_t n_ids, float *y);

/* ---- paged attention ----------------------------------------------------- */
/* The KV cache of one layer is a pool of n_blocks blocks. A block holds
 * block_size tokens of every KV head, laid out
 *     cache[block][kv_head][slot][head_dim]
 * in kv_type: KILN_TYPE_F32, KILN_TYPE_F16, or KILN_TYPE_Q8_0, where each
 * row of head_dim values is ceil(head_dim/32) GGUF Q8_0 blocks of 34 bytes
 * (f16 scale + 32 int8), quantized on its own as llama.cpp's
 * quantize_row_q8_0_ref does; a head_dim that is not a multiple of 32 is
 * zero-padded to whole blocks. K and V have separate pools
 * with the same layout. A sequence reaches its tokens through a block table:
 * token t of sequence s lives in block block_tables[s*max_blocks + t/block_size],
 * slot t % block_size. GQA: query head h reads KV head h / (n_head/n_head_kv). */
typedef struct {
    int n_head;        /* query heads */
    int n_head_kv;     /* KV heads; n_head % n_head_kv == 0 */
    int head_dim;      /* dims per head (any size >= 1; 64/128 are the fast paths) */
    int block_size;    /* tokens per KV block (e.g. 16 or 32) */
    int kv_type;       /* KILN_TYPE_F32, KILN_TYPE_F16 or KILN_TYPE_Q8_0 */
    int n_blocks;      /* blocks in each pool (for bounds checks) */
    float scale;       /* score scale, usually 1/sqrt(head_dim) */
    void *k_cache;     /* [n_blocks][n_head_kv][block_size][row], row = head_dim elements or Q8_0 blocks */
    void *v_cache;     /* same layout */
} kiln_kv_layout;

/* Write new K/V rows into the cache: token i goes to slot slots[i]
 * (= block*block_size + offset). k, v: [n_tokens, n_head_kv, head_dim] f32,
 * rounded to the cache type (F16: nearest even; Q8_0: per row, as above).
 * A negative slot skips the token; a slot past the pool is KILN_ERR_INDEX. */
int kiln_kv_store(const kiln_kv_layout *kv, const float *k, const float *v,
                  const int32_t *slots, int64_t n_tokens);

/* Decode: one query per sequence.
 * q, out: [n_seq, n_head, head_dim]; sequence s attends to its first
 * seq_lens[s] (>= 1) cached tokens. block_tables: [n_seq, max_blocks]. */
int kiln_attn_decode(const kiln_kv_layout *kv, const float *q, float *out,
                     int64_t n_seq, const int32_t *block_tables, int max_blocks,
                     const int32_t *seq_lens);

/* Prefill: many queries per sequence, causal, flash-style (online softmax
 * over KV tiles; the score matrix is never materialised).
 * Sequence s owns query rows q_start[s] .. q_start[s+1]-1 (q_start has n_seq+1
 * entries, non-decreasing, q_start[0] = 0) and has ctx_lens[s] tokens cached,
 * the new ones included (already written with kiln_kv_store). Its j-th query
 * (0-based) is at position ctx_lens[s] - n_q + j and sees tokens 0..that
 * position. q, out: [q_start[n_seq], n_head, head_dim].
 * A query's result is bit-identical to the same query run through
 * kiln_attn_decode with seq_len = its position + 1. */
int kiln_attn_prefill(const kiln_kv_layout *kv, const float *q, float *out,
                      int64_t n_seq, const int32_t *q_start, const int32_t *ctx_lens,
                      const int32_t *block_tables, int max_blocks);

/* Prefill/decode like kiln_attn_prefill (same arguments and query numbering),
 * for sliding-window and soft-capped layers: a query at position p sees
 * tokens max(0, p - window + 1) .. p (window <= 0: all of 0..p), and each
 * score s = scale * q·k becomes softcap * tanh(s / softcap) when softcap > 0.
 * A portable kernel and an AVX2 one (used by every non-scalar ISA), over
 * F32, F16 or Q8_0 caches; a
 * query's result depends only on itself and the cache, so decode == prefill
 * and any batch give its bits. */
int kiln_attn_window(const kiln_kv_layout *kv, const float *q, float *out, int64_t n_seq,
                     const int32_t *q_start, const int32_t *ctx_lens, const int32_t *block_tables,
                     int max_blocks, int window, float softcap);

/* ---- machine ceilings (used by benchmarks) ------------------------------- */
/* Memory read bandwidth in GB/s (1e9 bytes/s) over a buffer of `bytes`
 * (use several times the last-level cache), read by n_threads pool threads
 * (<= kiln_threads()), best of `reps` passes. */
int kiln_probe_read_bandwidth(size_t bytes, int n_threads, int reps, double *gbps);
/* Peak f32 FMA throughput in GFLOP/s (an FMA = 2 flops) of the current ISA's
 * widest vectors on n_threads pool threads, measured for about `seconds`
 * (the best of five slices, as for the int8 peak). */
int kiln_probe_fma_peak(int n_threads, double seconds, double *gflops);
/* Peak int8 multiply-accumulate throughput in GOP/s (a multiply-add = 2 ops,
 * as for flops) on n_threads pool threads for about `seconds`, running the
 * instructions the current ISA's Q8_0 GEMM spends per product: AVX2
 * vpmaddwd + vpaddd (int16 pairs into int32), AVX-512 vpdpbusd (VNNI; the
 * AVX2 pair without it), AMX tdpbssd on full tiles, scalar 32-bit integer
 * multiply-add. */
int kiln_probe_int8_peak(int n_threads, double seconds, double *gops);
/* Peak throughput in GFLOP/s (a multiply-add = 2 flops) of the instruction
 * the current ISA's BF16-weight kernels spend per product: VDPBF16PS (two
 * bf16 products per f32 lane) where the variant runs BF16 on AVX512_BF16,
 * else the f32 FMA of kiln_probe_fma_peak. Measured like the other peaks. */
int kiln_probe_bf16_peak(int n_threads, double seconds, double *gflops);

#ifdef __cplusplus
}
#endif
#endif /* KILN_H */
