/* amx.c — asking Linux once for the AMX tile data state (amx.h). */
#include "amx.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__linux__) && KILN_X86
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* arch_prctl codes and the XSAVE feature number of the tile data (Linux uapi). */
#define KILN_ARCH_GET_XCOMP_PERM 0x1022
#define KILN_ARCH_REQ_XCOMP_PERM 0x1023
#define KILN_XFEATURE_XTILEDATA 18

static pthread_once_t g_amx_once = PTHREAD_ONCE_INIT;
static int g_amx_granted;
static char g_amx_refusal[160];

static void amx_request(void) {
    const char *deny = getenv("KILN_AMX_DENY");
    if (deny && *deny && *deny != '0') {
        snprintf(g_amx_refusal, sizeof g_amx_refusal, "amx: not permitted by the OS (refusal simulated by KILN_AMX_DENY)");
        return;
    }
#if defined(__linux__) && KILN_X86
    if (syscall(SYS_arch_prctl, KILN_ARCH_REQ_XCOMP_PERM, KILN_XFEATURE_XTILEDATA) != 0) {
        snprintf(g_amx_refusal, sizeof g_amx_refusal, "amx: not permitted by the OS (arch_prctl ARCH_REQ_XCOMP_PERM: %s)",
                 strerror(errno));
        return;
    }
    /* granted: the permission bitmap now has XTILEDATA */
    unsigned long bitmap = 0;
    if (syscall(SYS_arch_prctl, KILN_ARCH_GET_XCOMP_PERM, &bitmap) != 0 ||
        !(bitmap & (1ul << KILN_XFEATURE_XTILEDATA))) {
        snprintf(g_amx_refusal, sizeof g_amx_refusal, "amx: not permitted by the OS (XTILEDATA missing after the request)");
        return;
    }
    g_amx_granted = 1;
#else
    snprintf(g_amx_refusal, sizeof g_amx_refusal, "amx: not permitted by the OS (tile state is requested on Linux only)");
#endif
}

int kiln_amx_permitted(void) {
    pthread_once(&g_amx_once, amx_request);
    return g_amx_granted;
}

const char *kiln_amx_refusal(void) {
    pthread_once(&g_amx_once, amx_request);
    return g_amx_granted ? NULL : g_amx_refusal;
}
