/* kernels.c — the per-ISA kernel tables (kernels.h): type traits, filling
 * the tables once, the active table, and kiln_kernel_info, which names the
 * variant each kernel of the active table uses. */
#include "repack.h"

#include <stdatomic.h>

#define KERNEL_NAMES(t) {"dequantize " t, "gemv " t, "gemm " t}
static const kiln_type_traits g_traits[KILN_TYPE_SLOTS] = {
    [KILN_TYPE_F32] = {.name = "f32", .block = 1, .block_bytes = 4, .kernel_names = KERNEL_NAMES("f32")},
    [KILN_TYPE_F16] = {.name = "f16", .block = 1, .block_bytes = 2, .kernel_names = KERNEL_NAMES("f16")},
    [KILN_TYPE_Q8_0] = {.name = "q8_0", .block = KILN_QK8_0, .block_bytes = sizeof(block_q8_0),
                        .kernel_names = KERNEL_NAMES("q8_0")},
    /* 64-element "blocks" (a block pair) of 68 bytes: k % 64 is checked and a row is 34 bytes per 32 */
    [KILN_TYPE_Q8_0_R16] = {.name = "q8_0_r16", .block = 64, .block_bytes = 2 * sizeof(block_q8_0),
                            .kernel_names = KERNEL_NAMES("q8_0_r16")},
    [KILN_TYPE_Q4_K_R16] = {.name = "q4_k_r16", .block = 256, .block_bytes = 144,
                            .kernel_names = KERNEL_NAMES("q4_k_r16")},
    /* super-blocks of 256 elements, 212 bytes a row: 16 rows fill 53 cache lines (matmul_q6r.c) */
    [KILN_TYPE_Q6_K_R16] = {.name = "q6_k_r16", .block = 256, .block_bytes = KILN_Q6R_SB_BYTES / 16,
                            .kernel_names = KERNEL_NAMES("q6_k_r16")},
    /* the same for Q4_0: a block pair of 36 bytes per row */
    [KILN_TYPE_Q4_0_R16] = {.name = "q4_0_r16", .block = 64, .block_bytes = 36,
                            .kernel_names = KERNEL_NAMES("q4_0_r16")},
    /* Q5_0: a block pair of 44 bytes per row */
    [KILN_TYPE_Q5_0_R16] = {.name = "q5_0_r16", .block = 64, .block_bytes = 44,
                            .kernel_names = KERNEL_NAMES("q5_0_r16")},
    /* Q5_K and IQ4_XS: super-blocks of 256 elements, the source types' bytes per row */
    [KILN_TYPE_Q5_K_R16] = {.name = "q5_k_r16", .block = 256, .block_bytes = 176,
                            .kernel_names = KERNEL_NAMES("q5_k_r16")},
    [KILN_TYPE_IQ4_XS_R16] = {.name = "iq4_xs_r16", .block = 256, .block_bytes = 136,
                              .kernel_names = KERNEL_NAMES("iq4_xs_r16")},
    /* IQ4_NL: Q4_0_R16's layout, a block pair of 36 bytes per row */
    [KILN_TYPE_IQ4_NL_R16] = {.name = "iq4_nl_r16", .block = 64, .block_bytes = 36,
                              .kernel_names = KERNEL_NAMES("iq4_nl_r16")},
    /* Q4_1, Q5_1: block pairs of 40 and 48 bytes per row */
    [KILN_TYPE_Q4_1_R16] = {.name = "q4_1_r16", .block = 64, .block_bytes = 40,
                            .kernel_names = KERNEL_NAMES("q4_1_r16")},
    [KILN_TYPE_Q5_1_R16] = {.name = "q5_1_r16", .block = 64, .block_bytes = 48,
                            .kernel_names = KERNEL_NAMES("q5_1_r16")},
    [KILN_TYPE_BF16] = {.name = "bf16", .block = 1, .block_bytes = 2, .kernel_names = KERNEL_NAMES("bf16")},
#define QTYPE(TYPE, nm, blk, bytes) [TYPE] = {.name = nm, .block = blk, .block_bytes = bytes, .kernel_names = KERNEL_NAMES(nm)}
    QTYPE(KILN_TYPE_Q4_0, "q4_0", 32, 18),
    QTYPE(KILN_TYPE_Q4_1, "q4_1", 32, 20),
    QTYPE(KILN_TYPE_Q5_0, "q5_0", 32, 22),
    QTYPE(KILN_TYPE_Q5_1, "q5_1", 32, 24),
    QTYPE(KILN_TYPE_IQ4_NL, "iq4_nl", 32, 18),
    QTYPE(KILN_TYPE_Q2_K, "q2_k", 256, 84),
    QTYPE(KILN_TYPE_Q3_K, "q3_k", 256, 110),
    QTYPE(KILN_TYPE_Q4_K, "q4_k", 256, 144),
    QTYPE(KILN_TYPE_Q5_K, "q5_k", 256, 176),
    QTYPE(KILN_TYPE_Q6_K, "q6_k", 256, 210),
    QTYPE(KILN_TYPE_IQ4_XS, "iq4_xs", 256, 136),
#undef QTYPE
};

const kiln_type_traits *kiln_type_traits_of(int type) {
    if (type < 0 || type >= KILN_TYPE_SLOTS || !g_traits[type].name) return NULL;
    return &g_traits[type];
}

/* The tables, indexed by kiln_isa. Written once, under kiln_init's lock,
 * before the library reports itself initialised; read-only afterwards. */
static kiln_kernels g_tables[KILN_ISA_COUNT];
static atomic_int g_filled;

#if KILN_X86
/* fill_r16 sets the rows of repacked type `to` in every table: the scalar
 * one unpacks, AVX2 runs avx2, AVX-512 runs vnni where the CPU has VNNI and
 * avx2 otherwise. */
static void fill_r16(uint32_t features, int to, kiln_mm_kernel avx2, const char *avx2_variant, kiln_mm_kernel vnni,
                     const char *vnni_variant) {
    kiln_mm_r16_fill(&g_tables[KILN_ISA_SCALAR], to, NULL, NULL);
    kiln_mm_r16_fill(&g_tables[KILN_ISA_AVX2], to, avx2, avx2_variant);
    if (features & KILN_CPU_AVX512VNNI)
        kiln_mm_r16_fill(&g_tables[KILN_ISA_AVX512], to, vnni, vnni_variant);
    else
        kiln_mm_r16_fill(&g_tables[KILN_ISA_AVX512], to, avx2, avx2_variant);
}
#endif

void kiln_kernels_init(uint32_t features) {
    if (atomic_load_explicit(&g_filled, memory_order_acquire)) return;
    kiln_kernels_fill_scalar(&g_tables[KILN_ISA_SCALAR]);
#if KILN_X86
    g_tables[KILN_ISA_AVX2] = g_tables[KILN_ISA_SCALAR];
    kiln_kernels_fill_avx2(&g_tables[KILN_ISA_AVX2]);
    g_tables[KILN_ISA_AVX512] = g_tables[KILN_ISA_AVX2];
    kiln_kernels_fill_avx512(&g_tables[KILN_ISA_AVX512], features);
    /* AVX2 and AVX-512 read the repacked types directly in their GEMVs
     * (AVX-512 without VNNI takes the AVX2 one); the scalar table unpacks */
    fill_r16(features, KILN_TYPE_Q8_0_R16, kiln_mm_q8r_gemv_avx2, "avx2 16-row groups, read in order (maddubs, exact int32 sums)",
             kiln_mm_q8r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q4_K_R16, kiln_mm_q4kr_gemv_avx2, "avx2 16-row groups, read in order (maddubs, scales by madd)",
             kiln_mm_q4kr_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q6_K_R16, kiln_mm_q6r_gemv_avx2, "avx2 16-row groups, read in order (maddubs, exact int32 sums)",
             kiln_mm_q6r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q4_0_R16, kiln_mm_q4r_gemv_avx2, "avx2 16-row groups, read in order (maddubs, exact int32 sums)",
             kiln_mm_q4r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q5_0_R16, kiln_mm_q5r_gemv_avx2, "avx2 16-row groups, read in order (fifth bits from byte masks, maddubs)",
             kiln_mm_q5r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (fifth bits by byte masks, vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q5_K_R16, kiln_mm_q5kr_gemv_avx2, "avx2 16-row groups, read in order (maddubs, scales by madd)",
             kiln_mm_q5kr_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_IQ4_XS_R16, kiln_mm_iq4xsr_gemv_avx2, "avx2 16-row groups, read in order (maddubs, scales by madd)",
             kiln_mm_iq4xsr_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_IQ4_NL_R16, kiln_mm_iq4nlr_gemv_avx2, "avx2 16-row groups, read in order (values by pshufb, maddubs)",
             kiln_mm_iq4nlr_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (values by vpshufb, vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q4_1_R16, kiln_mm_q41r_gemv_avx2, "avx2 16-row groups, read in order (maddubs, exact int32 sums)",
             kiln_mm_q41r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (vpdpbusd)");
    fill_r16(features, KILN_TYPE_Q5_1_R16, kiln_mm_q51r_gemv_avx2, "avx2 16-row groups, read in order (fifth bits from byte masks, maddubs)",
             kiln_mm_q51r_gemv_avx512_vnni, "avx512-vnni 16-row groups, read in order (fifth bits by byte masks, vpdpbusd)");
    /* prefill unpacks the repacked rows every call: transposes of quads in SIMD */
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q8_0_R16].r16_unpack = kiln_q8r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q8_0_R16].r16_unpack = kiln_q8r_unpack_avx512;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q6_K_R16].r16_unpack = kiln_q6r_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q6_K_R16].r16_unpack = kiln_q6r_unpack_avx2;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q4_K_R16].r16_unpack = kiln_q4kr_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q4_K_R16].r16_unpack = kiln_q4kr_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q5_K_R16].r16_unpack = kiln_q5kr_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q5_K_R16].r16_unpack = kiln_q5kr_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_IQ4_XS_R16].r16_unpack = kiln_iq4xsr_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_IQ4_XS_R16].r16_unpack = kiln_iq4xsr_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q4_0_R16].r16_unpack = kiln_q4r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q4_0_R16].r16_unpack = kiln_q4r_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_IQ4_NL_R16].r16_unpack = kiln_q4r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_IQ4_NL_R16].r16_unpack = kiln_q4r_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q5_0_R16].r16_unpack = kiln_q5r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q5_0_R16].r16_unpack = kiln_q5r_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q4_1_R16].r16_unpack = kiln_q41r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q4_1_R16].r16_unpack = kiln_q41r_unpack_avx512;
    g_tables[KILN_ISA_AVX2].types[KILN_TYPE_Q5_1_R16].r16_unpack = kiln_q51r_unpack_avx2;
    g_tables[KILN_ISA_AVX512].types[KILN_TYPE_Q5_1_R16].r16_unpack = kiln_q51r_unpack_avx512;
    /* AMX: the finished AVX-512 table (repacked rows too), tiles where they pay */
    g_tables[KILN_ISA_AMX] = g_tables[KILN_ISA_AVX512];
    kiln_kernels_fill_amx(&g_tables[KILN_ISA_AMX], features);
#else
    (void)features;
    for (int to = 0; to < KILN_TYPE_SLOTS; to++)
        if (kiln_r16_format_of(to)) kiln_mm_r16_fill(&g_tables[KILN_ISA_SCALAR], to, NULL, NULL);
    for (int isa = KILN_ISA_SCALAR + 1; isa < KILN_ISA_COUNT; isa++) g_tables[isa] = g_tables[KILN_ISA_SCALAR];
#endif
    atomic_store_explicit(&g_filled, 1, memory_order_release);
}

const kiln_kernels *kiln_kernels_active(void) { return &g_tables[kiln_active_isa()]; }

/* ---- kiln_kernel_count / name / variant ------------------------------------ */
/* Entries, in order: ops, attention, kv store, the X quantizer, then for
 * every type the table has a row for: dequantize, gemv, gemm. */
enum { INFO_OPS, INFO_ATTN, INFO_KV, INFO_QUANTIZE, INFO_FIXED };

/* kernel_entry finds entry index of the active table: its name and variant. */
static int kernel_entry(int index, const char **name, const char **variant) {
    if (index < 0 || kiln_ensure_init() != KILN_OK) return 0;
    const kiln_kernels *t = kiln_kernels_active();
    switch (index) {
    case INFO_OPS: *name = "ops"; *variant = t->ops_variant; return 1;
    case INFO_ATTN: *name = "attention"; *variant = t->attn_variant; return 1;
    case INFO_KV: *name = "kv_store f16"; *variant = t->kv_variant; return 1;
    case INFO_QUANTIZE: *name = "quantize_x q8_0"; *variant = t->quantize_variant; return 1;
    default: break;
    }
    int left = index - INFO_FIXED;
    for (int ty = 0; ty < KILN_TYPE_SLOTS; ty++) {
        const kiln_type_kernels *row = kiln_kernels_row(t, ty);
        if (!row) continue;
        if (left < 3) {
            const char *const variants[3] = {row->to_float_variant, row->gemv_variant, row->gemm_variant};
            *name = kiln_type_traits_of(ty)->kernel_names[left];
            *variant = variants[left];
            return 1;
        }
        left -= 3;
    }
    return 0;
}

int kiln_kernel_count(void) {
    const char *n, *v;
    int i = 0;
    while (kernel_entry(i, &n, &v)) i++;
    return i;
}

const char *kiln_kernel_name(int index) {
    const char *n, *v;
    return kernel_entry(index, &n, &v) ? n : NULL;
}

const char *kiln_kernel_variant(int index) {
    const char *n, *v;
    return kernel_entry(index, &n, &v) ? v : NULL;
}
