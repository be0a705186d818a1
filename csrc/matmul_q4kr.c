/* matmul_q4kr.c — the layout of Q4_K weights repacked into 16-row groups
 * (KILN_TYPE_Q4_K_R16): packing and unpacking one group.
 *
 * Why: the Q4_K GEMV of GGUF rows reads 16 interleaved row streams, gathers
 * the 16 rows' f16 scales, decodes each row's 6-bit sub-block scales and
 * mins on its own and reduces 16 rows' partial sums by add trees; on AVX2
 * it runs out of instructions (about 25 GB/s against 47 for Q8_0_R16).
 * Repacked, a group's bytes are one sequential stream, in the order the
 * kernel consumes them, already in VPDPBUSD's lanes (lane j = row j): no
 * gathers, no transposes, no add trees, and one decode of the scales serves
 * 16 rows at once.
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/256 super-blocks of 2304 bytes (36 cache lines), super-block b of
 * the 16 rows at b*2304:
 *     [0, 32)       d of rows 0..15 (f16, as in the source block)
 *     [32, 64)      dmin of rows 0..15
 *     [64, 256)     the 12 packed 6-bit scale/min bytes of each row, as
 *                   three planes of dwords: bytes 4w..4w+3 of row j at
 *                   64 + 64w + 4j (w = 0, 1, 2)
 *     [256, 2304)   quants: GGUF's qs[32c + 4u .. 32c + 4u + 3] of row j at
 *                   256 + 512c + 64u + 4j (chunk c < 4, quad u < 8), bytes
 *                   unchanged: the low nibbles are elements 64c + 4u.. of
 *                   sub-block 2c, the high nibbles the same places of 2c+1
 * so the tensor keeps its byte size (n·k/256·144) and every super-block
 * starts on a cache line when the buffer does. The scales stay packed: the
 * kernels decode them for 16 rows with a dozen lane-wise operations, where
 * bytes unpacked per sub-block would add 64 bytes (2.8%) per super-block.
 *
 * The per-output arithmetic is the Q4_K rule of quant.h, unchanged (exact
 * int32 sums, block b into float lane b % 8, the fixed lane sum). The
 * format is registered in repack.c, whose portable path unpacks a run of
 * groups back into GGUF rows and runs the active table's Q4_K kernel on
 * them. AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q4kr_avx512.c, matmul_q4kr_avx2.c). */
#include "repack.h"
#include "quant.h"

#include <string.h>

enum { Q4KR_ROWS = KILN_R16_ROWS };
_Static_assert(KILN_Q4KR_SB_BYTES == Q4KR_ROWS * sizeof(block_q4_K), "a super-block of 16 rows keeps its size");

/* kiln_q4kr_pack writes 16 GGUF Q4_K rows of k elements as one group. */
void kiln_q4kr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *sb = out + (size_t)b * KILN_Q4KR_SB_BYTES;
        for (int j = 0; j < Q4KR_ROWS; j++) {
            const block_q4_K *blk = (const block_q4_K *)(rows + (size_t)j * row_bytes) + b;
            memcpy(sb + 2 * j, &blk->d, 2);
            memcpy(sb + 32 + 2 * j, &blk->dmin, 2);
            for (int w = 0; w < 3; w++) memcpy(sb + KILN_Q4KR_SCALES + 64 * w + 4 * j, blk->scales + 4 * w, 4);
            for (int c = 0; c < 4; c++)
                for (int u = 0; u < 8; u++)
                    memcpy(sb + KILN_Q4KR_QUANTS + 512 * c + 64 * u + 4 * j, blk->qs + 32 * c + 4 * u, 4);
        }
    }
}

/* kiln_q4kr_unpack writes one group back as 16 GGUF Q4_K rows of row_bytes each. */
void kiln_q4kr_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int j = 0; j < Q4KR_ROWS; j++) {
        block_q4_K *row = (block_q4_K *)(rows + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *sb = grp + (size_t)b * KILN_Q4KR_SB_BYTES;
            memcpy(&row[b].d, sb + 2 * j, 2);
            memcpy(&row[b].dmin, sb + 32 + 2 * j, 2);
            for (int w = 0; w < 3; w++) memcpy(row[b].scales + 4 * w, sb + KILN_Q4KR_SCALES + 64 * w + 4 * j, 4);
            for (int c = 0; c < 4; c++)
                for (int u = 0; u < 8; u++)
                    memcpy(row[b].qs + 32 * c + 4 * u, sb + KILN_Q4KR_QUANTS + 512 * c + 64 * u + 4 * j, 4);
        }
    }
}
