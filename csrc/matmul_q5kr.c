/* matmul_q5kr.c — the layout of Q5_K weights repacked into 16-row groups
 * (KILN_TYPE_Q5_K_R16): packing and unpacking one group.
 *
 * Why: as for Q4_K_R16 (matmul_q4kr.c), the Q5_K GEMV of GGUF rows reads 16
 * interleaved row streams and decodes each row's scales on its own; Q5_K
 * also keeps every quant's fifth bit in a 32-byte qh array per row.
 * Repacked, a group's bytes are one sequential stream in the order the
 * kernel consumes them, already in VPDPBUSD's lanes (lane j = row j).
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/256 super-blocks of 2816 bytes (44 cache lines), super-block b of
 * the 16 rows at b*2816:
 *     [0, 32)       d of rows 0..15 (f16, as in the source block)
 *     [32, 64)      dmin of rows 0..15
 *     [64, 256)     the 12 packed 6-bit scale/min bytes of each row, as
 *                   three planes of dwords: bytes 4w..4w+3 of row j at
 *                   64 + 64w + 4j (w = 0, 1, 2), as in Q4_K_R16
 *     [256, 768)    fifth bits: GGUF's qh[4u .. 4u + 3] of row j at
 *                   256 + 64u + 4j (u < 8), bytes unchanged
 *     [768, 2816)   quants: GGUF's qs[32c + 4u .. 32c + 4u + 3] of row j at
 *                   768 + 512c + 64u + 4j (chunk c < 4, quad u < 8), bytes
 *                   unchanged: the low nibbles are elements 64c + 4u.. of
 *                   sub-block 2c, the high nibbles the same places of 2c+1
 * So qh vector u lines up byte for byte with quant vector u of every chunk:
 * bit 2c of a qh byte is the fifth bit of the low nibble of the quant byte
 * at the same place in chunk c, bit 2c+1 that of its high nibble (GGUF's
 * own rule, element 64c + l takes bit 2c of qh[l]). The tensor keeps its
 * byte size (n·k/256·176) and every super-block starts on a cache line
 * when the buffer does.
 *
 * The per-output arithmetic is the Q5_K rule of quant.h, unchanged (exact
 * int32 sums, block b into float lane b % 8, the fixed lane sum). The
 * format is registered in repack.c, whose portable path unpacks a run of
 * groups back into GGUF rows and runs the active table's Q5_K kernel on
 * them. AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q5kr_avx512.c, matmul_q5kr_avx2.c). */
#include "repack.h"
#include "quant.h"

#include <string.h>

enum { Q5KR_ROWS = KILN_R16_ROWS };
_Static_assert(KILN_Q5KR_SB_BYTES == Q5KR_ROWS * sizeof(block_q5_K), "a super-block of 16 rows keeps its size");

/* kiln_q5kr_pack writes 16 GGUF Q5_K rows of k elements as one group. */
void kiln_q5kr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *sb = out + (size_t)b * KILN_Q5KR_SB_BYTES;
        for (int j = 0; j < Q5KR_ROWS; j++) {
            const block_q5_K *blk = (const block_q5_K *)(rows + (size_t)j * row_bytes) + b;
            memcpy(sb + 2 * j, &blk->d, 2);
            memcpy(sb + 32 + 2 * j, &blk->dmin, 2);
            for (int w = 0; w < 3; w++) memcpy(sb + KILN_Q5KR_SCALES + 64 * w + 4 * j, blk->scales + 4 * w, 4);
            for (int u = 0; u < 8; u++) memcpy(sb + KILN_Q5KR_QH + 64 * u + 4 * j, blk->qh + 4 * u, 4);
            for (int c = 0; c < 4; c++)
                for (int u = 0; u < 8; u++)
                    memcpy(sb + KILN_Q5KR_QUANTS + 512 * c + 64 * u + 4 * j, blk->qs + 32 * c + 4 * u, 4);
        }
    }
}

/* kiln_q5kr_unpack writes one group back as 16 GGUF Q5_K rows of row_bytes each. */
void kiln_q5kr_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int j = 0; j < Q5KR_ROWS; j++) {
        block_q5_K *row = (block_q5_K *)(rows + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *sb = grp + (size_t)b * KILN_Q5KR_SB_BYTES;
            memcpy(&row[b].d, sb + 2 * j, 2);
            memcpy(&row[b].dmin, sb + 32 + 2 * j, 2);
            for (int w = 0; w < 3; w++) memcpy(row[b].scales + 4 * w, sb + KILN_Q5KR_SCALES + 64 * w + 4 * j, 4);
            for (int u = 0; u < 8; u++) memcpy(row[b].qh + 4 * u, sb + KILN_Q5KR_QH + 64 * u + 4 * j, 4);
            for (int c = 0; c < 4; c++)
                for (int u = 0; u < 8; u++)
                    memcpy(row[b].qs + 32 * c + 4 * u, sb + KILN_Q5KR_QUANTS + 512 * c + 64 * u + 4 * j, 4);
        }
    }
}
