/* matmul_q5r.c — the layout of Q5_0 weights repacked into 16-row groups
 * (KILN_TYPE_Q5_0_R16): packing and unpacking one group.
 *
 * Why: as for Q4_0_R16 (matmul_q4r.c), a group's bytes are read once, front
 * to back, laid out for VPDPBUSD's lanes (lane j = row j); Q5_0 also needs
 * every quant's fifth bit beside its nibble, which GGUF keeps as a 32-bit
 * word per block (bit e for element e).
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/64 block pairs of 704 bytes (11 cache lines):
 *     [0, 64)       f16 scales: d of block 2p for rows 0..15, then of block 2p+1
 *     [64, 384)     block 2p:   64 bytes of fifth-bit masks, then 256 of nibbles
 *     [384, 704)    block 2p+1 alike
 * Nibbles: byte qs[4u + c] (u < 4, c < 4) of row j at 64·u + 4·j + c,
 * GGUF's byte unchanged, as in Q4_0_R16. Masks: eight little-endian 64-bit
 * words, for u = 0..3 first "low" then "high": bit 4·j + c of low word u is
 * the fifth bit of element 4u + c of row j, of high word u that of element
 * 4u + c + 16. So bit i of a word is byte i of nibble vector u: a kernel
 * loads the word as an AVX-512 byte mask and adds 16 to the masked bytes
 * in one instruction (AVX2 spreads each 32-bit half over 32 bytes). The
 * tensor keeps its byte size (n·k/32·22).
 *
 * The per-output arithmetic is the Q5_0 rule of quant.h, unchanged. The
 * format is registered in repack.c, whose portable path unpacks a run of
 * groups back into GGUF rows and runs the active table's Q5_0 kernel on
 * them, so on any ISA a Q5_0_R16 result has the bits of the Q5_0 result.
 * AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q4r_avx512.c, matmul_q4r_avx2.c, beside Q4_0_R16's). */
#include "quant.h"
#include "repack.h"

#include <string.h>

enum { Q5R_PAIR = KILN_Q5R_PAIR_BYTES, Q5R_ROWS = KILN_R16_ROWS, Q5R_BLOCK = KILN_Q5R_BLOCK_BYTES };

/* kiln_q5r_pack writes 16 GGUF Q5_0 rows of k elements as one group. */
void kiln_q5r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *pair = out + (size_t)(b / 2) * Q5R_PAIR;
        uint8_t *blk = pair + 64 + (size_t)(b & 1) * Q5R_BLOCK;
        uint64_t masks[8] = {0};
        for (int j = 0; j < Q5R_ROWS; j++) {
            const block_q5_0 *src = (const block_q5_0 *)(rows + (size_t)j * row_bytes) + b;
            memcpy(pair + (size_t)(b & 1) * 32 + 2 * j, &src->d, 2);
            uint32_t qh;
            memcpy(&qh, src->qh, 4);
            for (int u = 0; u < 4; u++) {
                memcpy(blk + 64 + 64 * u + 4 * j, src->qs + 4 * u, 4);
                masks[2 * u] |= (uint64_t)((qh >> (4 * u)) & 0xF) << (4 * j); /* elements 4u..4u+3 */
                masks[2 * u + 1] |= (uint64_t)((qh >> (16 + 4 * u)) & 0xF) << (4 * j);
            }
        }
        for (int i = 0; i < 8; i++)
            for (int byte = 0; byte < 8; byte++) blk[8 * i + byte] = (uint8_t)(masks[i] >> (8 * byte));
    }
}

/* kiln_q5r_unpack writes one group back as 16 GGUF Q5_0 rows of row_bytes each. */
void kiln_q5r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK8_0;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *pair = grp + (size_t)(b / 2) * Q5R_PAIR;
        const uint8_t *blk = pair + 64 + (size_t)(b & 1) * Q5R_BLOCK;
        uint64_t masks[8] = {0};
        for (int i = 0; i < 8; i++)
            for (int byte = 0; byte < 8; byte++) masks[i] |= (uint64_t)blk[8 * i + byte] << (8 * byte);
        for (int j = 0; j < Q5R_ROWS; j++) {
            block_q5_0 *dst = (block_q5_0 *)(rows + (size_t)j * row_bytes) + b;
            memcpy(&dst->d, pair + (size_t)(b & 1) * 32 + 2 * j, 2);
            uint32_t qh = 0;
            for (int u = 0; u < 4; u++) {
                memcpy(dst->qs + 4 * u, blk + 64 + 64 * u + 4 * j, 4);
                qh |= (uint32_t)((masks[2 * u] >> (4 * j)) & 0xF) << (4 * u); /* nibble j of each word */
                qh |= (uint32_t)((masks[2 * u + 1] >> (4 * j)) & 0xF) << (16 + 4 * u);
            }
            memcpy(dst->qh, &qh, 4);
        }
    }
}
