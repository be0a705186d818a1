/* attention_window.h — internal interface of kiln_attn_window: the job and
 * the per-ISA row kernels (attention_window.c holds the portable one and
 * the entry point, arch/x86/attention_window_avx2.c the AVX2 one). */
#ifndef KILN_ATTENTION_WINDOW_H
#define KILN_ATTENTION_WINDOW_H

#include "attention.h"

typedef struct kiln_window_job kiln_window_job;

/* A row kernel computes query row qi of sequence s against KV head g. */
typedef void (*kiln_window_row_fn)(const kiln_window_job *j, int64_t s, int64_t qi, int g, float *scratch);

struct kiln_window_job {
    kiln_attn_params p;
    const float *q;
    float *out;
    const int32_t *q_start, *ctx_lens, *block_tables;
    int max_blocks, window;
    float softcap;
    int64_t n_seq, n_items; /* item = query row * n_head_kv + kv head */
    float *scratch;
    int64_t stride;
    kiln_window_row_fn row;
};

/* kiln_window_scratch_floats is one thread's scratch (a multiple of 16
 * floats): acc [G][pad16(D)], scores [pad16(bs)], K and V tiles
 * [pad16(bs*D)] each, m and l [pad16(G)] each. Every variant carves it so. */
KILN_INLINE int64_t kiln_window_scratch_floats(int G, int D, int bs) {
    return G * kiln_attn_pad16(D) + kiln_attn_pad16(bs) + 2 * kiln_attn_pad16((int64_t)bs * D) + 2 * kiln_attn_pad16(G);
}

/* kiln_window_span is the visible token range [lo, pos] of query row qi. */
KILN_INLINE void kiln_window_span(const kiln_window_job *j, int64_t s, int64_t qi, int *lo, int *pos) {
    const int nq = j->q_start[s + 1] - j->q_start[s];
    *pos = j->ctx_lens[s] - nq + (int)(qi - j->q_start[s]);
    *lo = j->window > 0 && *pos - j->window + 1 > 0 ? *pos - j->window + 1 : 0;
}

void kiln_window_row_ref(const kiln_window_job *j, int64_t s, int64_t qi, int g, float *scratch);
#if KILN_X86
void kiln_window_row_avx2(const kiln_window_job *j, int64_t s, int64_t qi, int g, float *scratch);
#endif

#endif /* KILN_ATTENTION_WINDOW_H */
