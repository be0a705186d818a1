/* matmul.h — the matmul family's internal interface: one problem struct and
 * the per-ISA kernels kiln_matmul (matmul.c) dispatches to.
 *
 * Contract shared by every kernel (the determinism rule of kiln.h):
 * a kernel computes y[0:m, n0:n1] and every output y[i,j] is produced by the
 * same sequence of floating-point operations whatever m, n0, n1, the tile the
 * output falls in or the cache block it is computed in. Within one ISA:
 *  - float weights (F32/F16/BF16): one VL-lane accumulator per output,
 *    acc = fma(x[k:k+VL], w[k:k+VL], acc) for k = 0, VL, 2VL, ...; the last
 *    partial step uses zero-filled lanes; then a fixed horizontal sum.
 *  - BF16, AVX-512 with AVX512_BF16: the bf16 pair-dot rule instead (x
 *    rounded to bf16, VDPBF16PS's lane order and flushes; defined in scalar
 *    code by kiln_mm_bf16_dot_ref, matmul_bf16_avx512.c), GEMV and GEMM alike.
 *  - Q8_0, AVX2: one f32 accumulator per output, starting at +0,
 *    acc = fma(dx_b*dw_b, float(exact int32 block dot), acc) over blocks in
 *    order, dx_b*dw_b one f32 multiply. Two loop nests follow it: m below
 *    KILN_MM_Q8G_MIN_M, dot products of 8 W rows at a time (matmul_avx2.c);
 *    from there on, a packed-int16 outer-product GEMM (matmul_q8_avx2.c:
 *    16-column W panels packed per thread, 6-row X tiles, vpmaddwd+vpaddd
 *    per k pair, the f32 fma once per block).
 *  - Q8_0, AVX-512: the AVX2 rule, so the bits equal AVX2's. With VNNI:
 *    the GEMV of matmul_q8_avx512.c (16 W rows per VPDPBUSD step, m below
 *    KILN_MM_Q8G_MIN_M) and the int8 GEMM of matmul_q8g_avx512.c (6 X rows
 *    × 32 W rows per tile, X laid out in 12-row tiles); without VNNI, the
 *    AVX2 kernels. The int32 block dots are exact, so how they are summed
 *    does not matter; test_matmul_q8rule holds every variant to the rule
 *    written out in scalar code, bit for bit.
 * Tiles differ only in how many outputs they compute at once; cache blocking
 * over k saves and restores the vector accumulators bit-exactly.
 * X rows for Q8_0 are quantized once per call (kiln_mm_quantize_rows_*),
 * exactly as llama.cpp's quantize_row_q8_0_ref, by every ISA. */
#ifndef KILN_MATMUL_H
#define KILN_MATMUL_H

#include "kiln_internal.h"

/* kiln_mm is one kiln_matmul problem after validation. */
typedef struct {
    int wtype;            /* KILN_TYPE_F32/F16/BF16/Q8_0 */
    const void *w;        /* W[n, k], rows of wstride bytes */
    size_t wstride;
    const float *x;       /* X[m, k] f32 */
    const int8_t *xq;     /* Q8_0 only: X quants [m, kpad] (kpad = k rounded up to 64) */
    const float *xd;      /* Q8_0 only: X block scales as f32, [m, kpad/32] */
    /* Q8_0 GEMM only (the type row has gemm_layout, m >= gemm_min_m; else NULL): X by tiles of
     * the row's gemm_mr rows (the last tile has mr = m % MR rows, if any), room for
     * m*kpad*2 bytes in xp and m*kpad/32 floats in xdp. AVX2: the tile of rows i0..
     * holds the quants as int16 pairs (x[2P], x[2P+1]) at xp + i0*kpad/2 + P*mr + r
     * and the block scales at xdp + i0*kpad/32 + b*mr + r; AVX-512 VNNI: see
     * matmul_q8g_avx512.c. */
    const int32_t *xp;
    const float *xdp;
    const void *xk;       /* Q8_K-form types only: X as block_q8_K [m, k/256] (quant.h) */
    /* Q8_K-form GEMM with a gemm_layout only (else NULL): X's quants in that
     * row's own layout, filled from xk; room for m (rounded up to gemm_mr) * k bytes */
    const int8_t *xkt;
    int64_t kpad;
    float *y;             /* Y[m, n] */
    int64_t m, n, k;
} kiln_mm;

/* A kernel computes y[0:m, n0:n1]. scratch holds KILN_MM_SCRATCH_FLOATS
 * floats, private to the calling thread. */
typedef void (*kiln_mm_kernel)(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);

/* Cache blocking shared by the drivers (scratch size depends on it). */
#define KILN_MM_NB 48    /* W rows per n block (multiple of every NR) */
#define KILN_MM_MB 60    /* X rows per m block (multiple of every MR) */
#define KILN_MM_KC 2048   /* k elements per k block when m is large (multiple of 64) */
#define KILN_MM_MAXVL 16 /* widest accumulator in floats */

/* Per-thread scratch: the vector accumulators of one m block × n block,
 * kept between k blocks (slot of output (i,j) = MAXVL floats); the AVX2
 * Q8_0 GEMM keeps its packed W panel and f32 tile accumulators there. */
#define KILN_MM_SCRATCH_FLOATS ((size_t)KILN_MM_MB * KILN_MM_NB * KILN_MM_MAXVL)

/* kiln_mm_tile is one register tile's job: outputs (i0.., j0..) over the k
 * range [c0, c1) (elements; multiples of 64 except c1 == k). first: start
 * from zero, else load accumulators from acc; last: finish (tail, horizontal
 * sum, write y), else store accumulators back to acc. */
typedef struct {
    const kiln_mm *p;
    int64_t i0, j0;
    int64_t c0, c1;
    int first, last;
    float *acc;       /* slot of (i0, j0); row r at + r*acc_ld, column c at + c*MAXVL */
    int64_t acc_ld;
} kiln_mm_tile;

/* A tile function computes an mr × nr tile; it supports (MR, NR), (MR, 1),
 * (1, NR1) and (1, 1) where the shapes come from its kiln_mm_tiles. */
typedef void (*kiln_mm_tile_fn)(const kiln_mm_tile *t, int mr, int nr);

/* kiln_mm_tiles describes one ISA's register tiles for one weight family. */
typedef struct {
    int mr, nr;          /* GEMM tile: mr X rows × nr W rows */
    int nr1;             /* GEMV tile: 1 X row × nr1 W rows */
    kiln_mm_tile_fn fn;
} kiln_mm_tiles;

/* kiln_mm_blocked runs the tiles over y[0:m, n0:n1] with the cache
 * blocking of matmul.c: the loop nest every tiled kernel shares. acc is the
 * per-thread scratch (KILN_MM_SCRATCH_FLOATS floats). */
void kiln_mm_blocked(const kiln_mm *p, const kiln_mm_tiles *tl, int64_t n0, int64_t n1, float *acc);

/* Tile height of the AVX2 Q8_0 GEMM and of its X layout (kiln_mm.xp). */
#define KILN_MM_Q8G_MR 6
/* Tile height of the AVX-512 VNNI Q8_0 GEMM and of its X layout. */
#define KILN_MM_Q8V_MR 12
/* Smallest m for the AVX2 Q8_0 GEMM: below it the dot-product kernel of
 * matmul_avx2.c is as fast (packing a W panel costs about as much as a few
 * rows of products; measured break-even at m = 4). */
#ifndef KILN_MM_Q8G_MIN_M
#define KILN_MM_Q8G_MIN_M 4
#endif

/* Q4_K_R16 (repacked Q4_K, layout in kiln.h and matmul_q4kr.c): one super-block
 * of a 16-row group, and where its scale planes and its quants start in it. */
#define KILN_Q4KR_SB_BYTES 2304
#define KILN_Q4KR_SCALES 64
#define KILN_Q4KR_QUANTS 256

/* Q5_K_R16 (repacked Q5_K, layout in kiln.h and matmul_q5kr.c): one super-block
 * of a 16-row group, and where its scale planes, fifth bits and quants start. */
#define KILN_Q5KR_SB_BYTES 2816
#define KILN_Q5KR_SCALES 64
#define KILN_Q5KR_QH 256
#define KILN_Q5KR_QUANTS 768
/* IQ4_XS_R16 (repacked IQ4_XS, layout in kiln.h and matmul_iq4xsr.c): one
 * super-block of a 16-row group, and where its scales and quants start. */
#define KILN_IQ4XSR_SB_BYTES 2176
#define KILN_IQ4XSR_SCALES_H 32
#define KILN_IQ4XSR_SCALES_L 64
#define KILN_IQ4XSR_QUANTS 128

/* Quantize rows: xq[i, 0:k] / xd[i, 0:k/32] from x[i, 0:k] for i in [r0, r1);
 * k % 32 == 0; quants past k up to kpad are zero-filled. Bit-identical
 * across ISAs (llama.cpp's quantize_row_q8_0_ref semantics). */
void kiln_mm_quantize_rows_ref(const float *x, int8_t *xq, float *xd, int64_t k, int64_t kpad,
                               int64_t r0, int64_t r1);
/* Quantize rows [r0, r1) of X[m, k] to Q8_K blocks xk[i, 0:k/256] (k % 256 == 0);
 * llama.cpp's quantize_row_q8_K_ref, the same bits on every ISA. */
void kiln_mm_quantize_rows_q8_K(const float *x, void *xk, int64_t k, int64_t r0, int64_t r1);
/* kiln_q8_0_quantize_block_ref quantizes 32 floats into one GGUF block. */
void kiln_q8_0_quantize_block_ref(const float *x, block_q8_0 *y);

/* Scalar reference kernels (matmul_ref.c): float accumulators, one per output. */
void kiln_mm_float_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q8_0_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_bf16_dot_ref defines the bf16 pair-dot rule of the AVX512_BF16
 * variant (X rounded to bf16, VDPBF16PS lane order, DAZ/FTZ) in scalar code. */
void kiln_mm_bf16_dot_ref(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);

/* Q4_0_R16 (repacked Q4_0, layout in kiln.h and matmul_q4r.c). */
#define KILN_Q4R_BLOCK_BYTES 256 /* the 16 rows' quant bytes of one block */
#define KILN_Q4R_PAIR_BYTES 576  /* one block pair of a group: 64 bytes of scales, 2 x 256 of quants */
/* Q5_0_R16 (repacked Q5_0, layout in kiln.h and matmul_q5r.c). */
#define KILN_Q5R_BLOCK_BYTES 320 /* one block of a group: 64 bytes of fifth-bit masks, 256 of quant bytes */
#define KILN_Q5R_PAIR_BYTES 704  /* one block pair: 64 bytes of scales, 2 x 320 */
/* Q4_1_R16, Q5_1_R16 (layouts in kiln.h and matmul_q41r.c): a block pair,
 * with 64 bytes of mins after the scales. */
#define KILN_Q41R_PAIR_BYTES 640 /* 128 bytes of d and m, 2 x 256 */
#define KILN_Q51R_PAIR_BYTES 768 /* 128 bytes of d and m, 2 x 320 */
/* KILN_Q4R_PAIR_OF is the pair size of the layout with fifth bits (five)
 * and mins (min) or not. */
#define KILN_Q4R_PAIR_OF(five, min) \
    ((five) ? ((min) ? KILN_Q51R_PAIR_BYTES : KILN_Q5R_PAIR_BYTES) : ((min) ? KILN_Q41R_PAIR_BYTES : KILN_Q4R_PAIR_BYTES))

#if KILN_X86
void kiln_mm_quantize_rows_avx2(const float *x, int8_t *xq, float *xd, int64_t k, int64_t kpad,
                                int64_t r0, int64_t r1);
/* AVX2 (matmul_avx2.c): float weights through the blocked driver; the Q8_0
 * dot-product kernel for small m (8 W rows per step, reduced across rows). */
void kiln_mm_float_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q8_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q8_gemm_avx2 computes y[0:m, n0:n1] from p->xp, p->xdp, which
 * kiln_mm_q8_layout_avx2 fills (matmul_q8_avx2.c). */
void kiln_mm_q8_gemm_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q8_layout_avx2(const kiln_mm *p, int64_t r0, int64_t r1);
/* AVX-512 (matmul_avx512.c): float tiles through the blocked driver. */
void kiln_mm_float_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_bf16_avx512bf16 (matmul_bf16_avx512.c): BF16 weights by
 * VDPBF16PS, the bf16 pair-dot rule of kiln_mm_bf16_dot_ref. */
void kiln_mm_bf16_avx512bf16(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q8_gemv_avx512_vnni (matmul_q8_avx512.c): Q8_0 for small m by the
 * AVX2 rule (bit-identical to the AVX2 kernels), 16 W rows per VPDPBUSD step. */
void kiln_mm_q8_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q8v_gemm_avx512 (matmul_q8g_avx512.c): the VNNI Q8_0 GEMM, same
 * rule, from p->xp / p->xdp laid out by kiln_mm_q8v_layout_avx512. */
void kiln_mm_q8v_gemm_avx512(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q8v_layout_avx512(const kiln_mm *p, int64_t r0, int64_t r1);
/* kiln_mm_q8_gemm_amx (arch/x86/matmul_q8_amx.c): the AMX-INT8 Q8_0 GEMM,
 * same rule (TDPBSSD block dots), reading p->xq / p->xd in place. */
void kiln_mm_q8_gemm_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* Below this many X rows the AMX Q8_0 GEMM hands the call to the VNNI GEMM
 * (8192x2048, 1 thread, side by side: AMX 0.65x at m = 4, 0.94x at 16,
 * 0.99x at 32, 1.08x at 128), so its row keeps the VNNI GEMM's X layout. */
#define KILN_MM_Q8_AMX_MIN_M 64

/* kiln_mm_q8r_gemv_avx512_vnni (matmul_q8r_avx512.c) and kiln_mm_q8r_gemv_avx2
 * (matmul_q8r_avx2.c, no VNNI) read the groups directly. */
void kiln_mm_q8r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q8r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);

/* kiln_mm_q4kr_gemv_avx512_vnni (matmul_q4kr_avx512.c) and kiln_mm_q4kr_gemv_avx2
 * (matmul_q4kr_avx2.c, no VNNI) read the groups directly, X as Q8_K (p->xk). */
void kiln_mm_q4kr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q4kr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q6r_gemv_avx512_vnni (matmul_q6r_avx512.c) and kiln_mm_q6r_gemv_avx2
 * (matmul_q6r_avx2.c, no VNNI) read Q6_K_R16 groups directly (X as Q8_K, p->xk). */
void kiln_mm_q6r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q6r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q4r_gemv_avx512_vnni (matmul_q4r_avx512.c) and kiln_mm_q4r_gemv_avx2
 * (matmul_q4r_avx2.c, no VNNI) read the groups directly. */
void kiln_mm_q4r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q4r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q5r_gemv_avx512_vnni and kiln_mm_q5r_gemv_avx2 (beside the Q4_0_R16
 * ones, in the same files) read the Q5_0_R16 groups directly. */
void kiln_mm_q5r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q5r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_iq4nlr_gemv_avx512_vnni and kiln_mm_iq4nlr_gemv_avx2 (beside the
 * Q4_0_R16 ones, in the same files) read the IQ4_NL_R16 groups directly. */
void kiln_mm_iq4nlr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_iq4nlr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q41r_gemv_* and kiln_mm_q51r_gemv_* (beside the Q4_0_R16 ones, in
 * the same files) read the Q4_1_R16 and Q5_1_R16 groups directly. */
void kiln_mm_q41r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q41r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q51r_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q51r_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_q5kr_gemv_avx512_vnni (matmul_q5kr_avx512.c) and kiln_mm_q5kr_gemv_avx2
 * (matmul_q5kr_avx2.c, no VNNI) read Q5_K_R16 groups directly (X as Q8_K, p->xk). */
void kiln_mm_q5kr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_q5kr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
/* kiln_mm_iq4xsr_gemv_avx512_vnni (matmul_iq4xsr_avx512.c) and
 * kiln_mm_iq4xsr_gemv_avx2 (matmul_iq4xsr_avx2.c, no VNNI) read IQ4_XS_R16
 * groups directly (X as Q8_K, p->xk). */
void kiln_mm_iq4xsr_gemv_avx512_vnni(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
void kiln_mm_iq4xsr_gemv_avx2(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
#endif

/* Q6_K_R16 (repacked Q6_K, layout in kiln.h and matmul_q6r.c): bytes of one
 * super-block (256 elements) of a 16-row group. */
#define KILN_Q6R_SB_BYTES 3392
/* offsets in a super-block: sub-block t's 16 scales (row j at + j), its three quant vectors, the f16 d's */
#define KILN_Q6R_SCALES(t) (832 * ((t) / 4) + 16 * ((t) % 4))
#define KILN_Q6R_QUANTS(t) (832 * ((t) / 4) + 64 + 192 * ((t) % 4))
#define KILN_Q6R_D 3328

/* Q8_0_R16 (repacked Q8_0, layout in kiln.h and matmul_q8r.c; the portable
 * pack/unpack needs these on every architecture). */
#define KILN_Q8R_ROWS 16          /* W rows per group (KILN_R16_ROWS of repack.h) */
#define KILN_Q8R_PAIR_BYTES 1088  /* one block pair of a group: 64 bytes of scales, 2 x 512 of quants */

#endif /* KILN_MATMUL_H */
