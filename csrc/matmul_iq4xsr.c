/* matmul_iq4xsr.c — the layout of IQ4_XS weights repacked into 16-row
 * groups (KILN_TYPE_IQ4_XS_R16): packing and unpacking one group.
 *
 * Why: the IQ4_XS GEMV of GGUF rows reads 16 interleaved row streams,
 * gathers each row's scales and d on its own and reduces 16 rows' partial
 * sums by add trees. Repacked, a group's bytes are one sequential stream in
 * the order the kernel consumes them, already in VPDPBUSD's lanes (lane j =
 * row j): no gathers, no transposes, no add trees, and one decode of the
 * scales serves 16 rows at once.
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/256 super-blocks of 2176 bytes (34 cache lines), super-block b of
 * the 16 rows at b*2176:
 *     [0, 32)       d of rows 0..15 (f16, as in the source block)
 *     [32, 64)      scales_h of rows 0..15 (uint16, as in the source block)
 *     [64, 128)     scales_l[0..3] of row j at 64 + 4j
 *     [128, 2176)   quants: GGUF's qs[16s + 4u .. 16s + 4u + 3] of row j at
 *                   128 + 256s + 64u + 4j (sub-block s < 8, quad u < 4),
 *                   bytes unchanged: the low nibbles are elements
 *                   32s + 4u.. of sub-block s, the high nibbles 32s + 16 + 4u..
 * so a sub-block is four consecutive 64-byte vectors, the tensor keeps its
 * byte size (n·k/256·136) and every super-block starts on a cache line when
 * the buffer does. Row j's 6-bit scale of sub-block s is, as a dword lane,
 * bits 4s..4s+3 of its scales_l word and bits 2s, 2s+1 of its scales_h.
 *
 * The per-output arithmetic is the IQ4_XS rule of quant.h, unchanged (exact
 * int32 sums, block b into float lane b % 8, the fixed lane sum). The
 * format is registered in repack.c, whose portable path unpacks a run of
 * groups back into GGUF rows and runs the active table's IQ4_XS kernel on
 * them. AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_iq4xsr_avx512.c, matmul_iq4xsr_avx2.c). */
#include "repack.h"
#include "quant.h"

#include <string.h>

enum { IQ4XSR_ROWS = KILN_R16_ROWS };
_Static_assert(KILN_IQ4XSR_SB_BYTES == IQ4XSR_ROWS * sizeof(block_iq4_xs), "a super-block of 16 rows keeps its size");

/* kiln_iq4xsr_pack writes 16 GGUF IQ4_XS rows of k elements as one group. */
void kiln_iq4xsr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *sb = out + (size_t)b * KILN_IQ4XSR_SB_BYTES;
        for (int j = 0; j < IQ4XSR_ROWS; j++) {
            const block_iq4_xs *blk = (const block_iq4_xs *)(rows + (size_t)j * row_bytes) + b;
            memcpy(sb + 2 * j, &blk->d, 2);
            memcpy(sb + KILN_IQ4XSR_SCALES_H + 2 * j, &blk->scales_h, 2);
            memcpy(sb + KILN_IQ4XSR_SCALES_L + 4 * j, blk->scales_l, 4);
            for (int s = 0; s < 8; s++)
                for (int u = 0; u < 4; u++)
                    memcpy(sb + KILN_IQ4XSR_QUANTS + 256 * s + 64 * u + 4 * j, blk->qs + 16 * s + 4 * u, 4);
        }
    }
}

/* kiln_iq4xsr_unpack writes one group back as 16 GGUF IQ4_XS rows of row_bytes each. */
void kiln_iq4xsr_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int j = 0; j < IQ4XSR_ROWS; j++) {
        block_iq4_xs *row = (block_iq4_xs *)(rows + (size_t)j * row_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *sb = grp + (size_t)b * KILN_IQ4XSR_SB_BYTES;
            memcpy(&row[b].d, sb + 2 * j, 2);
            memcpy(&row[b].scales_h, sb + KILN_IQ4XSR_SCALES_H + 2 * j, 2);
            memcpy(row[b].scales_l, sb + KILN_IQ4XSR_SCALES_L + 4 * j, 4);
            for (int s = 0; s < 8; s++)
                for (int u = 0; u < 4; u++)
                    memcpy(row[b].qs + 16 * s + 4 * u, sb + KILN_IQ4XSR_QUANTS + 256 * s + 64 * u + 4 * j, 4);
        }
    }
}
