/* quant_gemm_k_amx.c — AMX-INT8 GEMM (prefill) of the 256-element weight
 * types Q2_K … Q6_K and IQ4_XS against Q8_K activations.
 *
 * Arithmetic: the int32 sums of quant.h per super-block and output, exact,
 * then the reference's float steps into lane b % 8 — the same integers and
 * float operations as quant_gemm_k_avx512.c, so the scalar reference's bits
 * (decode ≡ prefill, any m, tile or thread).
 *
 * Scaled planes: a tile product sums over all 64 bytes of k it covers, but
 * the weights carry an integer scale per 16 or 32 elements. So the scale is
 * put into the weight before the product: v = sc·(q − offset) per element
 * (Q4_K/Q5_K/Q2_K sc·q; Q3_K sc·(q−4); Q6_K sc·(q−32); IQ4_XS sc·value),
 * an int16 of at most |4096|, split into an unsigned low byte and a signed
 * high byte, v = lo + 256·hi. Then
 *     Σ_g sc_g·Σ_{k∈g} q_k·x_k − offset·Σ_g sc_g·bsum_g = Σ_k lo_k·x_k + 256·Σ_k hi_k·x_k
 * exactly, and one super-block is four 64-byte steps of TDPBSUD (X signed,
 * lo unsigned) and TDPBSSD (hi signed) into two int32 tiles, with no
 * per-sub-block scaling of partial sums. (Q2_K's v <= 45 has no high byte.)
 * Q2_K/Q4_K/Q5_K's min sum Σ_g mn_g·bsum_g meets dmin rather than d, so
 * it has its own tile product: a third plane holding mn_g(k) at every
 * element k (Σ_k mn_g(k)·x_k is the same integer), run over the same X
 * tiles once the lo / hi sums are stored.
 *
 * Tiles (palette 1, all 16 rows × 64 bytes):
 *   0, 1   C lo / hi of X rows i0 .. i0+15     (int32, X row × W column);
 *          then C mn of those rows in tile 0
 *   2, 3   C lo / hi of X rows i0+16 .. i0+31; then C mn in tile 2
 *   4, 5   A: X quants of those two row groups
 * X: the driver lays the Q8_K quants out once per call (kiln_mm_q8k_layout_amx,
 * p->xkt): per group of 16 rows and super-block, 16 rows × 256 bytes on
 * cache lines, padded with zero rows, so an A tile is 16 whole lines. Without
 * that layout (a caller that did not make it) the quants are read in place,
 * 292 bytes a super-block apart, a partial group through a padded copy.
 *   6, 7   B: lo / hi plane of 16 W rows, 64 k (VNNI order: quad × row);
 *          the mn plane in tile 6
 * Packed panel (per thread, k block of AK_KCB super-blocks, 16 W rows), per
 * super-block in bytes from s*AK_SB: lo plane [64 quads][16 rows][4], hi
 * and mn planes the same, d[16], dmin[16] (f32). Packing happens once per panel and k block and is
 * reused by every X row of the m block. */
#include "../../kernels.h"
#include "amx.h"
#include "quant_pack_avx512.h"

#if KILN_X86

#define AK KILN_INLINE KILN_TARGET_AMX
/* C += A·B, s8 (A: X) × u8 (B: the low byte plane) into int32, in amx.h's
 * form (tiles only; the loads and stores around it clobber memory). */
#define AK_TILE_DPBSUD(c, a, b) __asm__ volatile("tdpbsud %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

enum {
    AK_KCB = 3,   /* super-blocks per k block: 36 KB of packed panel */
    AK_MB = 192,  /* X rows per m block at most: 96 KB of lane accumulators */
    AK_X_L2 = 1 << 20, /* bytes of X quants an m block keeps in L2 */
    AK_TM = 16,   /* X rows per A tile */
    AK_PLANE = KILN_QK_K * KILN_QP_NR, /* bytes of one plane of a super-block */
    AK_LO = 0, AK_HI = AK_PLANE, AK_MN = 2 * AK_PLANE, AK_D = 3 * AK_PLANE,
    AK_DMIN = AK_D + KILN_QP_NR * 4,
    AK_SB = AK_DMIN + KILN_QP_NR * 4, /* bytes per packed super-block */
    AK_CTILE = AK_TM * KILN_QP_NR, /* int32 of one stored C tile */
    AK_CBUF = 6 * AK_CTILE * 4,    /* lo, hi, mn of two row groups, stored */
    AK_XPAD = AK_TM * AK_KCB * KILN_QK_K, /* a partial row group's X quants, padded to 16 rows */
    AK_STAGE = 2 * KILN_QP_NR * KILN_QK_K, /* 16 rows of unsigned quants, then transposed */
};
_Static_assert(AK_SB % 64 == 0 && AK_CBUF % 64 == 0 && AK_XPAD % 64 == 0, "packed parts stay on cache lines");
_Static_assert((size_t)AK_KCB * AK_SB + (size_t)AK_MB * KILN_QP_ACC * 4 + AK_CBUF + AK_XPAD + AK_STAGE <=
                   KILN_MM_SCRATCH_FLOATS * 4,
               "the AMX K-quant GEMM's panel, accumulators and buffers must fit the per-thread scratch");
_Static_assert(AK_MB % (2 * AK_TM) == 0, "m blocks hold whole tile pairs");

/* ak_has_min: the type subtracts dmin·Σ mn·bsum (else its offset is in v). */
#define ak_has_min(ty) ((ty) == KILN_QP_Q2_K || (ty) == KILN_QP_Q4_K || (ty) == KILN_QP_Q5_K)

/* ak_offset is the bias kiln_qp_k_unpack leaves on the type's quants. */
AK int ak_offset(kiln_qp_ktype ty) {
    return ty == KILN_QP_Q3_K ? 4 : ty == KILN_QP_Q6_K ? 32 : ty == KILN_QP_IQ4_XS ? 128 : 0;
}

/* ak_scales decodes the scales of super-block blk of one W row: sc[g] of
 * each group (16 of 16 elements, or 8 of 32), mn[h] the min of 16-element
 * group h as four equal bytes (min types), d and dmin. Q4_K/Q5_K unpack
 * their twelve 6-bit scale bytes four at a time (kiln_get_scale_min_k4's
 * values); the others take kiln_qp_k_scales'. */
AK void ak_scales(kiln_qp_ktype ty, const uint8_t *blk, int32_t sc[16], uint32_t mn[16], float *d, float *dmin) {
    if (ty == KILN_QP_Q4_K || ty == KILN_QP_Q5_K) {
        uint16_t h[2];
        uint32_t u[3];
        memcpy(h, blk, 4);
        memcpy(u, blk + 4, 12);
        *d = kiln_fp16_to_fp32(h[0]);
        *dmin = kiln_fp16_to_fp32(h[1]);
        const uint32_t s03 = u[0] & 0x3f3f3f3fu, m03 = u[1] & 0x3f3f3f3fu;
        const uint32_t s47 = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
        const uint32_t m47 = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
        for (int g = 0; g < 4; g++) {
            sc[g] = (int32_t)(s03 >> 8 * g & 0xFF);
            sc[g + 4] = (int32_t)(s47 >> 8 * g & 0xFF);
            mn[2 * g] = mn[2 * g + 1] = (m03 >> 8 * g & 0xFF) * 0x01010101u;
            mn[2 * g + 8] = mn[2 * g + 9] = (m47 >> 8 * g & 0xFF) * 0x01010101u;
        }
        return;
    }
    if (ty == KILN_QP_Q6_K) {
        const block_q6_K *w = (const block_q6_K *)blk;
        *d = kiln_fp16_to_fp32(w->d);
        *dmin = 0;
        for (int g = 0; g < 16; g++) sc[g] = w->scales[g];
        return;
    }
    kiln_qp_kscales s;
    kiln_qp_k_scales(ty, blk, &s);
    *d = s.d;
    *dmin = s.dmin;
    for (int g = 0; g < 16; g++) sc[g] = s.sc[g];
    if (ty == KILN_QP_Q2_K) /* pair p: the mins of groups 2p and 2p+1 */
        for (int h = 0; h < 16; h++) mn[h] = (s.pair[h / 2] >> (16 * (h % 2)) & 0xFFFFu) * 0x01010101u;
}

/* ak_pack_superblock packs super-block b of the 16 rows into dst (AK_SB
 * bytes). The unsigned quants u are transposed to the B tiles' order first
 * (one int32 lane per row holds a quad); then per quad two VPMADDUBSW with
 * the row's scale in the even / odd bytes give the products sc·u of the
 * even / odd quants as int16 (|sc·u| <= 255·128: no saturation), less
 * sc·offset, and their low and high bytes interleave into the two planes.
 * stage holds AK_STAGE bytes. */
AK void ak_pack_superblock(kiln_qp_ktype ty, const uint8_t *const rows[KILN_QP_NR], size_t bsz, int64_t b, uint8_t *dst,
                           uint8_t *stage) {
    _Alignas(64) int32_t sc[16][KILN_QP_NR];  /* [group][row] */
    _Alignas(64) uint32_t mn[16][KILN_QP_NR]; /* [16-element group][row] */
    uint8_t *q = stage; /* [row][256] unsigned quants */
    for (int j = 0; j < KILN_QP_NR; j++) {
        const uint8_t *blk = rows[j] + (size_t)b * bsz;
        int32_t s[16] = {0};
        uint32_t m[16];
        kiln_qp_k_unpack(ty, blk, q + j * KILN_QK_K);
        ak_scales(ty, blk, s, m, (float *)(dst + AK_D) + j, (float *)(dst + AK_DMIN) + j);
        for (int g = 0; g < 16; g++) sc[g][j] = s[g];
        if (ak_has_min(ty))
            for (int h = 0; h < 16; h++) mn[h][j] = m[h];
    }
    int32_t *u = (int32_t *)(stage + KILN_QP_NR * KILN_QK_K); /* [quad][row] */
    for (int c = 0; c < KILN_QK_K / 32; c++) kiln_qp_transpose32(q + 32 * c, KILN_QK_K, u + c * 8 * KILN_QP_NR);
    const int groups = kiln_qp_groups16(ty) ? 16 : 8, quads = 64 / groups, off = ak_offset(ty);
    const __m512i low = _mm512_set1_epi16(0x00FF), high = _mm512_set1_epi16((short)0xFF00);
    for (int g = 0; g < groups; g++) {
        const __m512i scv = _mm512_load_si512((const __m512i *)sc[g]);
        const __m512i se = _mm512_mullo_epi32(_mm512_and_si512(scv, _mm512_set1_epi32(0xFF)), _mm512_set1_epi32(0x00010001));
        const __m512i so = _mm512_slli_epi32(se, 8);
        const __m512i ov = _mm512_mullo_epi32(_mm512_and_si512(_mm512_mullo_epi32(scv, _mm512_set1_epi32(off)), _mm512_set1_epi32(0xFFFF)),
                                              _mm512_set1_epi32(0x00010001));
        for (int i = 0; i < quads; i++) {
            const int qd = g * quads + i;
            const __m512i uq = _mm512_load_si512((const __m512i *)(u + qd * KILN_QP_NR));
            const __m512i pe = _mm512_sub_epi16(_mm512_maddubs_epi16(uq, se), ov); /* v of quants 0, 2 of each quad */
            const __m512i po = _mm512_sub_epi16(_mm512_maddubs_epi16(uq, so), ov); /* quants 1, 3 */
            _mm512_store_si512((__m512i *)(dst + AK_LO + qd * 64), _mm512_or_si512(_mm512_and_si512(pe, low), _mm512_slli_epi16(po, 8)));
            if (ty != KILN_QP_Q2_K)
                _mm512_store_si512((__m512i *)(dst + AK_HI + qd * 64),
                                   _mm512_or_si512(_mm512_srli_epi16(pe, 8), _mm512_and_si512(po, high)));
        }
    }
    if (ak_has_min(ty)) /* quad q (elements 4q .. 4q+3) lies in 16-element group q / 4 */
        for (int qd = 0; qd < KILN_QK_K / 4; qd++)
            _mm512_store_si512((__m512i *)(dst + AK_MN + qd * 64), _mm512_load_si512((const __m512i *)mn[qd / 4]));
}

/* ak_finish adds super-block b's contribution of X row x (its C lo / hi /
 * mn rows at c, c + AK_CTILE, c + 2*AK_CTILE; 16 W columns) to its lane
 * accumulators, as the VNNI kernel does: f += (d·dx)·sum, then (min types)
 * f −= (dmin·dx)·Σ mn·bsum. d and dmin are the packed super-block's. */
AK void ak_finish(kiln_qp_ktype ty, __m512 d, __m512 dmin, const block_q8_K *x, const int32_t *c, float *acc, int64_t b) {
    __m512i sum = _mm512_load_si512((const __m512i *)c);
    if (ty != KILN_QP_Q2_K) sum = _mm512_add_epi32(sum, _mm512_slli_epi32(_mm512_load_si512((const __m512i *)(c + AK_CTILE)), 8));
    float *lane = acc + (b % 8) * KILN_QP_NR;
    const __m512 dx = _mm512_set1_ps(x->d);
    __m512 f = _mm512_load_ps(lane);
    f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(sum)));
    if (ak_has_min(ty)) {
        const __m512i dot = _mm512_load_si512((const __m512i *)(c + 2 * AK_CTILE));
        f = _mm512_sub_ps(f, _mm512_mul_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(dot)));
    }
    _mm512_store_ps(lane, f);
}

/* ak_rows is one or two groups of 16 X rows: where their quants of the
 * current k block start (super-block kb0 at a[t], the next super-block
 * astep[t] bytes on, rows astride[t] apart: in place in Q8_K or in the
 * padded copy) and which Q8_K rows they are (rows past nrows[t] are
 * padding, never finished). */
typedef struct {
    const int8_t *a[2];
    size_t astep[2], astride[2];
    const block_q8_K *x[2]; /* row 0 of each group, super-block 0 */
    int nrows[2];
    float *acc[2];
} ak_rows;

/* ak_tiles: for the NT (1 or 2) row groups of r, acc += the contributions
 * of super-blocks kb0 .. kb0+nsb-1 from the packed chunk pk. */
AK void ak_tiles(kiln_qp_ktype ty, const uint8_t *pk, int64_t kb0, int64_t nsb, int64_t nbk, const ak_rows *r, int32_t *cbuf,
                 const int NT) {
    const int hi = ty != KILN_QP_Q2_K;
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *pq = pk + s * AK_SB;
        const int8_t *a0 = r->a[0] + s * r->astep[0], *a1 = r->a[NT - 1] + s * r->astep[NT - 1];
        KILN_TILE_ZERO(0);
        KILN_TILE_ZERO(1);
        if (NT == 2) {
            KILN_TILE_ZERO(2);
            KILN_TILE_ZERO(3);
        }
        for (int c = 0; c < KILN_QK_K / 64; c++) {
            KILN_TILE_LOADD(6, pq + AK_LO + c * 1024, 64);
            KILN_TILE_LOADD(4, a0 + c * 64, r->astride[0]);
            AK_TILE_DPBSUD(0, 4, 6);
            if (NT == 2) {
                KILN_TILE_LOADD(5, a1 + c * 64, r->astride[1]);
                AK_TILE_DPBSUD(2, 5, 6);
            }
            if (hi) {
                KILN_TILE_LOADD(7, pq + AK_HI + c * 1024, 64);
                KILN_TILE_DPBSSD(1, 4, 7);
                if (NT == 2) KILN_TILE_DPBSSD(3, 5, 7);
            }
        }
        KILN_TILE_STORED(0, cbuf, 64);
        if (hi) KILN_TILE_STORED(1, cbuf + AK_CTILE, 64);
        if (NT == 2) {
            KILN_TILE_STORED(2, cbuf + 3 * AK_CTILE, 64);
            if (hi) KILN_TILE_STORED(3, cbuf + 4 * AK_CTILE, 64);
        }
        if (ak_has_min(ty)) { /* Σ_k mn·x over the same X tiles */
            KILN_TILE_ZERO(0);
            if (NT == 2) KILN_TILE_ZERO(2);
            for (int c = 0; c < KILN_QK_K / 64; c++) {
                KILN_TILE_LOADD(6, pq + AK_MN + c * 1024, 64);
                KILN_TILE_LOADD(4, a0 + c * 64, r->astride[0]);
                AK_TILE_DPBSUD(0, 4, 6);
                if (NT == 2) {
                    KILN_TILE_LOADD(5, a1 + c * 64, r->astride[1]);
                    AK_TILE_DPBSUD(2, 5, 6);
                }
            }
            KILN_TILE_STORED(0, cbuf + 2 * AK_CTILE, 64);
            if (NT == 2) KILN_TILE_STORED(2, cbuf + 5 * AK_CTILE, 64);
        }
        const int64_t b = kb0 + s;
        const __m512 d = _mm512_load_ps((const float *)(pq + AK_D)), dmin = _mm512_load_ps((const float *)(pq + AK_DMIN));
        for (int t = 0; t < NT; t++)
            for (int i = 0; i < r->nrows[t]; i++)
                ak_finish(ty, d, dmin, r->x[t] + (size_t)i * nbk + b, cbuf + 3 * AK_CTILE * t + 16 * i,
                          r->acc[t] + i * KILN_QP_ACC, b);
    }
}

/* ak_group points group t of r at X rows i0 .. i0+n-1 (n <= 16; i0 a
 * multiple of 16) for the k block at kb0 (nsb super-blocks): in p->xkt if
 * the driver laid X out, else in place for a whole group, else a copy in
 * xpad padded with zero rows. */
AK void ak_group(ak_rows *r, int t, const kiln_mm *p, int64_t nbk, int64_t i0, int n, int64_t kb0, int64_t nsb, int8_t *xpad,
                 float *acc) {
    const block_q8_K *xk = p->xk;
    r->x[t] = xk + i0 * nbk;
    r->nrows[t] = n;
    r->acc[t] = acc;
    if (p->xkt) {
        r->a[t] = p->xkt + ((size_t)(i0 / AK_TM) * nbk + kb0) * AK_TM * KILN_QK_K;
        r->astep[t] = AK_TM * KILN_QK_K;
        r->astride[t] = KILN_QK_K;
        return;
    }
    if (n == AK_TM) {
        r->a[t] = xk[i0 * nbk + kb0].qs;
        r->astep[t] = sizeof(block_q8_K);
        r->astride[t] = (size_t)nbk * sizeof(block_q8_K);
        return;
    }
    for (int i = 0; i < AK_TM; i++)
        for (int64_t s = 0; s < nsb; s++) {
            int8_t *dst = xpad + (size_t)i * AK_KCB * KILN_QK_K + s * KILN_QK_K;
            if (i < n) memcpy(dst, xk[(i0 + i) * nbk + kb0 + s].qs, KILN_QK_K);
            else memset(dst, 0, KILN_QK_K);
        }
    r->a[t] = xpad;
    r->astep[t] = KILN_QK_K;
    r->astride[t] = (size_t)AK_KCB * KILN_QK_K;
}

// y[0:m, n0:n1] = X[m,k] · W[n0:n1,k]ᵀ; W rows of type ty, X Q8_K-quantized (p->xk).
AK void ak_gemm(kiln_qp_ktype ty, size_t bsz, const kiln_mm *p, int64_t n0, int64_t n1, float *scratch) {
    uint8_t *pk = (uint8_t *)scratch; /* 64-byte aligned */
    float *acc = (float *)(pk + (size_t)AK_KCB * AK_SB);
    int32_t *cbuf = (int32_t *)(acc + (size_t)AK_MB * KILN_QP_ACC);
    int8_t *xpad = (int8_t *)cbuf + AK_CBUF;
    uint8_t *stage = (uint8_t *)xpad + AK_XPAD;
    const int64_t nbk = p->k / KILN_QK_K;
    kiln_amx_tilecfg cfg;
    kiln_amx_cfg_init(&cfg);
    for (int t = 0; t < KILN_AMX_TILES; t++) kiln_amx_cfg_tile(&cfg, t, AK_TM, 64);
    kiln_amx_begin(&cfg);
    /* m blocks outside the panels: an m block's X (mb rows × k bytes, about
     * 1 MB at most) stays in L2 while every panel of [n0, n1) passes over it
     * (a panel is packed once per m block either way). Measured at n = 2048,
     * k = 8192, m = 512: 1.15x (Q4_K) and 1.4x (Q6_K) over panels outside. */
    int64_t mb = AK_X_L2 / p->k / (2 * AK_TM) * (2 * AK_TM);
    mb = mb < 2 * AK_TM ? 2 * AK_TM : mb > AK_MB ? AK_MB : mb;
    for (int64_t mb0 = 0; mb0 < p->m; mb0 += mb) {
        const int64_t mb1 = mb0 + mb < p->m ? mb0 + mb : p->m;
        for (int64_t j0 = n0; j0 < n1; j0 += KILN_QP_NR) {
            const int nvalid = n1 - j0 >= KILN_QP_NR ? KILN_QP_NR : (int)(n1 - j0);
            const uint8_t *rows[KILN_QP_NR];
            kiln_qp_rows(p, j0, nvalid, rows);
            memset(acc, 0, sizeof(float) * (size_t)(mb1 - mb0) * KILN_QP_ACC);
            for (int64_t kb0 = 0; kb0 < nbk; kb0 += AK_KCB) {
                const int64_t nsb = nbk - kb0 < AK_KCB ? nbk - kb0 : AK_KCB;
                for (int64_t s = 0; s < nsb; s++) ak_pack_superblock(ty, rows, bsz, kb0 + s, pk + s * AK_SB, stage);
                for (int64_t i0 = mb0; i0 < mb1; i0 += 2 * AK_TM) {
                    ak_rows r;
                    const int64_t left = mb1 - i0;
                    const int n0r = left < AK_TM ? (int)left : AK_TM;
                    ak_group(&r, 0, p, nbk, i0, n0r, kb0, nsb, xpad, acc + (i0 - mb0) * KILN_QP_ACC);
                    if (left > AK_TM) {
                        const int n1r = left - AK_TM < AK_TM ? (int)(left - AK_TM) : AK_TM;
                        ak_group(&r, 1, p, nbk, i0 + AK_TM, n1r, kb0, nsb, xpad, acc + (i0 + AK_TM - mb0) * KILN_QP_ACC);
                        ak_tiles(ty, pk, kb0, nsb, nbk, &r, cbuf, 2);
                    } else {
                        ak_tiles(ty, pk, kb0, nsb, nbk, &r, cbuf, 1);
                    }
                }
            }
            kiln_qp_store_rows(acc, mb1 - mb0, p->y + mb0 * p->n + j0, p->n, nvalid);
        }
    }
    kiln_amx_end();
}

/* kiln_mm_q8k_layout_amx writes rows [r0, r1) of p->xk's quants into p->xkt
 * (r0 a multiple of 16; r1 too, or m, when the last group's rows up to the
 * next multiple of 16 are zeroed). Plain copies: any thread may run it. */
void kiln_mm_q8k_layout_amx(const kiln_mm *p, int64_t r0, int64_t r1) {
    const int64_t nbk = p->k / KILN_QK_K;
    const block_q8_K *xk = p->xk;
    int8_t *xkt = (int8_t *)p->xkt;
    const int64_t pad_to = r1 == p->m ? (r1 + AK_TM - 1) / AK_TM * AK_TM : r1;
    for (int64_t i = r0; i < pad_to; i++)
        for (int64_t b = 0; b < nbk; b++) {
            int8_t *dst = xkt + (((size_t)(i / AK_TM) * nbk + b) * AK_TM + (size_t)(i % AK_TM)) * KILN_QK_K;
            if (i < r1) memcpy(dst, xk[i * nbk + b].qs, KILN_QK_K);
            else memset(dst, 0, KILN_QK_K);
        }
}

/* Below min_m X rows the VNNI GEMM (the same bits) is faster: a panel's
 * packing, paid once per m block, then outweighs the tiles' speed.
 * Crossovers measured at n = k = 2048, one thread (Xeon with AMX): Q3_K
 * and Q6_K from 16 rows, Q2_K and IQ4_XS from 32, Q4_K and Q5_K from 48. */
#define AK_KERNEL(ty, TY, block, min_m)                                                                    \
    KILN_TARGET_AMX void kiln_mm_gemm_##ty##_amx(const kiln_mm *p, int64_t n0, int64_t n1, float *s) { \
        if (p->m < (min_m)) kiln_mm_gemm_##ty##_avx512(p, n0, n1, s);                                       \
        else ak_gemm(TY, sizeof(block), p, n0, n1, s);                                                     \
    }
AK_KERNEL(q2_K, KILN_QP_Q2_K, block_q2_K, 32)
AK_KERNEL(q3_K, KILN_QP_Q3_K, block_q3_K, 16)
AK_KERNEL(q4_K, KILN_QP_Q4_K, block_q4_K, 48)
AK_KERNEL(q5_K, KILN_QP_Q5_K, block_q5_K, 48)
AK_KERNEL(q6_K, KILN_QP_Q6_K, block_q6_K, 16)
AK_KERNEL(iq4_xs, KILN_QP_IQ4_XS, block_iq4_xs, 32)

/* AK_ROW makes the AMX GEMM (from the same threshold on) the row's prefill
 * kernel, reading X in its layout; the GEMV stays AVX-512's. */
#define AK_ROW(TYPE, ty)                                                                  \
    do {                                                                                  \
        kiln_type_kernels *r_ = &t->types[TYPE];                                          \
        r_->gemm = kiln_mm_gemm_##ty##_amx;                                               \
        r_->gemm_layout = kiln_mm_q8k_layout_amx;                                         \
        r_->gemm_mr = AK_TM;                                                              \
        r_->gemm_variant = "amx-int8 16-column tiles of scaled weight planes (tdpbsud/tdpbssd; vnni below its crossover)"; \
    } while (0)

void kiln_quant_rows_k_amx(kiln_kernels *t) {
    AK_ROW(KILN_TYPE_Q2_K, q2_K);
    AK_ROW(KILN_TYPE_Q3_K, q3_K);
    AK_ROW(KILN_TYPE_Q4_K, q4_K);
    AK_ROW(KILN_TYPE_Q5_K, q5_K);
    AK_ROW(KILN_TYPE_Q6_K, q6_K);
    AK_ROW(KILN_TYPE_IQ4_XS, iq4_xs);
}

#else
typedef int kiln_quant_gemm_k_amx_unavailable; /* non-x86: keep the unit non-empty */
#endif /* KILN_X86 */
