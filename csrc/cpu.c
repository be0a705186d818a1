/* cpu.c — CPU feature detection from cpuid, including whether the OS saves
 * the wider register state (xgetbv), so a feature is reported only if usable. */
#include "kiln_internal.h"

#include <stdatomic.h>

#if KILN_X86
#include <cpuid.h>

static uint64_t kiln_xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

uint32_t kiln_detect_cpu_features(void) {
    unsigned a, b, c, d;
    uint32_t f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int osxsave = (c >> 27) & 1;
    if ((c >> 20) & 1) f |= KILN_CPU_SSE42;
    const uint64_t xcr0 = osxsave ? kiln_xgetbv0() : 0;
    const int os_avx = (xcr0 & 0x6) == 0x6;          /* XMM + YMM state */
    const int os_avx512 = (xcr0 & 0xe6) == 0xe6;     /* + opmask, ZMM hi */
    const int os_amx = (xcr0 & 0x60000) == 0x60000;  /* XTILECFG + XTILEDATA */
    if (os_avx && ((c >> 28) & 1)) f |= KILN_CPU_AVX;
    if (os_avx && ((c >> 12) & 1)) f |= KILN_CPU_FMA;
    if (os_avx && ((c >> 29) & 1)) f |= KILN_CPU_F16C;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (os_avx && ((b >> 5) & 1)) f |= KILN_CPU_AVX2;
        if (os_avx512) {
            if ((b >> 16) & 1) f |= KILN_CPU_AVX512F;
            if ((b >> 17) & 1) f |= KILN_CPU_AVX512DQ;
            if ((b >> 30) & 1) f |= KILN_CPU_AVX512BW;
            if ((b >> 31) & 1) f |= KILN_CPU_AVX512VL;
            if ((c >> 11) & 1) f |= KILN_CPU_AVX512VNNI;
        }
        if (os_amx) {
            if ((d >> 24) & 1) f |= KILN_CPU_AMX_TILE;
            if ((d >> 25) & 1) f |= KILN_CPU_AMX_INT8;
            if ((d >> 22) & 1) f |= KILN_CPU_AMX_BF16;
        }
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        if (os_avx && ((a1 >> 4) & 1)) f |= KILN_CPU_AVXVNNI;
        if (os_avx512 && ((a1 >> 5) & 1)) f |= KILN_CPU_AVX512BF16;
    }
    return f;
}

/* kiln_cpu_is_intel reports whether cpuid's vendor is GenuineIntel (asked
 * once: cpuid traps to the hypervisor in a VM, and the GEMVs ask per call). */
int kiln_cpu_is_intel(void) {
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        unsigned a, b, c, d;
        v = __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v;
}
#else
uint32_t kiln_detect_cpu_features(void) { return 0; }
int kiln_cpu_is_intel(void) { return 0; }
#endif
