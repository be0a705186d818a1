/* core.c — library lifecycle, run-time ISA choice, status strings, type sizes.
 *
 * The ISA is chosen once (at the first kiln_init or implicitly at the first
 * kernel call) from cpuid, or forced by KILN_ISA / kiln_set_isa. Kernels read
 * it through kiln_active_isa() and pick their function-table entry. */
#include "kernels.h"
#include "arch/x86/amx.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#ifndef KILN_VERSION
#define KILN_VERSION "0.1.0"
#endif

static pthread_mutex_t g_init_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_initialised;
static atomic_int g_isa = KILN_ISA_SCALAR;
static uint32_t g_features;

const char *kiln_version(void) { return KILN_VERSION; }

const char *kiln_strerror(int status) {
    switch (status) {
    case KILN_OK: return "ok";
    case KILN_ERR_NULL: return "a required pointer is NULL";
    case KILN_ERR_SIZE: return "a size is zero, negative or out of range";
    case KILN_ERR_ALIGN: return "k is not a multiple of the type's block size";
    case KILN_ERR_TYPE: return "unsupported tensor type for this operation";
    case KILN_ERR_NOMEM: return "out of memory for kernel scratch";
    case KILN_ERR_ISA: return "kernel variant unknown or not supported by this CPU";
    case KILN_ERR_THREADS: return "thread pool could not be started";
    case KILN_ERR_INDEX: return "an index is out of range";
    default: return "unknown kiln status";
    }
}

size_t kiln_row_size(int type, int64_t k) {
    const kiln_type_traits *tr = kiln_type_traits_of(type);
    if (k <= 0 || !tr || k % tr->block) return 0;
    return (size_t)(k / tr->block) * tr->block_bytes;
}

const char *kiln_isa_name(int isa) {
    switch (isa) {
    case KILN_ISA_SCALAR: return "scalar";
    case KILN_ISA_AVX2: return "avx2";
    case KILN_ISA_AVX512: return "avx512";
    case KILN_ISA_AMX: return "amx";
    default: return NULL;
    }
}

static uint32_t features(void) {
    if (!g_features) g_features = kiln_detect_cpu_features() | 0x80000000u; /* mark detected */
    return g_features & 0x7fffffffu;
}

uint32_t kiln_cpu_features(void) { return features(); }

int kiln_isa_supported(int isa) {
    const uint32_t f = features();
    switch (isa) {
    case KILN_ISA_SCALAR: return 1;
    case KILN_ISA_AVX2: {
        const uint32_t need = KILN_CPU_AVX2 | KILN_CPU_FMA | KILN_CPU_F16C;
        return (f & need) == need;
    }
    case KILN_ISA_AVX512: {
        const uint32_t need = KILN_CPU_AVX2 | KILN_CPU_FMA | KILN_CPU_F16C | KILN_CPU_AVX512F |
                              KILN_CPU_AVX512BW | KILN_CPU_AVX512VL | KILN_CPU_AVX512DQ;
        return (f & need) == need;
    }
    case KILN_ISA_AMX: /* the AVX-512 table underneath, tiles on top, and Linux's grant */
        return kiln_isa_supported(KILN_ISA_AVX512) && (f & KILN_CPU_AVX512VNNI) && (f & KILN_CPU_AMX_TILE) &&
               (f & KILN_CPU_AMX_INT8) && kiln_amx_permitted();
    default: return 0;
    }
}

const char *kiln_isa_unsupported_reason(int isa) {
    if (isa < 0 || isa >= KILN_ISA_COUNT || kiln_isa_supported(isa)) return NULL;
    const uint32_t f = features();
    switch (isa) {
    case KILN_ISA_AVX2: return "avx2: the CPU (or the OS's saved state) lacks AVX2, FMA or F16C";
    case KILN_ISA_AVX512: return "avx512: the CPU (or the OS's saved state) lacks AVX-512 F/BW/VL/DQ";
    case KILN_ISA_AMX: {
        if (!kiln_isa_supported(KILN_ISA_AVX512) || !(f & KILN_CPU_AVX512VNNI))
            return "amx: needs the avx512 variant with VNNI underneath";
        if (!(f & KILN_CPU_AMX_TILE) || !(f & KILN_CPU_AMX_INT8))
            return "amx: the CPU (or the OS's XCR0) has no AMX-TILE and AMX-INT8";
        return kiln_amx_refusal(); /* "amx: not permitted by the OS (...)" */
    }
    default: return NULL;
    }
}

static int best_isa(void) {
    for (int isa = KILN_ISA_COUNT - 1; isa > KILN_ISA_SCALAR; isa--)
        if (kiln_isa_supported(isa)) return isa;
    return KILN_ISA_SCALAR;
}

/* isa_from_env returns the variant KILN_ISA names, best_isa() if unset, or -1. */
static int isa_from_env(void) {
    const char *v = getenv("KILN_ISA");
    if (!v || !*v || !strcasecmp(v, "auto")) return best_isa();
    for (int isa = 0; isa < KILN_ISA_COUNT; isa++)
        if (!strcasecmp(v, kiln_isa_name(isa))) return kiln_isa_supported(isa) ? isa : -1;
    return -1;
}

int kiln_init(int n_threads) {
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > KILN_MAX_THREADS) return KILN_ERR_SIZE;
    pthread_mutex_lock(&g_init_mu);
    int isa = isa_from_env();
    if (isa < 0) {
        pthread_mutex_unlock(&g_init_mu);
        return KILN_ERR_ISA;
    }
    kiln_kernels_init(features());
    if (atomic_load(&g_initialised)) kiln_pool_stop();
    int rc = kiln_pool_start(n_threads);
    if (rc == KILN_OK) {
        atomic_store(&g_isa, isa);
        atomic_store(&g_initialised, 1);
    } else {
        atomic_store(&g_initialised, 0);
    }
    pthread_mutex_unlock(&g_init_mu);
    return rc;
}

int kiln_ensure_init(void) {
    if (atomic_load_explicit(&g_initialised, memory_order_acquire)) return KILN_OK;
    return kiln_init(0);
}

void kiln_shutdown(void) {
    pthread_mutex_lock(&g_init_mu);
    if (atomic_load(&g_initialised)) kiln_pool_stop();
    atomic_store(&g_initialised, 0);
    pthread_mutex_unlock(&g_init_mu);
}

int kiln_threads(void) {
    if (kiln_ensure_init() != KILN_OK) return 1;
    return kiln_pool_size();
}

int kiln_get_isa(void) {
    kiln_ensure_init();
    return atomic_load(&g_isa);
}

int kiln_active_isa(void) { return atomic_load_explicit(&g_isa, memory_order_relaxed); }

int kiln_set_isa(int isa) {
    if (isa < 0 || isa >= KILN_ISA_COUNT || !kiln_isa_supported(isa)) return KILN_ERR_ISA;
    int rc = kiln_ensure_init();
    if (rc != KILN_OK) return rc;
    atomic_store(&g_isa, isa);
    return KILN_OK;
}
