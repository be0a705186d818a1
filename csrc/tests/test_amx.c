/* test_amx.c — the AMX infrastructure (arch/x86/amx.h): the variant is
 * supported exactly when the CPU has the tiles and Linux granted them, a
 * refusal is named, a tile product configured by the helpers equals the
 * scalar one, and kiln_amx_end leaves the thread without tile state.
 * (The refusal path itself: test_amx_refused.c.) Skips where the CPU has
 * no AMX. */
#include "arch/x86/amx.h"
#include "test_util.h"

#if KILN_X86
/* tile_product: c[16][16] = a[16][64] (s8) · b (s8, VNNI layout: 16 rows of
 * 64 bytes, row q holds k = 4q..4q+3 of the 16 columns) by one TDPBSSD. */
KILN_TARGET_AMX static void tile_product(const int8_t *a, const int8_t *b, int32_t *c) {
    kiln_amx_tilecfg cfg;
    kiln_amx_cfg_init(&cfg);
    kiln_amx_cfg_tile(&cfg, 0, 16, 64); /* C: 16 rows × 16 int32 */
    kiln_amx_cfg_tile(&cfg, 1, 16, 64); /* A: 16 rows × 64 int8 */
    kiln_amx_cfg_tile(&cfg, 2, 16, 64); /* B: 16 quads × 16 columns */
    kiln_amx_begin(&cfg);
    KILN_TILE_ZERO(0);
    KILN_TILE_LOADD(1, a, 64);
    KILN_TILE_LOADD(2, b, 64);
    KILN_TILE_DPBSSD(0, 1, 2);
    KILN_TILE_STORED(0, c, 64);
    kiln_amx_end();
}

static void test_tile_product(void) {
    _Alignas(64) int8_t a[16 * 64], b[16 * 64];
    _Alignas(64) int32_t c[16 * 16];
    int8_t w[16][64]; /* w[j][k]: column j of B */
    for (int i = 0; i < 16 * 64; i++) a[i] = (int8_t)t_int(-128, 127);
    for (int j = 0; j < 16; j++)
        for (int k = 0; k < 64; k++) w[j][k] = (int8_t)t_int(-128, 127);
    for (int q = 0; q < 16; q++)
        for (int j = 0; j < 16; j++)
            for (int e = 0; e < 4; e++) b[q * 64 + j * 4 + e] = w[j][4 * q + e];
    for (int i = 0; i < 16 * 16; i++) c[i] = 0x7f7f7f7f; /* poison */
    tile_product(a, b, c);
    int bad = 0;
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 16; j++) {
            int32_t s = 0;
            for (int k = 0; k < 64; k++) s += a[i * 64 + k] * w[j][k];
            bad += s != c[i * 16 + j];
        }
    T_CHECK(bad == 0, "tdpbssd through the helpers = scalar int32 dot (%d of 256 differ)", bad);
    T_CHECK(!kiln_amx_tiles_in_use(), "kiln_amx_end leaves no tile state on the thread");
}
#endif

int main(void) {
    t_seed("test_amx");
    kiln_init(2);
    const uint32_t f = kiln_cpu_features();
    const int tiles = (f & KILN_CPU_AMX_TILE) && (f & KILN_CPU_AMX_INT8) && kiln_isa_supported(KILN_ISA_AVX512) &&
                      (f & KILN_CPU_AVX512VNNI);
    T_CHECK(!strcmp(kiln_isa_name(KILN_ISA_AMX), "amx"), "the variant is named amx");
    if (!tiles) {
        T_CHECK(!kiln_isa_supported(KILN_ISA_AMX), "no AMX-TILE/INT8 here: the amx variant is unsupported");
        T_CHECK(kiln_isa_unsupported_reason(KILN_ISA_AMX) != NULL, "and a reason is given: %s",
                kiln_isa_unsupported_reason(KILN_ISA_AMX));
        printf("SKIP the tile tests: the CPU has no AMX-TILE/AMX-INT8\n");
        return t_done();
    }
    const int granted = kiln_amx_permitted();
    T_CHECK(kiln_isa_supported(KILN_ISA_AMX) == granted, "amx supported exactly when the OS granted the tiles (%d)",
            granted);
    const char *why = kiln_isa_unsupported_reason(KILN_ISA_AMX);
    T_CHECK(granted ? why == NULL : (why && strstr(why, "not permitted by the OS")), "reason: %s", why ? why : "(none)");
    T_CHECK(kiln_isa_unsupported_reason(KILN_ISA_AVX512) == NULL, "avx512 needs no reason");
    if (!granted) {
        printf("SKIP the tile tests: %s\n", why);
        return t_done();
    }
    T_CHECK(kiln_get_isa() == KILN_ISA_AMX || getenv("KILN_ISA"), "amx is the default variant where supported");
#if KILN_X86
    test_tile_product();
    /* a Q8_0 prefill GEMM on the amx table leaves the calling thread without tile state */
    {
        enum { M = 40, N = 48, K = 256 };
        float *x = t_alloc(sizeof(float) * M * K), *w = t_alloc(sizeof(float) * N * K), *y = t_alloc(sizeof(float) * M * N);
        block_q8_0 *wq = t_alloc(sizeof(block_q8_0) * N * K / 32);
        t_fill(x, M * K, -1, 1);
        t_fill(w, N * K, -1, 1);
        kiln_quantize_q8_0(w, wq, N * K);
        kiln_set_isa(KILN_ISA_AMX);
        t_poison(y, M * N);
        T_CHECK(kiln_matmul(KILN_TYPE_Q8_0, wq, x, y, M, N, K) == KILN_OK, "q8_0 GEMM on amx");
        T_CHECK(!kiln_amx_tiles_in_use(), "no tile state on the caller after the GEMM");
        free(x), free(w), free(y), free(wq);
    }
    /* the probe configures and releases tiles on every pool thread */
    kiln_set_isa(KILN_ISA_AMX);
    double amx = 0, vnni = 0;
    T_CHECK(kiln_probe_int8_peak(kiln_threads(), 0.02, &amx) == KILN_OK && amx > 0, "amx int8 peak %.0f GOP/s", amx);
    T_CHECK(!kiln_amx_tiles_in_use(), "no tile state after the probe");
    kiln_set_isa(KILN_ISA_AVX512);
    T_CHECK(kiln_probe_int8_peak(kiln_threads(), 0.02, &vnni) == KILN_OK && vnni > 0, "vnni int8 peak %.0f GOP/s", vnni);
    printf("int8 peak on %d threads: amx tdpbssd %.0f GOP/s, avx512 vpdpbusd %.0f GOP/s\n", kiln_threads(), amx, vnni);
#endif
    return t_done();
}
