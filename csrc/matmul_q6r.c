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

/* q6_get_all writes the unsigned quants (0..63) of a GGUF Q6_K block in
 * element order: element 128h + 32c + l takes ql[64h + 32(c&1) + l] (low
 * nibble for c < 2, high for c >= 2) and bits 2c, 2c+1 of qh[32h + l]. */
static void q6_get_all(const block_q6_K *b, uint8_t u[KILN_QK_K]) {
    for (int h = 0; h < 2; h++)
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                const int ql = b->ql[64 * h + 32 * (c & 1) + l], qh = b->qh[32 * h + l];
                u[128 * h + 32 * c + l] = (uint8_t)(((c < 2 ? ql : ql >> 4) & 0xF) | ((qh >> 2 * c & 3) << 4));
            }
}

/* q6_put_all writes 256 unsigned quants (0..63) as a GGUF Q6_K block's ql and qh. */
static void q6_put_all(const uint8_t u[KILN_QK_K], block_q6_K *b) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *e = u + 128 * h + l;
            b->ql[64 * h + l] = (uint8_t)((e[0] & 0xF) | (e[64] & 0xF) << 4);
            b->ql[64 * h + 32 + l] = (uint8_t)((e[32] & 0xF) | (e[96] & 0xF) << 4);
            b->qh[32 * h + l] = (uint8_t)(e[0] >> 4 | (e[32] >> 4) << 2 | (e[64] >> 4) << 4 | (e[96] >> 4) << 6);
        }
}

/* kiln_q6r_pack writes 16 GGUF Q6_K rows of k elements as one group. */
void kiln_q6r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out) {
    const int64_t nb = k / KILN_QK_K;
    for (int64_t s = 0; s < nb; s++) {
        uint8_t *sb = out + (size_t)s * Q6R_SB;
        memset(sb + KILN_Q6R_D, 0, Q6R_SB - KILN_Q6R_D);
        for (int j = 0; j < Q6R_ROWS; j++) {
            const block_q6_K *blk = (const block_q6_K *)(rows + (size_t)j * row_bytes) + s;
            uint8_t u[KILN_QK_K];
            q6_get_all(blk, u);
            for (int t = 0; t < 16; t++) {
                uint8_t *v = sb + KILN_Q6R_QUANTS(t) + 4 * j;
                const uint8_t *e = u + 16 * t;
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < 3; i++) v[64 * i + c] = (uint8_t)(e[4 * i + c] | (e[12 + c] >> 2 * i & 3) << 6);
                sb[KILN_Q6R_SCALES(t) + j] = (uint8_t)blk->scales[t];
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
            uint8_t u[KILN_QK_K];
            for (int t = 0; t < 16; t++) {
                const uint8_t *v = sb + KILN_Q6R_QUANTS(t) + 4 * j;
                uint8_t *e = u + 16 * t;
                for (int c = 0; c < 4; c++) {
                    e[c] = v[c] & 0x3F;
                    e[4 + c] = v[64 + c] & 0x3F;
                    e[8 + c] = v[128 + c] & 0x3F;
                    e[12 + c] = (uint8_t)(v[c] >> 6 | (v[64 + c] >> 6) << 2 | (v[128 + c] >> 6) << 4);
                }
                blk->scales[t] = (int8_t)sb[KILN_Q6R_SCALES(t) + j];
            }
            q6_put_all(u, blk);
            memcpy(&blk->d, sb + KILN_Q6R_D + 2 * j, 2);
        }
}
