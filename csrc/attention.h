/* attention.h — internal interface of the paged-attention family.
 *
 * attention.c validates the public calls, splits them into work items and
 * runs them on the pool; attention_ref.c and arch/x86/attention_*.c hold one
 * item kernel per ISA. Decode and prefill both go through the SAME item
 * kernel (decode is an item of one query), which is what makes a query's
 * result bit-identical between the two: per query row the kernel always does
 *   for each KV block t the row can see (tile = one cache block):
 *     s_j   = dot(q, k_j) * scale          (fixed per-ISA summation order over head_dim)
 *     m'    = max(m, max_j s_j)             (sequential over j)
 *     alpha = m == -inf ? 0 : exp(m - m')   (the ISA's exp)
 *     p_j   = exp(s_j - m')
 *     l     = l*alpha + p_0 + p_1 + ...     (sequential over j)
 *     acc   = acc*alpha, then acc = fma(p_j, v_j, acc) for j = 0, 1, ...
 *   out = acc * (1/l)
 * and nothing in that sequence depends on which other rows share the item. */
#ifndef KILN_ATTENTION_H
#define KILN_ATTENTION_H

#include "kiln_internal.h"

/* kiln_attn_params is one call's layer geometry (copied from kiln_kv_layout). */
typedef struct {
    int n_head, n_head_kv, head_dim, block_size, kv_type;
    int group;                 /* n_head / n_head_kv: query heads per KV head */
    float scale;
    const void *k_cache, *v_cache;
} kiln_attn_params;

/* kiln_attn_item is one unit of work: n_q consecutive queries of one
 * sequence against one KV head. Query i (0 <= i < n_q) is at position
 * pos0 + i and sees tokens 0..pos0+i. Its `group` head rows start at
 * q + i*n_head*head_dim (heads contiguous, head_dim each); out likewise. */
typedef struct {
    const float *q;
    float *out;
    const int32_t *block_table; /* the sequence's row of the block table */
    int n_q;
    int pos0;
    int kv_head;
} kiln_attn_item;

/* Most query rows (queries x group heads) an item may hold: prefill tiles
 * max(1, KILN_ATTN_ROWS / group) queries per item. */
#define KILN_ATTN_ROWS 16

/* kiln_attn_scratch_floats is the per-thread scratch one item kernel needs
 * for items of up to `rows` rows (floats, 64-byte multiples). Every ISA's
 * kernel fits in it: accumulators, scores, F16/Q8_0->F32 tiles, softmax state. */
KILN_INLINE int64_t kiln_attn_pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }
/* Accumulator rows are padded to 32 floats: P·V works in 16 (AVX2) or 32
 * (AVX-512) dim blocks and must never touch the next row's accumulator. */
KILN_INLINE int64_t kiln_attn_pad32(int64_t n) { return (n + 31) & ~(int64_t)31; }
KILN_INLINE int64_t kiln_attn_scratch_floats(const kiln_attn_params *p, int rows) {
    const int64_t dp = kiln_attn_pad32(p->head_dim), bp = kiln_attn_pad16(p->block_size);
    return (int64_t)rows * dp      /* acc[rows][dp] */
           + (int64_t)rows * bp    /* scores / probabilities [rows][bp] */
           + 2 * kiln_attn_pad16((int64_t)p->block_size * p->head_dim + 16) /* K, V tiles */
           + 4 * kiln_attn_pad16(rows); /* m, l, alpha, counts */
}

/* kiln_attn_ws is the scratch carved for an item of `rows` rows. Every
 * kernel carves the same way, so attention.c sizes one buffer for all. */
typedef struct {
    float *acc;       /* [rows][dp] running numerators */
    float *s;         /* [rows][bp] scores, then probabilities, of one tile */
    float *kt, *vt;   /* [block_size][head_dim] F32 copies of an F16 or Q8_0 tile */
    float *m, *l, *alpha;
    int32_t *n;       /* per row: tokens of the current tile it sees */
    int64_t dp, bp;   /* padded head_dim (to 32) / block_size (to 16) */
} kiln_attn_ws;

KILN_INLINE kiln_attn_ws kiln_attn_carve(const kiln_attn_params *p, int rows, float *scratch) {
    kiln_attn_ws w;
    w.dp = kiln_attn_pad32(p->head_dim);
    w.bp = kiln_attn_pad16(p->block_size);
    const int64_t tile = kiln_attn_pad16((int64_t)p->block_size * p->head_dim + 16);
    const int64_t rp = kiln_attn_pad16(rows);
    w.acc = scratch;
    w.s = w.acc + rows * w.dp;
    w.kt = w.s + rows * w.bp;
    w.vt = w.kt + tile;
    w.m = w.vt + tile;
    w.l = w.m + rp;
    w.alpha = w.l + rp;
    w.n = (int32_t *)(w.alpha + rp);
    return w;
}

/* The item kernels: same contract, one per ISA. scratch holds
 * kiln_attn_scratch_floats(p, rows) floats, 64-byte aligned, where rows >=
 * it->n_q * p->group. */
void kiln_attn_item_ref(const kiln_attn_params *p, const kiln_attn_item *it, float *scratch);
#if KILN_X86
void kiln_attn_item_avx2(const kiln_attn_params *p, const kiln_attn_item *it, float *scratch);
void kiln_attn_item_avx512(const kiln_attn_params *p, const kiln_attn_item *it, float *scratch);
#endif

/* Row converters for kiln_kv_store (F16 rounds to nearest even in every ISA). */
void kiln_attn_f32_to_f16_ref(const float *x, uint16_t *y, int64_t n);
#if KILN_X86
void kiln_attn_f32_to_f16_avx2(const float *x, uint16_t *y, int64_t n);
#endif

/* kiln_attn_check_layout validates a cache description (types, geometry,
 * a pool size that fits size_t) and fills p: the one check every
 * attention entry point shares. */
int kiln_attn_check_layout(const kiln_kv_layout *kv, kiln_attn_params *p);

/* kiln_attn_row_bytes is one cache row (the head_dim values of one token
 * and KV head) in kv_type: F32 4*D, F16 2*D, Q8_0 ceil(D/32) GGUF blocks
 * of 34 bytes (a head_dim that is not a multiple of 32 is zero-padded to
 * whole blocks, so each row is quantized on its own). */
KILN_INLINE size_t kiln_attn_row_bytes(int kv_type, int D) {
    if (kv_type == KILN_TYPE_Q8_0) return (size_t)((D + KILN_QK8_0 - 1) / KILN_QK8_0) * sizeof(block_q8_0);
    return (size_t)D * (kv_type == KILN_TYPE_F16 ? 2 : 4);
}

/* kiln_attn_kv_rows returns the first of the block_size contiguous cache
 * rows of block `block`, KV head `kv_head` (rows kiln_attn_row_bytes apart). */
KILN_INLINE const void *kiln_attn_kv_rows(const kiln_attn_params *p, const void *cache, int block,
                                          int kv_head) {
    const int64_t row0 = ((int64_t)block * p->n_head_kv + kv_head) * p->block_size;
    return (const char *)cache + (size_t)row0 * kiln_attn_row_bytes(p->kv_type, p->head_dim);
}

/* kiln_attn_prefetch_tile hints the first n rows of block `block` of KV
 * head kv_head (K and V) into cache. The SIMD kernels call it for the next
 * tile while computing the current one: a block table's next block is
 * wherever the pool put it, not where a hardware prefetcher looks, and at
 * long contexts decode otherwise waits on memory at every tile. A hint
 * only: it reads nothing and changes no result. */
KILN_INLINE void kiln_attn_prefetch_tile(const kiln_attn_params *p, int block, int kv_head, int n) {
    const size_t bytes = (size_t)n * kiln_attn_row_bytes(p->kv_type, p->head_dim);
    const char *k = kiln_attn_kv_rows(p, p->k_cache, block, kv_head);
    const char *v = kiln_attn_kv_rows(p, p->v_cache, block, kv_head);
    for (size_t o = 0; o < bytes; o += 64) {
        __builtin_prefetch(k + o);
        __builtin_prefetch(v + o);
    }
}

/* Q8_0 tiles: dst[j*D + d] = d_b * qs_b[e] for rows j0 <= j < j1 of a
 * Q8_0 tile (rows kiln_attn_row_bytes apart; element d in block b = d/32,
 * e = d%32). The product of an f16 scale and an int8 is exact in f32, so
 * every ISA writes the same bits, and attention over a Q8_0 cache gives
 * the bits of the same kernel over an F32 cache holding these values. The
 * kernels dequantize one cache block at a time into their scratch, as they
 * widen F16 tiles: the cache itself is never copied. */
void kiln_attn_q8_rows_ref(const void *rows, int j0, int j1, int D, float *dst);
#if KILN_X86
void kiln_attn_q8_rows_avx2(const void *rows, int j0, int j1, int D, float *dst);
void kiln_attn_q8_rows_avx512(const void *rows, int j0, int j1, int D, float *dst);
#endif

#endif /* KILN_ATTENTION_H */
