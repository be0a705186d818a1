/* test_matmul_split.c — the column split of GEMVs (m below the GEMM's) at
 * shapes large enough that chunks are bounded by bytes of W (and outputs
 * end mid-chunk), for plain, K-quant and repacked weights: two
 * threads give the bits of one, run after run (the dynamic split differs
 * each time), alone and as several outputs of one kiln_matmul_multi call.
 * A chunk boundary inside a 16-row panel would break the repacked layout. */
#include "test_util.h"

#include <signal.h>
#include <unistd.h>

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* weights returns n rows of k of type (repacked types from their source). */
static void *weights(int type, int64_t n, int64_t k) {
    float *f = t_alloc(sizeof(float) * (size_t)(n * k));
    t_fill(f, n * k, -1, 1);
    if (type == KILN_TYPE_F32) return f;
    const int src = type == KILN_TYPE_Q8_0_R16 ? KILN_TYPE_Q8_0 : type;
    void *w = t_alloc(kiln_row_size(src, k) * (size_t)n);
    T_CHECK(kiln_quantize(src, f, w, n, k) == KILN_OK, "quantize type %d %lldx%lld", src, (long long)n, (long long)k);
    free(f);
    if (src == type) return w;
    void *r = t_alloc(kiln_row_size(type, k) * (size_t)n);
    T_CHECK(kiln_repack(src, w, n, k, r) == KILN_OK, "repack %lldx%lld", (long long)n, (long long)k);
    free(w);
    return r;
}

/* check_split runs count outputs of one type over one X with 1 thread, then
 * several times with 2, and compares every output bit for bit. */
static void check_split(int type, const int64_t *ns, int count, int64_t m, int64_t k) {
    void *w[KILN_MATMUL_MAX_OUTS];
    float *want[KILN_MATMUL_MAX_OUTS], *got[KILN_MATMUL_MAX_OUTS];
    kiln_matmul_out outs[KILN_MATMUL_MAX_OUTS];
    float *x = t_alloc(sizeof(float) * (size_t)(m * k));
    t_fill(x, m * k, -2, 2);
    for (int i = 0; i < count; i++) {
        w[i] = weights(type, ns[i], k);
        want[i] = t_alloc(sizeof(float) * (size_t)(m * ns[i]));
        got[i] = t_alloc(sizeof(float) * (size_t)(m * ns[i]));
        t_poison(want[i], m * ns[i]);
        outs[i] = (kiln_matmul_out){.wtype = type, .w = w[i], .y = want[i], .n = ns[i]};
    }
    kiln_init(1);
    T_CHECK(kiln_matmul_multi(x, m, k, outs, count) == KILN_OK, "1 thread");
    kiln_init(2);
    char what[160];
    int ok = 1;
    for (int rep = 0; rep < 6 && ok; rep++) {
        for (int i = 0; i < count; i++) {
            t_poison(got[i], m * ns[i]);
            outs[i].y = got[i];
        }
        int rc = count == 1 && rep % 2 ? kiln_matmul(type, w[0], x, got[0], m, ns[0], k)
                                       : kiln_matmul_multi(x, m, k, outs, count);
        if (rc != KILN_OK) T_CHECK(0, "2 threads: status %d", rc);
        for (int i = 0; i < count && ok; i++) {
            if (!memcmp(got[i], want[i], sizeof(float) * (size_t)(m * ns[i]))) continue;
            snprintf(what, sizeof what, "type %d m=%lld k=%lld output %d of %d (n=%lld) rep %d: 2 threads = 1", type,
                     (long long)m, (long long)k, i, count, (long long)ns[i], rep);
            ok = t_identical(what, got[i], want[i], m * ns[i]);
        }
    }
    if (ok) T_CHECK(1, "type %d m=%lld k=%lld, %d output(s) from n=%lld: 2 threads = 1, 6 runs", type, (long long)m,
                    (long long)k, count, (long long)ns[0]);
    for (int i = 0; i < count; i++) {
        free(w[i]);
        free(want[i]);
        free(got[i]);
    }
    free(x);
    kiln_init(0);
}

/* on_alarm ends a run that stopped making progress with a clear failure
 * rather than a ctest timeout: every call here finishes in well under a second. */
static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: a matmul did not finish within 120 s (a claim without progress?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(1);
}

int main(void) {
    t_seed("test_matmul_split");
    signal(SIGALRM, on_alarm);
    alarm(120);
    /* repacked types need n % 16 == 0; the others also get ragged n */
    const int types[] = {KILN_TYPE_Q8_0_R16, KILN_TYPE_Q8_0, KILN_TYPE_Q4_0, KILN_TYPE_Q4_K, KILN_TYPE_Q6_K, KILN_TYPE_F32};
    for (int t = 0; t < COUNT(types); t++) {
        const int ty = types[t];
        const int ragged = ty != KILN_TYPE_Q8_0_R16;
        for (int64_t m = 1; m <= 3; m += 2) {
            const int64_t one[] = {4096 + (ragged ? 7 : 0)};
            check_split(ty, one, 1, m, 1024);
            const int64_t tall[] = {1536 + (ragged ? 3 : 0)};
            check_split(ty, tall, 1, m, 4096);
            const int64_t qkv[] = {2048, 512 + (ragged ? 5 : 0), 512};
            check_split(ty, qkv, 3, m, 2048);
        }
    }
    /* a single row longer than a GEMV chunk's bytes: the chunk is still one
     * whole pair of groups, never 0 columns (1 thread claims from the front) */
    for (int t = 0; t < 2; t++) {
        const int ty = t ? KILN_TYPE_Q8_0_R16 : KILN_TYPE_Q8_0;
        const int64_t n[] = {t ? 48 : 5};
        for (int64_t m = 1; m <= 3; m += 2) check_split(ty, n, 1, m, 262144 + 1024);
    }
    return t_done();
}
