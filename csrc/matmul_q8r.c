/* matmul_q8r.c — the layout of Q8_0 weights repacked into 16-row groups
 * (KILN_TYPE_Q8_0_R16): packing and unpacking one group.
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
 * where the bytes lie differs. The format is registered in repack.c, whose
 * portable path unpacks a run of groups back into GGUF rows and runs the
 * active table's Q8_0 kernel on them, so on any ISA a Q8_0_R16 result has
 * the bits of the Q8_0 result (decode ≡ prefill, any batch, any thread
 * count). AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q8r_avx512.c, matmul_q8r_avx2.c). */
#include "repack.h"

#include <string.h>

enum { Q8R_PAIR = KILN_Q8R_PAIR_BYTES, Q8R_ROWS = KILN_R16_ROWS };

/* kiln_q8r_pack writes 16 GGUF Q8_0 rows of k elements as one group, a
 * quad (4 quants) at a time: flipping every byte's top bit is w ^ 0x80. */
void kiln_q8r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pair = out + (size_t)(b / 2) * Q8R_PAIR;
        uint8_t *q = pair + 64 + (size_t)(b & 1) * 512;
        for (int j = 0; j < Q8R_ROWS; j++) {
            const block_q8_0 *blk = (const block_q8_0 *)(rows + (size_t)j * row_bytes) + b;
            memcpy(pair + (size_t)(b & 1) * 32 + 2 * j, &blk->d, 2);
            for (int u = 0; u < KILN_QK8_0 / 4; u++) {
                uint32_t quad;
                memcpy(&quad, blk->qs + 4 * u, 4);
                quad ^= 0x80808080u;
                memcpy(q + 64 * u + 4 * j, &quad, 4);
            }
        }
    }
}

/* kiln_q8r_unpack writes one group back as 16 GGUF Q8_0 rows of row_bytes each. */
void kiln_q8r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int j = 0; j < Q8R_ROWS; j++) {
        block_q8_0 *row = (block_q8_0 *)(rows + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *pair = grp + (size_t)(b / 2) * Q8R_PAIR;
            const uint8_t *q = pair + 64 + (size_t)(b & 1) * 512;
            memcpy(&row[b].d, pair + (size_t)(b & 1) * 32 + 2 * j, 2);
            for (int c = 0; c < KILN_QK8_0 / 4; c++) { /* a quad at a time: prefill unpacks every call */
                uint32_t quad;
                memcpy(&quad, q + 64 * c + 4 * j, 4);
                quad ^= 0x80808080u;
                memcpy(row[b].qs + 4 * c, &quad, 4);
            }
        }
    }
}
