/* repack.h — weights repacked at load into groups of 16 rows (kiln_repack),
 * for every format that has such a layout.
 *
 * Why one seam: a decode GEMV computes 16 outputs at a time from 16 W rows.
 * In GGUF's layouts those rows lie a row stride apart, so the kernel reads
 * 16 interleaved streams (which one core's prefetchers serve at about half
 * the rate of one sequential stream) and rearranges every block before it
 * can use it. A repacked format stores each group of 16 rows front to back
 * in the order its GEMV consumes them. Each format (a source GGUF type and
 * the kiln type it becomes) registers here its pack and unpack of one
 * group; this file gives all of them kiln_repack_type / kiln_repack, the
 * portable kernel path (unpack a run of groups to the source type, then the
 * table's kernel for it: the same bits on any ISA) and the kernel-table row.
 *
 * Contract of every format: a group of k elements takes exactly
 * KILN_R16_ROWS * kiln_row_size(to, k) bytes (the `to` type's traits say its
 * block), groups follow each other in row order, and the per-output
 * arithmetic of a direct kernel is the source type's rule (matmul.h), so a
 * repacked weight gives the source weight's result bits (decode ≡ prefill,
 * any batch, any thread count). */
#ifndef KILN_REPACK_H
#define KILN_REPACK_H

#include "kernels.h"

#define KILN_R16_ROWS 16        /* W rows per group */
#define KILN_R16_UNPACK_ROWS 64 /* rows the portable path unpacks at a time */

/* kiln_r16_pack_fn writes 16 source rows (row j at rows + j*row_bytes, k
 * elements each) as one group at out. */
typedef void (*kiln_r16_pack_fn)(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
/* kiln_r16_unpack_fn writes one group back as 16 source rows. */
typedef void (*kiln_r16_unpack_fn)(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);

typedef struct {
    int from, to; /* source GGUF type, repacked kiln type (k: whole blocks of to's traits) */
    kiln_r16_pack_fn pack;
    kiln_r16_unpack_fn unpack;
} kiln_r16_format;

/* kiln_r16_format_of returns the format whose repacked type is `to`, or NULL. */
const kiln_r16_format *kiln_r16_format_of(int to);

/* kiln_mm_r16_unpacked is the portable kernel of every repacked type:
 * columns [n0, n1) in runs of KILN_R16_UNPACK_ROWS rows, each unpacked into
 * the area after the kernel scratch (kiln_mm_r16_unpack_bytes(to, k) bytes,
 * which matmul.c adds per thread), then the table's source-type GEMV or GEMM. */
void kiln_mm_r16_unpacked(const kiln_mm *p, int64_t n0, int64_t n1, float *scratch);
size_t kiln_mm_r16_unpack_bytes(int to, int64_t k);

/* kiln_mm_r16_fill sets t's row of repacked type `to` from its source-type
 * row: direct_gemv reads the groups itself (NULL: unpack, then t's source
 * kernels); the GEMM always unpacks (prefill reads the file's layout). */
void kiln_mm_r16_fill(kiln_kernels *t, int to, kiln_mm_kernel direct_gemv, const char *direct_variant);

/* Q8_0 -> Q8_0_R16 (matmul_q8r.c). */
void kiln_q8r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q8r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* The same unpack, same bytes, with AVX-512 / AVX2 (arch/x86/r16_unpack_x86.c). */
void kiln_q8r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q8r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* Q6_K -> Q6_K_R16 (matmul_q6r.c). */
void kiln_q6r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q6r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* The same unpack, same bytes, with AVX-512 / AVX2 (arch/x86/r16_unpack_x86.c). */
void kiln_q6r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q6r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);

/* Q4_K -> Q4_K_R16 (matmul_q4kr.c). */
void kiln_q4kr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q4kr_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* The Q4_K_R16, Q5_K_R16 and IQ4_XS_R16 unpacks, same bytes, with AVX-512 /
 * AVX2 (arch/x86/r16_unpack_k_x86.c). */
void kiln_q4kr_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q4kr_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q5kr_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q5kr_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_iq4xsr_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_iq4xsr_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* Q4_0 -> Q4_0_R16 and IQ4_NL -> IQ4_NL_R16 (matmul_q4r.c; the blocks' bytes are alike). */
void kiln_q4r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q4r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* The same unpack, same bytes, with AVX-512 / AVX2 (arch/x86/r16_unpack_x86.c). */
void kiln_q4r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q4r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* Q5_0 -> Q5_0_R16 (matmul_q5r.c). */
void kiln_q5r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q5r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* Q5_K -> Q5_K_R16 (matmul_q5kr.c). */
void kiln_q5kr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q5kr_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* IQ4_XS -> IQ4_XS_R16 (matmul_iq4xsr.c). */
void kiln_iq4xsr_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_iq4xsr_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* Q4_1 -> Q4_1_R16 and Q5_1 -> Q5_1_R16 (matmul_q41r.c). */
void kiln_q41r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q41r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q51r_pack(const char *rows, size_t row_bytes, int64_t k, uint8_t *out);
void kiln_q51r_unpack(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
/* The Q5_0_R16, Q4_1_R16 and Q5_1_R16 unpacks, same bytes, with AVX-512 /
 * AVX2 (arch/x86/r16_unpack_q5_x86.c). */
void kiln_q5r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q5r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q41r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q41r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q51r_unpack_avx512(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);
void kiln_q51r_unpack_avx2(const uint8_t *group, int64_t k, char *rows, size_t row_bytes);

#endif
