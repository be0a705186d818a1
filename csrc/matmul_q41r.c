/* matmul_q41r.c — the layouts of Q4_1 and Q5_1 weights repacked into
 * 16-row groups (KILN_TYPE_Q4_1_R16, KILN_TYPE_Q5_1_R16): packing and
 * unpacking one group.
 *
 * Why: as for Q4_0_R16 and Q5_0_R16 (matmul_q4r.c, matmul_q5r.c), whose
 * layouts these are with each block's min m beside its scale d: a group's
 * bytes are read once, front to back, laid out for VPDPBUSD's lanes (lane
 * j = row j).
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/64 block pairs; pair p:
 *     [0, 64)       f16 d: of block 2p for rows 0..15, then of block 2p+1
 *     [64, 128)     f16 m alike
 *     [128, ...)    block 2p, then block 2p+1, each as in Q4_0_R16 (256
 *                   bytes of quant bytes: qs[4u + c] of row j at 64u + 4j + c)
 *                   or Q5_0_R16 (64 bytes of fifth-bit mask words, then
 *                   those 256 bytes)
 * so a pair is 640 bytes (Q4_1, 10 cache lines) or 768 (Q5_1, 12 lines),
 * the tensor keeps its byte size, and every pair starts on a cache line
 * when the buffer does.
 *
 * The per-output arithmetic is the Q4_1 (Q5_1) rule of quant.h, unchanged.
 * The formats are registered in repack.c, whose portable path unpacks a
 * run of groups back into GGUF rows and runs the active table's source
 * kernel on them. AVX-512 VNNI and AVX2 read the layouts directly in their
 * GEMVs (matmul_q4r_avx512.c, matmul_q4r_avx2.c, beside Q4_0_R16's). */
#include "quant.h"
#include "repack.h"

#include <string.h>

enum { Q41R_ROWS = KILN_R16_ROWS };

/* q41r_pack packs 16 rows of Q4_1 (five = 0) or Q5_1 blocks; the two share
 * d, m at the front and qs at the end, Q5_1 has qh[4] between. */
static void q41r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out, const int five) {
    const int64_t nb = k / KILN_QK8_0;
    const size_t blk_bytes = five ? sizeof(block_q5_1) : sizeof(block_q4_1);
    const size_t pair_bytes = five ? KILN_Q51R_PAIR_BYTES : KILN_Q41R_PAIR_BYTES;
    const size_t qblock = five ? KILN_Q5R_BLOCK_BYTES : KILN_Q4R_BLOCK_BYTES;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pair = out + (size_t)(b / 2) * pair_bytes;
        uint8_t *blk = pair + 128 + (size_t)(b & 1) * qblock;
        uint8_t *q = blk + (five ? 64 : 0);
        uint64_t masks[8] = {0};
        for (int j = 0; j < Q41R_ROWS; j++) {
            const uint8_t *src = (const uint8_t *)rows + (size_t)j * row_bytes + (size_t)b * blk_bytes;
            memcpy(pair + (size_t)(b & 1) * 32 + 2 * j, src, 2);
            memcpy(pair + 64 + (size_t)(b & 1) * 32 + 2 * j, src + 2, 2);
            const uint8_t *qs = src + (five ? 8 : 4);
            uint32_t qh = 0;
            if (five) memcpy(&qh, src + 4, 4);
            for (int u = 0; u < 4; u++) {
                memcpy(q + 64 * u + 4 * j, qs + 4 * u, 4);
                masks[2 * u] |= (uint64_t)((qh >> (4 * u)) & 0xF) << (4 * j); /* elements 4u..4u+3 */
                masks[2 * u + 1] |= (uint64_t)((qh >> (16 + 4 * u)) & 0xF) << (4 * j);
            }
        }
        if (five)
            for (int i = 0; i < 8; i++)
                for (int byte = 0; byte < 8; byte++) blk[8 * i + byte] = (uint8_t)(masks[i] >> (8 * byte));
    }
}

/* q41r_unpack writes one group back as 16 GGUF Q4_1 (Q5_1) rows. */
static void q41r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes, const int five) {
    const int64_t nb = k / KILN_QK8_0;
    const size_t blk_bytes = five ? sizeof(block_q5_1) : sizeof(block_q4_1);
    const size_t pair_bytes = five ? KILN_Q51R_PAIR_BYTES : KILN_Q41R_PAIR_BYTES;
    const size_t qblock = five ? KILN_Q5R_BLOCK_BYTES : KILN_Q4R_BLOCK_BYTES;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * pair_bytes;
        const uint8_t *blk = pair + 128 + (size_t)(b & 1) * qblock;
        const uint8_t *q = blk + (five ? 64 : 0);
        uint64_t masks[8] = {0};
        if (five)
            for (int i = 0; i < 8; i++)
                for (int byte = 0; byte < 8; byte++) masks[i] |= (uint64_t)blk[8 * i + byte] << (8 * byte);
        for (int j = 0; j < Q41R_ROWS; j++) {
            uint8_t *dst = (uint8_t *)rows + (size_t)j * row_bytes + (size_t)b * blk_bytes;
            memcpy(dst, pair + (size_t)(b & 1) * 32 + 2 * j, 2);
            memcpy(dst + 2, pair + 64 + (size_t)(b & 1) * 32 + 2 * j, 2);
            uint8_t *qs = dst + (five ? 8 : 4);
            uint32_t qh = 0;
            for (int u = 0; u < 4; u++) {
                memcpy(qs + 4 * u, q + 64 * u + 4 * j, 4);
                qh |= (uint32_t)((masks[2 * u] >> (4 * j)) & 0xF) << (4 * u); /* nibble j of each word */
                qh |= (uint32_t)((masks[2 * u + 1] >> (4 * j)) & 0xF) << (16 + 4 * u);
            }
            if (five) memcpy(dst + 4, &qh, 4);
        }
    }
}

_Static_assert(sizeof(block_q4_1) == 20 && sizeof(block_q5_1) == 24, "d, m, (qh,) qs as q41r_pack reads them");
_Static_assert(KILN_Q41R_PAIR_BYTES == 2 * Q41R_ROWS * sizeof(block_q4_1), "a Q4_1 block pair of 16 rows keeps its size");
_Static_assert(KILN_Q51R_PAIR_BYTES == 2 * Q41R_ROWS * sizeof(block_q5_1), "a Q5_1 block pair of 16 rows keeps its size");

void kiln_q41r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) { q41r_pack(rows, row_bytes, k, out, 0); }
void kiln_q41r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) { q41r_unpack(grp, k, rows, row_bytes, 0); }
void kiln_q51r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) { q41r_pack(rows, row_bytes, k, out, 1); }
void kiln_q51r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) { q41r_unpack(grp, k, rows, row_bytes, 1); }
