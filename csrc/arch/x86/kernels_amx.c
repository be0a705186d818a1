/* kernels_amx.c — the AMX table: the finished AVX-512 table (kernels.c
 * copies it, repacked rows included) with the entries AMX-INT8 tiles run
 * faster overridden. Every entry it does not name keeps AVX-512's kernel,
 * and every override follows the arithmetic rule of its type (matmul.h,
 * quant.h), so a row's bits are the AVX-512 table's.
 *
 * The table is filled on every x86 CPU, but the AMX variant is selectable
 * only where kiln_isa_supported(KILN_ISA_AMX) (CPU has AMX-TILE/INT8 and
 * Linux granted the tile state), so no tile instruction runs elsewhere.
 * An AMX kernel loads its tile configuration at entry and releases the
 * tiles before it returns (amx.h). */
#include "../../kernels.h"
#include "../../quant.h"
#include "../../repack.h"
#include "amx.h"

#if KILN_X86

/* r16_follow_sources re-derives the repacked rows from their source rows,
 * so their GEMM threshold and X layout are the (possibly AMX) source's:
 * their GEMM unpacks rows and runs the active table's source GEMM. */
static void r16_follow_sources(kiln_kernels *t) {
    for (int to = 0; to < KILN_TYPE_SLOTS; to++) {
        if (!kiln_r16_format_of(to) || !t->types[to].gemv) continue;
        const kiln_mm_kernel gemv = t->types[to].gemv;
        const char *variant = t->types[to].gemv_variant;
        kiln_mm_r16_fill(t, to, gemv == kiln_mm_r16_unpacked ? NULL : gemv, variant);
    }
}

void kiln_kernels_fill_amx(kiln_kernels *t, uint32_t features) {
    (void)features;
    t->isa = "amx";

    /* Q8_0 and the 32-element types */
    kiln_type_kernels *q8 = &t->types[KILN_TYPE_Q8_0];
    q8->gemm = kiln_mm_q8_gemm_amx;
    q8->gemm_min_m = KILN_MM_Q8G_MIN_M;
    /* the tiles read X's quantized rows in place; the VNNI layout stays for
     * the calls below KILN_MM_Q8_AMX_MIN_M rows, which the VNNI GEMM takes */
    q8->gemm_layout = kiln_mm_q8v_layout_avx512;
    q8->gemm_mr = KILN_MM_Q8V_MR;
    q8->gemm_variant = "amx int8 2x2 16x16 tiles (tdpbssd), fma steps avx512 (m < 64: avx512-vnni)";
    static const int legacy[] = {KILN_TYPE_Q4_0, KILN_TYPE_Q5_0, KILN_TYPE_IQ4_NL};
    static const kiln_mm_kernel legacy_gemm[] = {kiln_mm_gemm_q4_0_amx, kiln_mm_gemm_q5_0_amx, kiln_mm_gemm_iq4_nl_amx};
    for (int i = 0; i < 3; i++) { /* Q4_1 and Q5_1 keep the VNNI GEMM and its X layout */
        kiln_type_kernels *r = &t->types[legacy[i]];
        r->gemm = legacy_gemm[i];
        r->gemm_min_m = KILN_MM_Q8G_MIN_M;
        r->gemm_layout = kiln_mm_q8v_layout_avx512; /* for the small calls the VNNI GEMM takes */
        r->gemm_mr = KILN_MM_Q8V_MR;
        r->gemm_variant = "amx int8 2x2 16x16 tiles (tdpbssd, signed quants), lanes avx512 (m < 16: avx512-vnni)";
    }

    /* the K-quants */
    kiln_quant_rows_k_amx(t);

    /* last: the repacked rows follow their source rows */
    r16_follow_sources(t);
}

#else
typedef int kiln_kernels_amx_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
