/* ports.c — kiln-bench --ports: which AVX-512 instructions compete with
 * VPDPBUSD for execution pipes on this CPU. The Q8_0 GEMM's per-block float
 * steps (convert, multiply, fma) cost nothing when they run on pipes
 * VPDPBUSD does not use and cap the kernel when they share them, so this is
 * the measurement behind the GEMM's ceiling (matmul_q8g_avx512.c).
 *
 * Each row times a loop of 16 independent VPDPBUSD (the baseline), then 16
 * VPDPBUSD plus 4 of the instruction, then 16 of the instruction alone,
 * each in inline asm so the compiler cannot reorder or drop anything. The
 * runs are interleaved and each keeps its fastest slice, so a machine
 * shared with other work still shows the core's own ratios:
 *   +4 ≈ 1.00: the instruction runs beside VPDPBUSD for free;
 *   +4 ≈ 1.25: it takes a VPDPBUSD slot (same two pipes). */
#include "kiln.h"

#include <stdio.h>
#include <time.h>

#if defined(__x86_64__)

/* The asm names zmm16..31: the functions carry the AVX-512 target. */
#define PORTS_TARGET __attribute__((target("avx512f,avx512vnni")))

static double ports_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Operands: zmm30/zmm31 hold 1.0f (valid as floats and as bytes), results
 * go to zmm0..15 (VPDPBUSD chains) and zmm16..19 (the other instruction);
 * alone, the instruction writes zmm0..15. */
#define DP(a) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define DP16 DP(0) DP(1) DP(2) DP(3) DP(4) DP(5) DP(6) DP(7) DP(8) DP(9) DP(10) DP(11) DP(12) DP(13) DP(14) DP(15)
#define X4(op) op(16) op(17) op(18) op(19)
/* alone: 16 distinct destinations (the VPDPBUSD chains' registers are free then) */
#define X16(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)
#define FMA(a) "vfmadd231ps %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define MUL(a) "vmulps %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define ADDPS(a) "vaddps %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define CVT(a) "vcvtdq2ps %%zmm30, %%zmm" #a "\n\t"
#define PADDD(a) "vpaddd %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define MADDWD(a) "vpmaddwd %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define MULLD(a) "vpmulld %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define SCALEF(a) "vscalefps %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define DPBF16(a) "vdpbf16ps %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define PERMT2Q(a) "vpermt2q %%zmm30, %%zmm31, %%zmm" #a "\n\t"
#define BCAST(a) "vpbroadcastd 128(%[p]), %%zmm" #a "\n\t"
#define LOAD(a) "vmovdqa64 256(%[p]), %%zmm" #a "\n\t"
#define STORE(a) "vmovaps %%zmm30, 1024(%[p])\n\t"

#define CLOBBERS                                                                                       \
    "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",   \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",        \
        "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29"
enum { PORTS_ITERS = 20000, PORTS_PASSES = 150 };

typedef struct {
    const char *name;
    void (*with_dp)(char *, long);
    void (*alone)(char *, long);
} ports_row;

#define ROW(name, OP)                                                                                  \
    PORTS_TARGET static void name##_dp(char *p, long iters) {                                                       \
        for (long i = 0; i < iters; i++) __asm__ volatile(DP16 X4(OP)::[p] "r"(p) : CLOBBERS);         \
    }                                                                                                  \
    PORTS_TARGET static void name##_alone(char *p, long iters) {                                                    \
        for (long i = 0; i < iters; i++) __asm__ volatile(X16(OP)::[p] "r"(p) : CLOBBERS);             \
    }

PORTS_TARGET static void dp_only(char *p, long iters) {
    for (long i = 0; i < iters; i++) __asm__ volatile(DP16::[p] "r"(p) : CLOBBERS);
}
ROW(fma, FMA)
ROW(mul, MUL)
ROW(addps, ADDPS)
ROW(cvt, CVT)
ROW(paddd, PADDD)
ROW(maddwd, MADDWD)
ROW(mulld, MULLD)
ROW(scalef, SCALEF)
ROW(dpbf16, DPBF16)
ROW(permt2q, PERMT2Q)
ROW(bcast, BCAST)
ROW(load, LOAD)
ROW(store, STORE)

static const ports_row k_rows[] = {
    {"vfmadd231ps", fma_dp, fma_alone},     {"vmulps", mul_dp, mul_alone},
    {"vaddps", addps_dp, addps_alone},      {"vcvtdq2ps", cvt_dp, cvt_alone},
    {"vpaddd", paddd_dp, paddd_alone},      {"vpmaddwd", maddwd_dp, maddwd_alone},
    {"vpmulld", mulld_dp, mulld_alone},     {"vscalefps", scalef_dp, scalef_alone},
    {"vdpbf16ps", dpbf16_dp, dpbf16_alone}, {"vpermt2q", permt2q_dp, permt2q_alone},
    {"vpbroadcastd m32", bcast_dp, bcast_alone}, {"vmovdqa64 load", load_dp, load_alone},
    {"vmovaps store", store_dp, store_alone},
};
#define N_ROWS ((int)(sizeof k_rows / sizeof k_rows[0]))

/* best_of times f over PORTS_ITERS iterations and keeps the fastest in *best. */
static void best_of(void (*f)(char *, long), char *p, double *best) {
    const double t0 = ports_now();
    f(p, PORTS_ITERS);
    const double dt = ports_now() - t0;
    if (dt < *best) *best = dt;
}

PORTS_TARGET int kiln_bench_ports(void) {
    if (!(kiln_cpu_features() & KILN_CPU_AVX512VNNI)) {
        printf("--ports needs AVX-512 VNNI (VPDPBUSD)\n");
        return 1;
    }
    static char buf[4096] __attribute__((aligned(64)));
    /* zmm30 = zmm31 = 1.0f in every lane, then kept live by the clobber lists */
    __asm__ volatile("mov $0x3f800000, %%eax\n\tvpbroadcastd %%eax, %%zmm30\n\tvmovaps %%zmm30, %%zmm31\n\t" ::
                         : "eax", "xmm30", "xmm31");
    double base = 1e9, with_dp[N_ROWS], alone[N_ROWS];
    for (int r = 0; r < N_ROWS; r++) with_dp[r] = alone[r] = 1e9;
    for (int pass = 0; pass < PORTS_PASSES; pass++) {
        best_of(dp_only, buf, &base);
        for (int r = 0; r < N_ROWS; r++) {
            best_of(k_rows[r].with_dp, buf, &with_dp[r]);
            best_of(k_rows[r].alone, buf, &alone[r]);
        }
    }
    printf("\n== pipes beside VPDPBUSD (time relative to 16 VPDPBUSD: %.2f ns per 16) ==\n",
           base / PORTS_ITERS * 1e9);
    printf("%-18s %14s %14s  %s\n", "instruction", "16 dp + 4", "16 alone", "verdict");
    for (int r = 0; r < N_ROWS; r++) {
        const double w = with_dp[r] / base, a = alone[r] / base;
        printf("%-18s %14.3f %14.3f  %s\n", k_rows[r].name, w, a,
               w < 1.06 ? "free beside VPDPBUSD" : w > 1.19 ? "shares VPDPBUSD's pipes" : "partly shares");
    }
    return 0;
}

#else
int kiln_bench_ports(void) {
    printf("--ports: x86-64 only\n");
    return 1;
}
#endif
