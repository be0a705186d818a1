/* matmul_q8r.c — Q8_0 weights repacked into 16-row groups
 * (KILN_TYPE_Q8_0_R16): kiln_repack, and the portable path of every kernel
 * table's Q8_0_R16 row.
 *
 * Why: a Q8_0 GEMV computes 16 outputs at a time from block b of 16 W rows.
 * In GGUF's layout those 16 blocks lie 16 row strides apart, so the kernel
 * reads 16 interleaved streams, which one core's prefetchers serve at about
 * half the rate of one sequential stream (Zen 5, 1 thread: ~33 GB/s against
 * ~60 GB/s), and it must transpose the quants before its add tree. Repacked,
 * a group's bytes are read once, front to back, in the order the kernel
 * consumes them, already transposed to VPDPBUSD's lanes and biased to u8.
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/64 block pairs of 1088 bytes (17 cache lines):
 *     [0, 64)      f16 scales: d of block 2p for rows 0..15, then of block 2p+1
 *     [64, 576)    block 2p:   quad q (q = 0..7) of row j at 64·q + 4·j, each byte w ^ 0x80
 *     [576, 1088)  block 2p+1 alike
 * so the tensor keeps its byte size (n·k/32·34) and every group starts on a
 * cache line when the buffer does.
 *
 * The per-output arithmetic is the Q8_0 rule of matmul.h, unchanged: only
 * where the bytes lie differs. The portable path below unpacks a run of
 * groups back into GGUF rows in per-thread scratch and runs the active
 * table's Q8_0 kernel on them, so on any ISA a Q8_0_R16 result has the bits
 * of the Q8_0 result (decode ≡ prefill, any batch, any thread count).
 * AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q8r_avx512.c, matmul_q8r_avx2.c). */
#include "kernels.h"

#include <string.h>

enum { Q8R_PAIR = KILN_Q8R_PAIR_BYTES, Q8R_ROWS = KILN_Q8R_ROWS };

/* group_bytes is the size of one 16-row group of k elements. */
static size_t group_bytes(int64_t k) { return (size_t)(k / 64) * Q8R_PAIR; }

/* pack_group writes rows[0..15] (GGUF Q8_0 rows of k elements) as one group,
 * a quad (4 quants) at a time: flipping every byte's top bit is w ^ 0x80. */
static void pack_group(const block_q8_0 *const *rows, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pair = out + (size_t)(b / 2) * Q8R_PAIR;
        uint8_t *q = pair + 64 + (size_t)(b & 1) * 512;
        for (int j = 0; j < Q8R_ROWS; j++) {
            memcpy(pair + (size_t)(b & 1) * 32 + 2 * j, &rows[j][b].d, 2);
            for (int u = 0; u < KILN_QK8_0 / 4; u++) {
                uint32_t quad;
                memcpy(&quad, rows[j][b].qs + 4 * u, 4);
                quad ^= 0x80808080u;
                memcpy(q + 64 * u + 4 * j, &quad, 4);
            }
        }
    }
}

/* unpack_group writes one group back as 16 GGUF Q8_0 rows of row_bytes each. */
static void unpack_group(const uint8_t *grp, int64_t k, block_q8_0 *out, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int j = 0; j < Q8R_ROWS; j++) {
        block_q8_0 *row = (block_q8_0 *)((char *)out + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *pair = grp + (size_t)(b / 2) * Q8R_PAIR;
            const uint8_t *q = pair + 64 + (size_t)(b & 1) * 512;
            memcpy(&row[b].d, pair + (size_t)(b & 1) * 32 + 2 * j, 2);
            for (int c = 0; c < KILN_QK8_0; c++) row[b].qs[c] = (int8_t)(q[64 * (c / 4) + 4 * j + c % 4] ^ 0x80);
        }
    }
}

typedef struct {
    const char *w;
    uint8_t *out;
    int64_t groups, k;
    size_t row_bytes;
} repack_task;

static void repack_worker(void *arg, int ith, int nth) {
    const repack_task *t = arg;
    int64_t g0, g1;
    kiln_split(t->groups, ith, nth, 1, &g0, &g1);
    for (int64_t g = g0; g < g1; g++) {
        const block_q8_0 *rows[Q8R_ROWS];
        for (int j = 0; j < Q8R_ROWS; j++)
            rows[j] = (const block_q8_0 *)(t->w + (size_t)(g * Q8R_ROWS + j) * t->row_bytes);
        pack_group(rows, t->k, t->out + (size_t)g * group_bytes(t->k));
    }
}

int kiln_repack_type(int type) {
    if (kiln_ensure_init() != KILN_OK || type != KILN_TYPE_Q8_0) return -1;
    const kiln_type_kernels *row = kiln_kernels_row(kiln_kernels_active(), KILN_TYPE_Q8_0_R16);
    return row && row->gemv != kiln_mm_q8r_unpacked ? KILN_TYPE_Q8_0_R16 : -1;
}

int kiln_repack(int type, const void *w, int64_t n, int64_t k, void *out) {
    if (!w || !out) return KILN_ERR_NULL;
    if (type != KILN_TYPE_Q8_0) return KILN_ERR_TYPE;
    if (n <= 0 || k <= 0 || n > ((int64_t)1 << 40) / k) return KILN_ERR_SIZE;
    if (n % Q8R_ROWS || k % 64) return KILN_ERR_ALIGN;
    const int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    repack_task t = {.w = w, .out = out, .groups = n / Q8R_ROWS, .k = k, .row_bytes = kiln_row_size(type, k)};
    /* memory-bound: one group (34 KB at k = 2048) per share at least */
    kiln_parallel(repack_worker, &t, kiln_threads_for(t.groups, 1));
    return KILN_OK;
}

size_t kiln_mm_q8r_unpack_bytes(int64_t k) {
    return (size_t)KILN_Q8R_UNPACK_ROWS * (size_t)(k / KILN_QK8_0) * sizeof(block_q8_0);
}

/* Columns [n0, n1) in runs of KILN_Q8R_UNPACK_ROWS rows: unpack the run's
 * groups into the area after the kernel scratch (matmul.c sizes it by
 * kiln_mm_q8r_unpack_bytes), then the active table's Q8_0 GEMV or GEMM on
 * them, its output columns shifted to the run's. */
void kiln_mm_q8r_unpacked(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    const kiln_type_kernels *q8 = &kiln_kernels_active()->types[KILN_TYPE_Q8_0];
    block_q8_0 *rows = (block_q8_0 *)(scratch + KILN_MM_SCRATCH_FLOATS);
    const size_t row_bytes = (size_t)(p->k / KILN_QK8_0) * sizeof(block_q8_0);
    for (int64_t j0 = n0; j0 < n1; j0 += KILN_Q8R_UNPACK_ROWS) {
        const int64_t j1 = j0 + KILN_Q8R_UNPACK_ROWS < n1 ? j0 + KILN_Q8R_UNPACK_ROWS : n1;
        for (int64_t g = j0 / Q8R_ROWS; g < (j1 + Q8R_ROWS - 1) / Q8R_ROWS; g++)
            unpack_group((const uint8_t *)p->w + (size_t)g * group_bytes(p->k), p->k,
                         (block_q8_0 *)((char *)rows + (size_t)(g * Q8R_ROWS - j0) * row_bytes), row_bytes);
        kiln_mm q = *p;
        q.wtype = KILN_TYPE_Q8_0;
        q.w = rows;
        q.wstride = row_bytes;
        q.y = p->y + j0; /* row stride stays p->n */
        (p->m >= q8->gemm_min_m ? q8->gemm : q8->gemv)(&q, 0, j1 - j0, scratch);
    }
}

void kiln_mm_q8r_fill(kiln_kernels *t, kiln_mm_kernel direct_gemv, const char *direct_variant) {
    const kiln_type_kernels *q8 = &t->types[KILN_TYPE_Q8_0];
    t->types[KILN_TYPE_Q8_0_R16] = (kiln_type_kernels){
        .x_form = KILN_X_Q8_0,
        .gemv = direct_gemv ? direct_gemv : kiln_mm_q8r_unpacked,
        .gemm = kiln_mm_q8r_unpacked,
        .gemm_min_m = q8->gemm_min_m,
        .gemm_layout = q8->gemm_layout,
        .gemm_mr = q8->gemm_mr,
        .to_float_variant = "none (rows interleaved by 16)",
        .gemv_variant = direct_gemv ? direct_variant : "unpack to q8_0 rows, then the q8_0 gemv",
        .gemm_variant = "unpack to q8_0 rows, then the q8_0 gemm",
    };
}
