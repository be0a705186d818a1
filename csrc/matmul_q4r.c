/* matmul_q4r.c — the layout of Q4_0 weights repacked into 16-row groups
 * (KILN_TYPE_Q4_0_R16): packing and unpacking one group.
 *
 * Why: a Q4_0 GEMV computes 16 outputs at a time from block b of 16 W rows.
 * In GGUF's layout those 16 blocks of 18 bytes lie a row stride apart: the
 * kernel reads 16 interleaved streams, which one core's prefetchers serve
 * at about half the rate of one sequential stream, and it must gather the
 * 16 rows' bytes into vectors and reduce them across rows (an add tree)
 * before the float steps. Repacked, a group's bytes are read once, front
 * to back, already laid out for VPDPBUSD's lanes (lane j = row j).
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/64 block pairs of 576 bytes (9 cache lines):
 *     [0, 64)      f16 scales: d of block 2p for rows 0..15, then of block 2p+1
 *     [64, 320)    block 2p:   quant byte qs[4u + c] (u < 4, c < 4) of row j at 64·u + 4·j + c
 *     [320, 576)   block 2p+1 alike
 * The bytes are GGUF's, unchanged: the low nibble of qs[i] is element i,
 * the high nibble element i + 16. So one 64-byte vector u holds, in lane
 * j, elements 4u..4u+3 of row j (low nibbles) and 4u+16..4u+19 (high):
 * one mask gives the first quad, one shift and mask the second. The tensor
 * keeps its byte size (n·k/32·18) and every group starts on a cache line
 * when the buffer does.
 *
 * The per-output arithmetic is the Q4_0 rule of quant.h, unchanged: only
 * where the bytes lie differs. The format is registered in repack.c, whose
 * portable path unpacks a run of groups back into GGUF rows and runs the
 * active table's Q4_0 kernel on them, so on any ISA a Q4_0_R16 result has
 * the bits of the Q4_0 result (decode ≡ prefill, any batch, any thread
 * count). AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q4r_avx512.c, matmul_q4r_avx2.c). */
#include "quant.h"
#include "repack.h"

#include <stddef.h>
#include <string.h>

enum { Q4R_PAIR = KILN_Q4R_PAIR_BYTES, Q4R_ROWS = KILN_R16_ROWS, Q4R_BLOCK = KILN_Q4R_BLOCK_BYTES };
/* IQ4_NL_R16 is this layout too (repack.c registers these functions for
 * it): an IQ4_NL block is a Q4_0 block's bytes, f16 d then 16 nibble bytes
 * (element i low nibble of qs[i], element i + 16 high), only what a nibble
 * means differs. */
_Static_assert(sizeof(block_iq4_nl) == sizeof(block_q4_0) && offsetof(block_iq4_nl, qs) == offsetof(block_q4_0, qs),
               "IQ4_NL blocks are Q4_0 blocks' bytes");

/* kiln_q4r_pack writes 16 GGUF Q4_0 rows of k elements as one group. */
void kiln_q4r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pair = out + (size_t)(b / 2) * Q4R_PAIR;
        uint8_t *q = pair + 64 + (size_t)(b & 1) * Q4R_BLOCK;
        for (int j = 0; j < Q4R_ROWS; j++) {
            const block_q4_0 *blk = (const block_q4_0 *)(rows + (size_t)j * row_bytes) + b;
            memcpy(pair + (size_t)(b & 1) * 32 + 2 * j, &blk->d, 2);
            for (int u = 0; u < 4; u++) memcpy(q + 64 * u + 4 * j, blk->qs + 4 * u, 4);
        }
    }
}

/* kiln_q4r_unpack writes one group back as 16 GGUF Q4_0 rows of row_bytes each. */
void kiln_q4r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int j = 0; j < Q4R_ROWS; j++) {
        block_q4_0 *row = (block_q4_0 *)(rows + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *pair = grp + (size_t)(b / 2) * Q4R_PAIR;
            const uint8_t *q = pair + 64 + (size_t)(b & 1) * Q4R_BLOCK;
            memcpy(&row[b].d, pair + (size_t)(b & 1) * 32 + 2 * j, 2);
            for (int u = 0; u < 4; u++) memcpy(row[b].qs + 4 * u, q + 64 * u + 4 * j, 4);
        }
    }
}
