/* test_attention.c — paged attention: kv_store layout and rounding, decode and
 * prefill against a float64 reference (GQA, ragged lengths, shuffled block
 * tables, cached prefixes, F32/F16/Q8_0 caches), every SIMD variant against
 * the scalar one, the bit-identity contracts (a Q8_0 cache also gives the
 * bits of an F32 cache holding its values), Q8_0 rows stored byte for byte
 * as GGUF quantizes them, and the argument checks.
 *
 * Unused cache slots are filled with NaN, so a kernel that reads a token a
 * query must not see (past seq_len, past the causal edge, another block)
 * turns its output into NaN and fails. */
#include "test_util.h"

/* Kernel vs float64 reference. The f32 kernels round each score's dot
 * product (head_dim <= 128 terms, scores up to ~10 with the scales used),
 * the exp (a few ulp) and sums over <= 257 probabilities; outputs are
 * weighted averages of |v| <= 1. Observed worst case ~1.2e-6 absolute over
 * many seeds; 1e-5 leaves ~8x margin while still catching a wrong or missing
 * token (which moves outputs by ~1e-3 or more). */
#define TOL_ATTN_ATOL 1e-5
#define TOL_ATTN_RTOL 1e-5
/* SIMD variant vs scalar variant: both are f32 runs with different summation
 * orders and exp, so they differ by up to the sum of both errors to f64. */
#define TOL_ISA_ATOL 1.5e-5
#define TOL_ISA_RTOL 1e-5

typedef struct {
    int n_head, n_kv, D, bs, type;
} cfg;

/* row_bytes is one cache row of D values (kiln.h: Q8_0 rows are whole blocks). */
static size_t row_bytes(int type, int D) {
    if (type == KILN_TYPE_Q8_0) return (size_t)(D + 31) / 32 * 34;
    return (size_t)D * (type == KILN_TYPE_F16 ? 2 : 4);
}

/* gguf_q8_0_row is llama.cpp's quantize_row_q8_0_ref (ggml-quants.c), written
 * out here independently of the library, over the row zero-padded to whole
 * blocks: per block d = amax/127 (f16), q = roundf(x / d). */
static void gguf_q8_0_row(const float *x, int D, uint8_t *out) {
    for (int b = 0; b * 32 < D; b++, out += 34) {
        float blk[32] = {0}, amax = 0.0f;
        for (int i = 0; i < 32 && b * 32 + i < D; i++) blk[i] = x[b * 32 + i];
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(blk[i]));
        const float d = amax / ((1 << 7) - 1), id = d ? 1.0f / d : 0.0f;
        const uint16_t h = kiln_fp32_to_fp16(d);
        memcpy(out, &h, 2);
        for (int i = 0; i < 32; i++) out[2 + i] = (uint8_t)(int8_t)roundf(blk[i] * id);
    }
}

/* gguf_q8_0_value is element d of a row gguf_q8_0_row wrote. */
static double gguf_q8_0_value(const uint8_t *row, int d) {
    const uint8_t *b = row + (d / 32) * 34;
    uint16_t h;
    memcpy(&h, b, 2);
    return (double)kiln_fp16_to_fp32(h) * (int8_t)b[2 + d % 32];
}

/* stored is the exact value x has once stored in a cache of `type`:
 * element d of the row x[0:D]. */
static double stored(int type, const float *x, int D, int d) {
    if (type == KILN_TYPE_F16) return kiln_fp16_to_fp32(kiln_fp32_to_fp16(x[d]));
    if (type != KILN_TYPE_Q8_0) return x[d];
    uint8_t row[34 * 8];
    gguf_q8_0_row(x, D, row);
    return gguf_q8_0_value(row, d);
}

/* scene: a cache pool with n_seq sequences of len[s] tokens stored through
 * kiln_kv_store at shuffled blocks, plus the exact stored values. */
typedef struct {
    cfg c;
    kiln_kv_layout kv;
    int n_seq, max_blocks;
    int32_t *len, *table;   /* table [n_seq][max_blocks], -1 where unused */
    double **kx, **vx;      /* per seq: exact stored K/V [len][n_kv][D] */
    size_t pool_bytes;
    kiln_kv_layout kv32;    /* Q8_0 scenes: an F32 cache of the same values and blocks */
} scene;

/* fill_nan poisons a pool of n_rows rows: every value reads as NaN (a Q8_0
 * block gets a NaN scale). */
static void fill_nan(void *pool, size_t n_rows, int type, int D) {
    if (type == KILN_TYPE_F16)
        for (size_t i = 0; i < n_rows * D; i++) ((uint16_t *)pool)[i] = 0x7e00;
    else if (type == KILN_TYPE_Q8_0)
        for (size_t b = 0; b < n_rows * row_bytes(type, D) / 34; b++) {
            uint8_t *blk = (uint8_t *)pool + b * 34;
            const uint16_t nan16 = 0x7e00;
            memcpy(blk, &nan16, 2);
            memset(blk + 2, 1, 32);
        }
    else
        t_poison(pool, (int64_t)(n_rows * D));
}

static scene make_scene(cfg c, int n_seq, const int *lens) {
    scene sc;
    memset(&sc, 0, sizeof sc);
    sc.c = c;
    sc.n_seq = n_seq;
    int used = 0, maxb = 1;
    for (int s = 0; s < n_seq; s++) {
        int nb = (lens[s] + c.bs - 1) / c.bs;
        used += nb;
        if (nb + 1 > maxb) maxb = nb + 1;
    }
    sc.max_blocks = maxb;
    const int n_blocks = used + 3; /* spare blocks stay NaN */
    int *perm = malloc(sizeof(int) * n_blocks);
    for (int i = 0; i < n_blocks; i++) perm[i] = i;
    for (int i = n_blocks - 1; i > 0; i--) {
        int k = t_int(0, i), tmp = perm[i];
        perm[i] = perm[k];
        perm[k] = tmp;
    }
    sc.len = malloc(sizeof(int32_t) * n_seq);
    sc.table = malloc(sizeof(int32_t) * n_seq * maxb);
    sc.kx = malloc(sizeof(double *) * n_seq);
    sc.vx = malloc(sizeof(double *) * n_seq);
    const size_t rows = (size_t)n_blocks * c.n_kv * c.bs;
    sc.pool_bytes = rows * row_bytes(c.type, c.D);
    /* scale up to 3/sqrt(D): peaked as well as flat softmaxes */
    sc.kv = (kiln_kv_layout){c.n_head, c.n_kv, c.D, c.bs, c.type, n_blocks, t_uniform(0.5f, 3.0f) / sqrtf((float)c.D),
                             t_alloc(sc.pool_bytes), t_alloc(sc.pool_bytes)};
    fill_nan(sc.kv.k_cache, rows, c.type, c.D);
    fill_nan(sc.kv.v_cache, rows, c.type, c.D);
    if (c.type == KILN_TYPE_Q8_0) {
        sc.kv32 = sc.kv;
        sc.kv32.kv_type = KILN_TYPE_F32;
        sc.kv32.k_cache = t_alloc(rows * c.D * 4);
        sc.kv32.v_cache = t_alloc(rows * c.D * 4);
        fill_nan(sc.kv32.k_cache, rows, KILN_TYPE_F32, c.D);
        fill_nan(sc.kv32.v_cache, rows, KILN_TYPE_F32, c.D);
    }
    int next = 0;
    for (int s = 0; s < n_seq; s++) {
        const int L = lens[s], row = c.n_kv * c.D;
        sc.len[s] = L;
        for (int b = 0; b < maxb; b++) sc.table[s * maxb + b] = b * c.bs < L ? perm[next++] : -1;
        float *k = t_alloc(sizeof(float) * L * row), *v = t_alloc(sizeof(float) * L * row);
        int32_t *slots = t_alloc(sizeof(int32_t) * L);
        t_fill(k, (int64_t)L * row, -1, 1);
        t_fill(v, (int64_t)L * row, -1, 1);
        for (int t = 0; t < L; t++) slots[t] = sc.table[s * maxb + t / c.bs] * c.bs + t % c.bs;
        T_CHECK(kiln_kv_store(&sc.kv, k, v, slots, L) == KILN_OK, "kv_store seq %d", s);
        sc.kx[s] = malloc(sizeof(double) * L * row);
        sc.vx[s] = malloc(sizeof(double) * L * row);
        for (int i = 0; i < L * row; i++) {
            const int r0 = i - i % c.D;
            sc.kx[s][i] = stored(c.type, k + r0, c.D, i % c.D);
            sc.vx[s][i] = stored(c.type, v + r0, c.D, i % c.D);
        }
        if (c.type == KILN_TYPE_Q8_0) { /* the exact Q8_0 values, as F32 */
            for (int i = 0; i < L * row; i++) k[i] = (float)sc.kx[s][i], v[i] = (float)sc.vx[s][i];
            T_CHECK(kiln_kv_store(&sc.kv32, k, v, slots, L) == KILN_OK, "kv_store f32 twin seq %d", s);
        }
        free(k), free(v), free(slots);
    }
    free(perm);
    return sc;
}

static void free_scene(scene *sc) {
    for (int s = 0; s < sc->n_seq; s++) free(sc->kx[s]), free(sc->vx[s]);
    free(sc->kx), free(sc->vx), free(sc->len), free(sc->table);
    free(sc->kv.k_cache), free(sc->kv.v_cache);
    free(sc->kv32.k_cache), free(sc->kv32.v_cache);
}

/* ref_query: out[n_head][D] (f64) for one query of seq s at position pos. */
static void ref_query(const scene *sc, int s, int pos, const float *q, double *out) {
    const int D = sc->c.D, G = sc->c.n_head / sc->c.n_kv, row = sc->c.n_kv * D;
    double *w = malloc(sizeof(double) * (pos + 1));
    for (int h = 0; h < sc->c.n_head; h++) {
        const int g = h / G;
        double mx = -INFINITY, sum = 0;
        for (int t = 0; t <= pos; t++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)q[h * D + d] * sc->kx[s][t * row + g * D + d];
            w[t] = dot * sc->kv.scale;
            if (w[t] > mx) mx = w[t];
        }
        for (int t = 0; t <= pos; t++) sum += (w[t] = exp(w[t] - mx));
        for (int d = 0; d < D; d++) {
            double acc = 0;
            for (int t = 0; t <= pos; t++) acc += w[t] * sc->vx[s][t * row + g * D + d];
            out[h * D + d] = acc / sum;
        }
    }
    free(w);
}

static const char *tname(int type) {
    return type == KILN_TYPE_F16 ? "f16" : type == KILN_TYPE_Q8_0 ? "q8_0" : "f32";
}

static int set_variant(int isa, int threads) {
    int ok = kiln_init(threads) == KILN_OK && kiln_set_isa(isa) == KILN_OK;
    T_CHECK(ok, "init %d threads, variant %s", threads, kiln_isa_name(isa));
    return ok;
}

/* ---- decode ---------------------------------------------------------------- */
static void decode_call(const scene *sc, const float *q, float *out) {
    const int64_t n = (int64_t)sc->n_seq * sc->c.n_head * sc->c.D;
    t_poison(out, n);
    int rc = kiln_attn_decode(&sc->kv, q, out, sc->n_seq, sc->table, sc->max_blocks, sc->len);
    T_CHECK(rc == KILN_OK, "decode rc %d", rc);
}

static void test_decode(cfg c) {
    static const int lens[] = {1, 2, 15, 16, 17, 33, 100, 257};
    const int n_seq = 8, HD = c.n_head * c.D;
    int order[8];
    for (int i = 0; i < n_seq; i++) order[i] = lens[i];
    for (int i = n_seq - 1; i > 0; i--) { int k = t_int(0, i), x = order[i]; order[i] = order[k]; order[k] = x; }
    scene sc = make_scene(c, n_seq, order);
    float *q = t_alloc(sizeof(float) * n_seq * HD);
    t_fill(q, (int64_t)n_seq * HD, -2, 2);
    double *want = malloc(sizeof(double) * n_seq * HD);
    for (int s = 0; s < n_seq; s++) ref_query(&sc, s, sc.len[s] - 1, q + s * HD, want + s * HD);
    float *ref = t_alloc(sizeof(float) * n_seq * HD), *got = t_alloc(sizeof(float) * n_seq * HD);
    float *got2 = t_alloc(sizeof(float) * n_seq * HD);
    char what[160];
    int isas[KILN_ISA_COUNT], n_isa = 0;
    isas[n_isa++] = KILN_ISA_SCALAR;
    for (int isa = KILN_ISA_SCALAR + 1; isa < KILN_ISA_COUNT; isa++)
        if (kiln_isa_supported(isa)) isas[n_isa++] = isa;
    for (int vi = 0; vi < n_isa; vi++) {
        const int isa = isas[vi];
        snprintf(what, sizeof what, "decode %s h%d/%d D%d bs%d %s", kiln_isa_name(isa), c.n_head, c.n_kv,
                 c.D, c.bs, tname(c.type));
        if (!set_variant(isa, 1)) continue;
        decode_call(&sc, q, got);
        t_close_f64(what, "TOL_ATTN", got, want, (int64_t)n_seq * HD, TOL_ATTN_ATOL, TOL_ATTN_RTOL);
        if (isa == KILN_ISA_SCALAR) memcpy(ref, got, sizeof(float) * n_seq * HD);
        else t_close_f32(what, "TOL_ISA vs scalar", got, ref, (int64_t)n_seq * HD, TOL_ISA_ATOL, TOL_ISA_RTOL);
        if (c.type == KILN_TYPE_Q8_0) { /* the F32 kernel over the same values: same bits */
            t_poison(got2, (int64_t)n_seq * HD);
            kiln_attn_decode(&sc.kv32, q, got2, sc.n_seq, sc.table, sc.max_blocks, sc.len);
            char w2[200];
            snprintf(w2, sizeof w2, "%s: == f32 cache of its values", what);
            t_identical(w2, got, got2, (int64_t)n_seq * HD);
        }
        /* 2 threads: same bits */
        if (!set_variant(isa, 2)) continue;
        decode_call(&sc, q, got2);
        snprintf(what + strlen(what), sizeof what - strlen(what), ": 1 vs 2 threads");
        t_identical(what, got, got2, (int64_t)n_seq * HD);
        /* each sequence alone: same bits as inside the batch */
        int ok = 1;
        for (int s = 0; s < n_seq; s++) {
            t_poison(got2, HD);
            kiln_attn_decode(&sc.kv, q + s * HD, got2, 1, sc.table + s * sc.max_blocks, sc.max_blocks,
                             sc.len + s);
            ok &= memcmp(got2, got + s * HD, sizeof(float) * HD) == 0;
        }
        T_CHECK(ok, "decode %s D%d %s: sequence alone == in batch", kiln_isa_name(isa), c.D, tname(c.type));
    }
    free(q), free(want), free(ref), free(got), free(got2);
    free_scene(&sc);
}

/* ---- prefill --------------------------------------------------------------- */
typedef struct {
    int n_seq;
    int32_t *q_start, *ctx;
} pf_batch;

static void prefill_call(const scene *sc, const pf_batch *b, const float *q, float *out) {
    const int64_t n = (int64_t)b->q_start[b->n_seq] * sc->c.n_head * sc->c.D;
    t_poison(out, n);
    int rc = kiln_attn_prefill(&sc->kv, q, out, b->n_seq, b->q_start, b->ctx, sc->table, sc->max_blocks);
    T_CHECK(rc == KILN_OK, "prefill rc %d", rc);
}

static void test_prefill(cfg c) {
    /* (ctx_len, n_q): whole prompts, cached prefixes, a 0-query sequence */
    static const int ctx[] = {1, 17, 100, 257, 33, 16, 40};
    static const int nq[] = {1, 17, 37, 3, 33, 0, 24};
    const int n_seq = 7, HD = c.n_head * c.D;
    scene sc = make_scene(c, n_seq, ctx);
    pf_batch b = {n_seq, malloc(sizeof(int32_t) * (n_seq + 1)), sc.len};
    b.q_start[0] = 0;
    for (int s = 0; s < n_seq; s++) b.q_start[s + 1] = b.q_start[s] + nq[s];
    const int rows = b.q_start[n_seq];
    float *q = t_alloc(sizeof(float) * rows * HD);
    t_fill(q, (int64_t)rows * HD, -2, 2);
    double *want = malloc(sizeof(double) * rows * HD);
    /* decode form of every query: one "sequence" per query, seq_len = pos + 1 */
    int32_t *dlen = malloc(sizeof(int32_t) * rows), *dtab = malloc(sizeof(int32_t) * rows * sc.max_blocks);
    for (int s = 0; s < n_seq; s++)
        for (int j = 0; j < nq[s]; j++) {
            const int r = b.q_start[s] + j, pos = ctx[s] - nq[s] + j;
            ref_query(&sc, s, pos, q + r * HD, want + r * HD);
            dlen[r] = pos + 1;
            memcpy(dtab + r * sc.max_blocks, sc.table + s * sc.max_blocks, sizeof(int32_t) * sc.max_blocks);
        }
    const int64_t n = (int64_t)rows * HD;
    float *ref = t_alloc(sizeof(float) * n), *got = t_alloc(sizeof(float) * n), *got2 = t_alloc(sizeof(float) * n);
    char what[160];
    int isas[KILN_ISA_COUNT], n_isa = 0;
    isas[n_isa++] = KILN_ISA_SCALAR;
    for (int isa = KILN_ISA_SCALAR + 1; isa < KILN_ISA_COUNT; isa++)
        if (kiln_isa_supported(isa)) isas[n_isa++] = isa;
    for (int vi = 0; vi < n_isa; vi++) {
        const int isa = isas[vi];
        const char *in = kiln_isa_name(isa);
        snprintf(what, sizeof what, "prefill %s h%d/%d D%d bs%d %s", in, c.n_head, c.n_kv, c.D, c.bs,
                 tname(c.type));
        if (!set_variant(isa, 1)) continue;
        prefill_call(&sc, &b, q, got);
        t_close_f64(what, "TOL_ATTN", got, want, n, TOL_ATTN_ATOL, TOL_ATTN_RTOL);
        if (isa == KILN_ISA_SCALAR) memcpy(ref, got, sizeof(float) * n);
        else t_close_f32(what, "TOL_ISA vs scalar", got, ref, n, TOL_ISA_ATOL, TOL_ISA_RTOL);
        if (c.type == KILN_TYPE_Q8_0) { /* the F32 kernel over the same values: same bits */
            t_poison(got2, n);
            kiln_attn_prefill(&sc.kv32, q, got2, b.n_seq, b.q_start, b.ctx, sc.table, sc.max_blocks);
            char w2[200];
            snprintf(w2, sizeof w2, "%s: == f32 cache of its values", what);
            t_identical(w2, got, got2, n);
        }

        /* every row == the same query through decode (all queries in one call) */
        t_poison(got2, n);
        int rc = kiln_attn_decode(&sc.kv, q, got2, rows, dtab, sc.max_blocks, dlen);
        T_CHECK(rc == KILN_OK, "decode form rc %d", rc);
        snprintf(what, sizeof what, "prefill %s D%d %s: rows == decode", in, c.D, tname(c.type));
        t_identical(what, got, got2, n);

        /* each sequence alone, and only its last k queries (a different query
         * tiling against the same cache): same bits */
        int ok_alone = 1, ok_tail = 1;
        for (int s = 0; s < n_seq; s++) {
            if (nq[s] == 0) continue;
            int32_t qs1[2] = {0, nq[s]}, cx = ctx[s];
            const int64_t off = (int64_t)b.q_start[s] * HD;
            t_poison(got2, (int64_t)nq[s] * HD);
            kiln_attn_prefill(&sc.kv, q + off, got2, 1, qs1, &cx, sc.table + s * sc.max_blocks, sc.max_blocks);
            ok_alone &= memcmp(got2, got + off, sizeof(float) * nq[s] * HD) == 0;
            const int k = t_int(1, nq[s]);
            qs1[1] = k;
            t_poison(got2, (int64_t)k * HD);
            kiln_attn_prefill(&sc.kv, q + off + (int64_t)(nq[s] - k) * HD, got2, 1, qs1, &cx,
                              sc.table + s * sc.max_blocks, sc.max_blocks);
            ok_tail &= memcmp(got2, got + off + (int64_t)(nq[s] - k) * HD, sizeof(float) * k * HD) == 0;
        }
        T_CHECK(ok_alone, "prefill %s D%d %s: sequence alone == in batch", in, c.D, tname(c.type));
        T_CHECK(ok_tail, "prefill %s D%d %s: query subset == full call", in, c.D, tname(c.type));
        if (!set_variant(isa, 2)) continue;
        prefill_call(&sc, &b, q, got2);
        snprintf(what, sizeof what, "prefill %s D%d %s: 1 vs 2 threads", in, c.D, tname(c.type));
        t_identical(what, got, got2, n);
    }
    free(q), free(want), free(ref), free(got), free(got2), free(dlen), free(dtab), free(b.q_start);
    free_scene(&sc);
}

/* ---- kv_store ------------------------------------------------------------- */
/* test_store_q8_0: every stored row is byte for byte llama.cpp's Q8_0 of the
 * row (zero-padded to whole blocks), in every ISA; nothing else is touched.
 * Rows span large and tiny magnitudes, all-zero rows and lone spikes. */
static void test_store_q8_0(int D) {
    const int n_kv = 3, bs = 16, n_blocks = 5, n_tok = 20, type = KILN_TYPE_Q8_0;
    const size_t rb = row_bytes(type, D), pool = (size_t)n_blocks * n_kv * bs * rb;
    kiln_kv_layout kv = {6, n_kv, D, bs, type, n_blocks, 0.1f, t_alloc(pool), t_alloc(pool)};
    const int64_t n = (int64_t)n_tok * n_kv * D;
    float *k = t_alloc(sizeof(float) * n), *v = t_alloc(sizeof(float) * n);
    t_fill(k, n, -60000, 60000);
    t_fill(v, n, -1e-6f, 1e-6f); /* scales in f16's subnormal range */
    for (int d = 0; d < D; d++) k[d] = 0.0f;                       /* an all-zero row */
    for (int d = 0; d < D; d++) v[n_kv * D + d] = d == D / 2 ? 3.0f : 1e-3f; /* a spike */
    int32_t slots[20];
    for (int i = 0; i < n_tok; i++) slots[i] = i % 4 == 3 ? -1 : (i * 37) % (n_blocks * bs);
    uint8_t *want = malloc(rb), *snap = malloc(pool);
    for (int isa = 0; isa < KILN_ISA_COUNT; isa++) {
        if (!kiln_isa_supported(isa) || !set_variant(isa, 2)) continue;
        fill_nan(kv.k_cache, (size_t)n_blocks * n_kv * bs, type, D);
        fill_nan(kv.v_cache, (size_t)n_blocks * n_kv * bs, type, D);
        memcpy(snap, kv.k_cache, pool);
        T_CHECK(kiln_kv_store(&kv, k, v, slots, n_tok) == KILN_OK, "kv_store q8_0 ok");
        int bad = 0, other = 0;
        uint8_t *seen = calloc((size_t)n_blocks * n_kv * bs, 1);
        for (int i = 0; i < n_tok; i++) {
            if (slots[i] < 0) continue;
            const int blk = slots[i] / bs, off = slots[i] % bs;
            for (int g = 0; g < n_kv; g++) {
                const size_t r = ((size_t)blk * n_kv + g) * bs + off;
                seen[r] = 1;
                gguf_q8_0_row(k + (i * n_kv + g) * D, D, want);
                bad += memcmp((uint8_t *)kv.k_cache + r * rb, want, rb) != 0;
                gguf_q8_0_row(v + (i * n_kv + g) * D, D, want);
                bad += memcmp((uint8_t *)kv.v_cache + r * rb, want, rb) != 0;
            }
        }
        for (size_t r = 0; r < (size_t)n_blocks * n_kv * bs; r++)
            other += !seen[r] && memcmp((uint8_t *)kv.k_cache + r * rb, snap + r * rb, rb) != 0;
        T_CHECK(bad == 0 && other == 0, "kv_store %s q8_0 D%d: %d rows differ from GGUF's Q8_0, %d other rows touched",
                kiln_isa_name(isa), D, bad, other);
        free(seen);
    }
    free(k), free(v), free(want), free(snap), free(kv.k_cache), free(kv.v_cache);
}

static void test_store(int type) {
    const int n_kv = 3, D = 40, bs = 16, n_blocks = 5, n_tok = 20;
    const size_t elems = (size_t)n_blocks * n_kv * bs * D;
    kiln_kv_layout kv = {6, n_kv, D, bs, type, n_blocks, 0.1f, t_alloc(elems * row_bytes(type, 1)),
                         t_alloc(elems * row_bytes(type, 1))};
    float *k = t_alloc(sizeof(float) * n_tok * n_kv * D), *v = t_alloc(sizeof(float) * n_tok * n_kv * D);
    int32_t slots[20];
    t_fill(k, n_tok * n_kv * D, -70000, 70000); /* beyond half's range: inf rounding too */
    t_fill(v, n_tok * n_kv * D, -1e-6f, 1e-6f);  /* half subnormals */
    for (int i = 0; i < n_tok; i++) slots[i] = i % 4 == 3 ? -1 : (i * 37) % (n_blocks * bs);
    for (int isa = 0; isa < KILN_ISA_COUNT; isa++) {
        if (!kiln_isa_supported(isa) || !set_variant(isa, 2)) continue;
        fill_nan(kv.k_cache, elems / D, type, D);
        fill_nan(kv.v_cache, elems / D, type, D);
        T_CHECK(kiln_kv_store(&kv, k, v, slots, n_tok) == KILN_OK, "kv_store ok");
        int bad = 0, written = 0;
        for (int i = 0; i < n_tok; i++) {
            if (slots[i] < 0) continue;
            const int blk = slots[i] / bs, off = slots[i] % bs;
            for (int g = 0; g < n_kv; g++)
                for (int d = 0; d < D; d++) {
                    const size_t e = (((size_t)blk * n_kv + g) * bs + off) * D + d;
                    const float xk = k[(i * n_kv + g) * D + d], xv = v[(i * n_kv + g) * D + d];
                    if (type == KILN_TYPE_F16) {
                        bad += ((uint16_t *)kv.k_cache)[e] != kiln_fp32_to_fp16(xk);
                        bad += ((uint16_t *)kv.v_cache)[e] != kiln_fp32_to_fp16(xv);
                    } else {
                        bad += memcmp((float *)kv.k_cache + e, &xk, 4) != 0;
                        bad += memcmp((float *)kv.v_cache + e, &xv, 4) != 0;
                    }
                    written++;
                }
        }
        /* everything else (skipped tokens included) still NaN */
        int touched = 0;
        for (size_t e = 0; e < elems; e++) {
            const int nan_k = type == KILN_TYPE_F16 ? ((uint16_t *)kv.k_cache)[e] == 0x7e00
                                                    : isnan(((float *)kv.k_cache)[e]);
            touched += !nan_k;
        }
        T_CHECK(bad == 0 && touched == written, "kv_store %s %s: %d wrong, %d touched vs %d written",
                kiln_isa_name(isa), tname(type), bad, touched, written);
    }
    free(k), free(v), free(kv.k_cache), free(kv.v_cache);
}

/* ---- argument checks ------------------------------------------------------- */
static void test_errors(void) {
    kiln_init(2);
    const cfg c = {4, 2, 16, 16, KILN_TYPE_F32};
    const int lens[] = {20, 5};
    scene sc = make_scene(c, 2, lens);
    const int HD = c.n_head * c.D, rows = 6;
    float *q = t_alloc(sizeof(float) * rows * HD), *out = t_alloc(sizeof(float) * rows * HD);
    t_fill(q, rows * HD, -1, 1);
    void *snap_k = malloc(sc.pool_bytes), *snap_v = malloc(sc.pool_bytes);
    memcpy(snap_k, sc.kv.k_cache, sc.pool_bytes);
    memcpy(snap_v, sc.kv.v_cache, sc.pool_bytes);
    int32_t qs[3] = {0, 4, 6}, ctx[2] = {20, 5};
    float kv_rows[2 * 2 * 16];
    t_fill(kv_rows, 64, -1, 1);
    int32_t slots[2] = {0, 1};

/* CHECK_ERR runs call (after poisoning out) and wants code, no output written
 * and the cache untouched. */
#define CHECK_ERR(want, call, ...)                                                              \
    do {                                                                                        \
        t_poison(out, rows * HD);                                                               \
        int rc_ = (call);                                                                       \
        int clean_ = 1;                                                                         \
        for (int i_ = 0; i_ < rows * HD; i_++) clean_ &= isnan(out[i_]);                        \
        clean_ &= !memcmp(snap_k, sc.kv.k_cache, sc.pool_bytes) &&                              \
                  !memcmp(snap_v, sc.kv.v_cache, sc.pool_bytes);                                \
        T_CHECK(rc_ == (want) && clean_, __VA_ARGS__);                                          \
    } while (0)

    kiln_kv_layout kv = sc.kv;
    const int mb = sc.max_blocks;
    int32_t *tab = sc.table, *len = sc.len;
    /* NULL */
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(NULL, q, out, 2, tab, mb, len), "decode kv NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(&kv, NULL, out, 2, tab, mb, len), "decode q NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(&kv, q, NULL, 2, tab, mb, len), "decode out NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(&kv, q, out, 2, NULL, mb, len), "decode table NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(&kv, q, out, 2, tab, mb, NULL), "decode lens NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_prefill(&kv, q, out, 2, NULL, ctx, tab, mb), "prefill q_start NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_prefill(&kv, q, out, 2, qs, NULL, tab, mb), "prefill ctx NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_kv_store(&kv, kv_rows, NULL, slots, 2), "store v NULL");
    kiln_kv_layout bad = kv;
    bad.v_cache = NULL;
    CHECK_ERR(KILN_ERR_NULL, kiln_attn_decode(&bad, q, out, 2, tab, mb, len), "decode v_cache NULL");
    CHECK_ERR(KILN_ERR_NULL, kiln_kv_store(&bad, kv_rows, kv_rows, slots, 2), "store v_cache NULL");
    /* TYPE */
    bad = kv;
    bad.kv_type = KILN_TYPE_BF16;
    CHECK_ERR(KILN_ERR_TYPE, kiln_attn_decode(&bad, q, out, 2, tab, mb, len), "decode bf16 cache");
    CHECK_ERR(KILN_ERR_TYPE, kiln_attn_prefill(&bad, q, out, 2, qs, ctx, tab, mb), "prefill bf16 cache");
    CHECK_ERR(KILN_ERR_TYPE, kiln_kv_store(&bad, kv_rows, kv_rows, slots, 2), "store bf16 cache");
    /* SIZE: geometry */
    const struct { int field, value; const char *name; } geo[] = {
        {0, 3, "n_head % n_head_kv"}, {1, 0, "n_head_kv 0"}, {2, 0, "head_dim 0"},
        {3, 0, "block_size 0"}, {4, 0, "n_blocks 0"}, {0, -4, "n_head < 0"}};
    for (size_t i = 0; i < sizeof geo / sizeof geo[0]; i++) {
        bad = kv;
        int *f[] = {&bad.n_head, &bad.n_head_kv, &bad.head_dim, &bad.block_size, &bad.n_blocks};
        *f[geo[i].field] = geo[i].value;
        CHECK_ERR(KILN_ERR_SIZE, kiln_attn_decode(&bad, q, out, 2, tab, mb, len), "decode %s", geo[i].name);
        CHECK_ERR(KILN_ERR_SIZE, kiln_attn_prefill(&bad, q, out, 2, qs, ctx, tab, mb), "prefill %s", geo[i].name);
        CHECK_ERR(KILN_ERR_SIZE, kiln_kv_store(&bad, kv_rows, kv_rows, slots, 2), "store %s", geo[i].name);
    }
    /* SIZE: sequences */
    int32_t l2[2] = {20, 0};
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_decode(&kv, q, out, 2, tab, mb, l2), "decode seq_len 0");
    l2[1] = mb * c.bs + 1;
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_decode(&kv, q, out, 2, tab, mb, l2), "decode seq_len past table");
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_decode(&kv, q, out, -1, tab, mb, len), "decode n_seq < 0");
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_decode(&kv, q, out, 2, tab, 0, len), "decode max_blocks 0");
    int32_t qbad[3] = {0, 5, 4};
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_prefill(&kv, q, out, 2, qbad, ctx, tab, mb), "q_start decreasing");
    qbad[0] = 1, qbad[1] = 4, qbad[2] = 6;
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_prefill(&kv, q, out, 2, qbad, ctx, tab, mb), "q_start[0] != 0");
    int32_t cbad[2] = {20, 1};
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_prefill(&kv, q, out, 2, qs, cbad, tab, mb), "ctx_len < n_q");
    cbad[1] = mb * c.bs + 1;
    CHECK_ERR(KILN_ERR_SIZE, kiln_attn_prefill(&kv, q, out, 2, qs, cbad, tab, mb), "ctx_len past table");
    CHECK_ERR(KILN_ERR_SIZE, kiln_kv_store(&kv, kv_rows, kv_rows, slots, -1), "store n_tokens < 0");
    /* INDEX: a block id of the second sequence outside the pool */
    int32_t *tb = malloc(sizeof(int32_t) * 2 * mb);
    for (int bad_id = -1; bad_id <= 1; bad_id += 2) {
        memcpy(tb, tab, sizeof(int32_t) * 2 * mb);
        tb[mb] = bad_id < 0 ? -1 : kv.n_blocks;
        CHECK_ERR(KILN_ERR_INDEX, kiln_attn_decode(&kv, q, out, 2, tb, mb, len), "decode block id %d", tb[mb]);
        CHECK_ERR(KILN_ERR_INDEX, kiln_attn_prefill(&kv, q, out, 2, qs, ctx, tb, mb), "prefill block id %d",
                  tb[mb]);
    }
    /* unused table entries (past a sequence's length) are not checked */
    memcpy(tb, tab, sizeof(int32_t) * 2 * mb);
    tb[mb + mb - 1] = 9999;
    t_poison(out, rows * HD);
    T_CHECK(kiln_attn_decode(&kv, q, out, 2, tb, mb, len) == KILN_OK, "unused table entries ignored");
    free(tb);
    int32_t sbad[2] = {0, kv.n_blocks * kv.block_size};
    CHECK_ERR(KILN_ERR_INDEX, kiln_kv_store(&kv, kv_rows, kv_rows, sbad, 2), "store slot past pool");
    /* empty calls are fine and write nothing */
    CHECK_ERR(KILN_OK, kiln_attn_decode(&kv, q, out, 0, tab, mb, len), "decode n_seq 0");
    CHECK_ERR(KILN_OK, kiln_kv_store(&kv, kv_rows, kv_rows, slots, 0), "store 0 tokens");
#undef CHECK_ERR
    free(q), free(out), free(snap_k), free(snap_v);
    free_scene(&sc);
}

int main(void) {
    t_seed("attention");
    int simd[KILN_ISA_COUNT];
    t_simd_isas(simd);
    test_store(KILN_TYPE_F32);
    test_store(KILN_TYPE_F16);
    test_store_q8_0(64);
    test_store_q8_0(40);
    test_store_q8_0(8);
    const cfg cfgs[] = {
        {8, 2, 64, 16, KILN_TYPE_F32},  {8, 2, 64, 32, KILN_TYPE_F16},  {4, 4, 128, 32, KILN_TYPE_F32},
        {4, 4, 128, 16, KILN_TYPE_F16}, {6, 1, 40, 16, KILN_TYPE_F16},  {6, 1, 72, 32, KILN_TYPE_F32},
        {8, 2, 80, 16, KILN_TYPE_F32},  {3, 3, 3, 16, KILN_TYPE_F16},   {2, 1, 16, 32, KILN_TYPE_F32},
        {32, 8, 64, 16, KILN_TYPE_F16}, {5, 5, 17, 7, KILN_TYPE_F32},
        /* Q8_0: whole blocks, padded rows (40, 8, 3, 17 dims), GQA and MQA */
        {8, 2, 64, 16, KILN_TYPE_Q8_0}, {4, 4, 128, 32, KILN_TYPE_Q8_0}, {6, 1, 40, 16, KILN_TYPE_Q8_0},
        {9, 3, 64, 16, KILN_TYPE_Q8_0}, {8, 4, 8, 16, KILN_TYPE_Q8_0},  {3, 3, 3, 16, KILN_TYPE_Q8_0},
        {5, 5, 17, 7, KILN_TYPE_Q8_0},  {2, 1, 96, 32, KILN_TYPE_Q8_0},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        test_decode(cfgs[i]);
        test_prefill(cfgs[i]);
    }
    test_errors();
    return t_done();
}
