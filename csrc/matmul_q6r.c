/* matmul_q6r.c — the layout of Q6_K weights repacked into 16-row groups
 * (KILN_TYPE_Q6_K_R16): packing and unpacking one group.
 *
 * Why: a Q6_K GEMV over GGUF rows reads 16 interleaved row streams and
 * must gather, per super-block, each row's 6-bit quants from two places
 * (ql nibbles, qh bit pairs) in an order no vector lane wants. Repacked, a
 * group's bytes are read once, front to back, already arranged so that one
 * 64-byte vector holds 4 quants of each of the 16 rows (lane j = row j),
 * which is what VPDPBUSD multiplies, and the 6 bits of a quant come out of
 * that vector with one AND (or, for a quarter of them, a few shifts).
 *
 * Layout (kiln.h states it too): n/16 groups of 16 rows, in order; each
 * group k/256 super-blocks of KILN_Q6R_SB_BYTES = 3392 bytes (53 cache
 * lines); in super-block s, four quarters c of 832 bytes (13 lines), each
 * the int8 scales of its four sub-blocks and then their quants:
 *     [832c, 832c + 64)   scale of sub-block t = 4c + i (16 elements), row j,
 *                         at 832c + 16i + j
 *     [832c + 64 + 192i, +192)  sub-block t = 4c + i: three 64-byte vectors
 *                         V_v (v = 0, 1, 2); in V_v byte 4j + e (row j, e < 4)
 *                         holds in bits 0-5 the unsigned quant u = q + 32
 *                         (0..63) of element 16t + 4v + e, and in bits 6-7
 *                         bits 2v, 2v+1 of u of element 16t + 12 + e
 *     [3328, 3360)  f16 d of row j at 3328 + 2j
 *     [3360, 3392)  zero
 * so the kernel reads every byte in address order (each quarter's scales
 * just before their quants, d after the last), and a super-block of 16
 * rows takes 3392 bytes against GGUF's 16 x 210 = 3360 (+0.95%): the 32
 * bytes keep every super-block, and every vector, on a cache line when the
 * buffer starts on one (a vector across two lines costs two loads).
 *
 * The per-output arithmetic is the Q6_K rule of quant.h, unchanged: only
 * where the bits lie differs. The format is registered in repack.c, whose
 * portable path unpacks a run of groups back into GGUF rows and runs the
 * active table's Q6_K kernel on them, so on any ISA a Q6_K_R16 result has
 * the bits of the Q6_K result (decode ≡ prefill, any batch, any thread
 * count). AVX-512 VNNI and AVX2 read the layout directly in their GEMVs
 * (matmul_q6r_avx512.c, matmul_q6r_avx2.c). */
#include "quant.h"
#include "repack.h"

#include <string.h>

enum { Q6R_ROWS = KILN_R16_ROWS, Q6R_SB = KILN_Q6R_SB_BYTES };

/* q6_get is the unsigned quant (0..63) of element e (< 256) of a GGUF
 * Q6_K block: ql[64h + 32(c&1) + l] (low nibble for c < 2, high for c >= 2)
 * and bits 2c, 2c+1 of qh[32h + l], for e = 128h + 32c + l. */
static int q6_get(const block_q6_K *b, int e) {
    const int h = e / 128, c = (e % 128) / 32, l = e % 32;
    const int ql = b->ql[64 * h + 32 * (c & 1) + l], qh = b->qh[32 * h + l];
    return ((c < 2 ? ql : ql >> 4) & 0xF) | ((qh >> 2 * c & 3) << 4);
}

/* q6_put writes u (0..63) as element e of a GGUF Q6_K block whose ql and
 * qh bits for e are still zero. */
static void q6_put(block_q6_K *b, int e, int u) {
    const int h = e / 128, c = (e % 128) / 32, l = e % 32;
    b->ql[64 * h + 32 * (c & 1) + l] |= (uint8_t)((u & 0xF) << (c < 2 ? 0 : 4));
    b->qh[32 * h + l] |= (uint8_t)((u >> 4) << 2 * c);
}

/* kiln_q6r_pack writes 16 GGUF Q6_K rows of k elements as one group. */
void kiln_q6r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t s = 0; s < nb; s++) {
        uint8_t *sb = out + (size_t)s * Q6R_SB;
        memset(sb, 0, Q6R_SB);
        for (int j = 0; j < Q6R_ROWS; j++) {
            const block_q6_K *blk = (const block_q6_K *)(rows + (size_t)j * row_bytes) + s;
            for (int g = 0; g < 16; g++) {
                uint8_t *v = sb + KILN_Q6R_QUANTS(g) + 4 * j;
                for (int c = 0; c < 4; c++) {
                    const int top = q6_get(blk, 16 * g + 12 + c);
                    for (int i = 0; i < 3; i++)
                        v[64 * i + c] = (uint8_t)(q6_get(blk, 16 * g + 4 * i + c) | (top >> 2 * i & 3) << 6);
                }
                sb[KILN_Q6R_SCALES(g) + j] = (uint8_t)blk->scales[g];
            }
            memcpy(sb + KILN_Q6R_D + 2 * j, &blk->d, 2);
        }
    }
}

/* kiln_q6r_unpack writes one group back as 16 GGUF Q6_K rows of row_bytes each. */
void kiln_q6r_unpack(const uint8_t *grp, int64_t k, char *rows, size_t row_bytes) {
    const int64_t nb = k / KILN_QK_K;
    for (int j = 0; j < Q6R_ROWS; j++)
        for (int64_t s = 0; s < nb; s++) {
            const uint8_t *sb = grp + (size_t)s * Q6R_SB;
            block_q6_K *blk = (block_q6_K *)(rows + (size_t)j * row_bytes) + s;
            memset(blk->ql, 0, sizeof blk->ql);
            memset(blk->qh, 0, sizeof blk->qh);
            for (int g = 0; g < 16; g++) {
                const uint8_t *v = sb + KILN_Q6R_QUANTS(g) + 4 * j;
                for (int c = 0; c < 4; c++) {
                    int top = 0;
                    for (int i = 0; i < 3; i++) {
                        q6_put(blk, 16 * g + 4 * i + c, v[64 * i + c] & 0x3F);
                        top |= (v[64 * i + c] >> 6) << 2 * i;
                    }
                    q6_put(blk, 16 * g + 12 + c, top);
                }
                blk->scales[g] = (int8_t)sb[KILN_Q6R_SCALES(g) + j];
            }
            memcpy(&blk->d, sb + KILN_Q6R_D + 2 * j, 2);
        }
}
