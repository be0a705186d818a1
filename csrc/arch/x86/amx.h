/* amx.h — what every AMX kernel shares: the target attribute, the tile
 * configuration (LDTILECFG's 64-byte memory form), loading and releasing it,
 * and whether Linux granted this process the tile data state.
 *
 * AMX state is per thread: LDTILECFG configures the calling thread's tiles
 * and TILERELEASE returns them to the init state. Kernels run on the pool's
 * threads and on the caller, so an AMX kernel brackets its work with
 *     kiln_amx_begin(&cfg);  ...tile instructions...  kiln_amx_end();
 * at its own entry and exit (LDTILECFG costs tens of cycles, nothing beside
 * a kernel call): no thread keeps tile state while idle, so a signal or a
 * context switch there saves no 8 KB of tile data, and no kernel depends on
 * another having configured the tiles.
 *
 * Permission: Linux (5.16+) refuses tile instructions (SIGILL) unless the
 * process asked for XTILEDATA with arch_prctl(ARCH_REQ_XCOMP_PERM). amx.c
 * asks once, the first time anyone wants to know (kiln_amx_permitted), and
 * the AMX kernel variant is supported only if the CPU has AMX-TILE and
 * AMX-INT8 and the request was granted, so an AMX kernel is only reachable
 * through a table that can run it. KILN_AMX_DENY=1 in the environment
 * simulates a refusal (tests of the fallback on machines that grant it). */
#ifndef KILN_AMX_H
#define KILN_AMX_H

#include "../../kiln_internal.h"

#if KILN_X86
#include <immintrin.h>

/* AMX kernels also use AVX-512 (VNNI) for their float steps and packing. */
#define KILN_TARGET_AMX \
    __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* Palette 1: 8 tiles of at most 16 rows × 64 bytes. */
enum { KILN_AMX_TILES = 8, KILN_AMX_MAX_ROWS = 16, KILN_AMX_MAX_COLSB = 64 };

/* kiln_amx_tilecfg is LDTILECFG's operand. Tiles not set stay 0 × 0 (unused). */
typedef struct {
    uint8_t palette_id;     /* 1 */
    uint8_t start_row;      /* 0: restartable instructions begin at row 0 */
    uint8_t reserved0[14];
    uint16_t colsb[16];     /* bytes per row of tile t (t < 8 used) */
    uint8_t rows[16];       /* rows of tile t */
} __attribute__((aligned(64))) kiln_amx_tilecfg;
_Static_assert(sizeof(kiln_amx_tilecfg) == 64, "LDTILECFG reads 64 bytes");

/* kiln_amx_cfg_init clears c to palette 1 with no tile configured. */
KILN_INLINE void kiln_amx_cfg_init(kiln_amx_tilecfg *c) {
    memset(c, 0, sizeof *c);
    c->palette_id = 1;
}

/* kiln_amx_cfg_tile gives tile t rows × colsb bytes (rows <= 16, colsb <= 64). */
KILN_INLINE void kiln_amx_cfg_tile(kiln_amx_tilecfg *c, int t, int rows, int colsb) {
    c->rows[t] = (uint8_t)rows;
    c->colsb[t] = (uint16_t)colsb;
}

/* kiln_amx_begin loads c into the calling thread's tile configuration.
 * (Not GCC 12's _tile_loadconfig: its asm names only 8 bytes of the
 * operand as read, so the compiler drops the stores that fill the rest.) */
KILN_TARGET_AMX KILN_INLINE void kiln_amx_begin(const kiln_amx_tilecfg *c) {
    __asm__ volatile("ldtilecfg %0" : : "m"(*c));
}

/* kiln_amx_end releases the calling thread's tiles (back to the init state). */
KILN_TARGET_AMX KILN_INLINE void kiln_amx_end(void) { __asm__ volatile("tilerelease" ::: "memory"); }

/* Tile instructions on tiles named by number (0..7, literal). Use these,
 * not GCC's _tile_loadd/_tile_stored: those asm statements do not tell the
 * compiler that they read or write memory, so stores feeding a tile load
 * (a packed panel) or loads of a stored tile may be moved across them.
 * Loads and stores here clobber "memory"; zero and the dot products touch
 * tiles only. */
#define KILN_TILE_LOADD(t, base, stride) \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t : : "r"((const void *)(base)), "r"((long)(stride)) : "memory")
#define KILN_TILE_STORED(t, base, stride) \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" : : "r"((void *)(base)), "r"((long)(stride)) : "memory")
#define KILN_TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
/* C += A·B, s8 × s8 into int32 (A: rows × 4K bytes, B: K rows × 4N bytes in the VNNI form) */
#define KILN_TILE_DPBSSD(c, a, b) __asm__ volatile("tdpbssd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
/* the same for u8 × s8 (A unsigned) */
#define KILN_TILE_DPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

/* kiln_amx_tiles_in_use reports whether the calling thread holds tile state
 * (XGETBV(1), XINUSE bits 17 and 18): 0 after kiln_amx_end. For tests. */
KILN_INLINE int kiln_amx_tiles_in_use(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(1));
    return (eax & 0x60000u) != 0;
}
#endif /* KILN_X86 */

/* kiln_amx_permitted asks Linux for the tile data state the first time it
 * is called (thread-safe, once per process) and returns 1 if granted, 0 if
 * refused, not Linux, or KILN_AMX_DENY is set. It never runs a tile
 * instruction. Call it only where the CPU has AMX (the ISA check does). */
int kiln_amx_permitted(void);

/* kiln_amx_refusal says why kiln_amx_permitted returns 0 ("amx: not
 * permitted by the OS (...)"), or NULL if the state was granted (asking first if
 * nobody has yet). */
const char *kiln_amx_refusal(void);

#endif /* KILN_AMX_H */
