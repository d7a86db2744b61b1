/* The DFP16 conv quantiser's plane pair and plane quad in one pass (contracts
 * in int_kernels.h): 16 pixels of each plane per step, rounded as
 * dfp16_round_avx512.h rounds (the codes of the scalar reference), the two
 * codes of a pixel packed into one 32-bit lane (the first plane's in the low
 * half: the pair layouts) and stored straight into the padded rows. The pair
 * can read its planes through batch norm's apply (+ residual) and ReLU, writing
 * that output on the way; the quad (two images x two channels) stores both the
 * channel pairs and the image pairs. The portable path quantises each plane
 * into a buffer, takes both maxima in separate passes and interleaves row by
 * row: five passes and a call per row, where this is one. */
#include "dfp16_round_avx512.h"
#include "int_kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Batch norm's apply and ReLU (dfp_plane_bn_relu) on lanes m of 16 values at
 * flat index i, lanes off m 0; written to out too where it is set. */
static inline __m512 bn_relu16(__m512 x, __mmask16 m, __m512 scale, __m512 shift, const float *residual,
                               float *out, int64_t i)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(x, scale), shift);
    if (residual)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, residual + i));
    v = _mm512_maskz_mov_ps(m & _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLE_UQ), v);
    if (out)
        _mm512_mask_storeu_ps(out + i, m, v);
    return v;
}

/* 16 pairs p of flat pixels i .. i + len of a plane w < 16 wide stored row piece
 * by row piece into rows ld int16 apart. */
static inline void store_flat16(int16_t *d, int64_t ld, int64_t w, int64_t i, int64_t len, __m512i p)
{
    for (int64_t r = i / w; r * w < i + len; r++) {
        const int64_t lo = r * w > i ? r * w - i : 0, hi = (r + 1) * w < i + len ? (r + 1) * w - i : len;
        const __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
        /* lane l holds column i + l - r * w of row r */
        int32_t *row = (int32_t *)(void *)(d + r * ld);
        _mm512_mask_storeu_epi32(row + (i - r * w), m, p);
    }
}

/* The 16 pairs p of one step (pixels i .. i + len of a plane w wide) into rows ld
 * int16 apart: a masked store into row `row` when rows are w >= 16 wide (a step
 * never crosses a row), else row piece by row piece. */
static inline void store_step16(int16_t *d, int64_t ld, int64_t w, int64_t row, int64_t i, int64_t len,
                                __m512i p)
{
    if (w >= 16)
        _mm512_mask_storeu_epi32(d + row * ld + 2 * (i - row * w), (__mmask16)((1u << len) - 1), p);
    else
        store_flat16(d, ld, w, i, len, p);
}

/* Two int32 code vectors as pairs: a's code in the low half. */
static inline __m512i pack_pairs16(__m512i qa, __m512i qb)
{
    return _mm512_or_si512(_mm512_and_si512(qa, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(qb, 16));
}

/* Codes of 16 lanes (mask m; lanes off m hold x = 0 and stay 0), saturated
 * count added to *sat (NULL, a constant where inlined: not counted), |x| bits
 * folded into *xm; with bn (a constant where inlined), of bn_relu16(x). */
static inline __attribute__((always_inline)) __m512i
codes16(const float *x, __mmask16 m, __m512 inv, int rounding, __m512i lk, uint64_t index, __m512i *xm,
        int64_t *sat, int bn, __m512 scale, __m512 shift, const float *residual, float *out, int64_t i)
{
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    if (bn)
        v = bn_relu16(v, m, scale, shift, residual, out, i);
    *xm = _mm512_max_epu32(*xm, _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
    return dfp16_codes16(_mm512_mul_ps(v, inv), rounding, lk, index, sat);
}

/* What a pass over a plane pair tracks besides the codes: `exact` counts the
 * saturated lanes and takes the largest |code| lane by lane; the fast pass
 * leaves both to be derived from the planes' largest |x| (pair_bounds). */
typedef struct pair_acc {
    __m512i xma, xmb, qm;
    int64_t sat;
} pair_acc;

/* Batch norm's scale and shift of planes a and b, broadcast, and their residual
 * and output planes (bn_relu16). */
typedef struct pair_bn {
    __m512 sa, ta, sb, tb;
    const float *ra, *rb;
    float *oa, *ob;
} pair_bn;

/* The codes of plane a and b at flat indices i .. i + 15 (lanes of m) as pairs
 * (a's code in the low half), maxima and (exact) saturations folded in. */
static inline __attribute__((always_inline)) __m512i
pairs16(const float *a, const float *b, int64_t i, __mmask16 m, __m512 inva, __m512 invb, int rounding,
        __m512i lka, __m512i lkb, const dfp_quant_run *ra, const dfp_quant_run *rb, pair_acc *acc, int exact,
        int bn, const pair_bn *pb)
{
    int64_t *sat = exact ? &acc->sat : NULL;
    __m512i qa = codes16(a, m, inva, rounding, lka, ra->index0 + (uint64_t)i, &acc->xma, sat, bn, pb->sa,
                         pb->ta, pb->ra, pb->oa, i);
    __m512i qb = b ? codes16(b, m, invb, rounding, lkb, rb->index0 + (uint64_t)i, &acc->xmb, sat, bn,
                             pb->sb, pb->tb, pb->rb, pb->ob, i)
                   : _mm512_setzero_si512();
    if (exact || rounding == DFP_ROUND_STOCHASTIC) /* (nearest, biased: from the largest |x|) */
        acc->qm = _mm512_max_epi32(acc->qm, _mm512_max_epi32(_mm512_abs_epi32(qa), _mm512_abs_epi32(qb)));
    return pack_pairs16(qa, qb);
}

static inline __attribute__((always_inline)) void
plane_pair_pass(const float *a, const float *b, int64_t h, int64_t w, const dfp_quant_run *ra,
                const dfp_quant_run *rb, int16_t *d, int64_t ld, int rounding, int exact, int bn,
                const pair_bn *pb, pair_acc *acc)
{
    const __m512 inva = _mm512_set1_ps(ra->inv_scale), invb = _mm512_set1_ps(b ? rb->inv_scale : 0.0f);
    const __m512i lka = _mm512_set1_epi32((int)dfp_rng_lane_key(ra->key_lo, ra->key_hi, (uint32_t)(ra->index0 >> 32)));
    const __m512i lkb = b ? _mm512_set1_epi32((int)dfp_rng_lane_key(rb->key_lo, rb->key_hi, (uint32_t)(rb->index0 >> 32)))
                          : _mm512_setzero_si512();
    /* rows of w >= 16 pixels step by step, a masked last step per row; shorter
     * rows as one flat run of 16 values per step */
    const int64_t n = h * w, step = w >= 16 ? w : n;
    for (int64_t r0 = 0, row = 0; r0 < n; r0 += step, row++)
        for (int64_t c = 0; c < step; c += 16) {
            const int64_t i = r0 + c, len = step - c >= 16 ? 16 : step - c;
            __m512i p = pairs16(a, b, i, (__mmask16)((1u << len) - 1), inva, invb, rounding, lka, lkb, ra, rb,
                                acc, exact, bn, pb);
            store_step16(d, ld, w, row, i, len, p);
        }
}

/* From a plane's largest |x| (IEEE bits) and its run: whether some lane may have
 * saturated, and the largest |code| for nearest and biased rounding. Both are
 * monotone in |x| (and x * inv_scale is), so the largest |x| has the largest
 * |code|; a stochastic code is at most ceil(|x| * inv_scale). Inf or NaN: may
 * saturate (the exact pass then gives what the caller reports). */
static int pair_bounds(uint32_t xbits, const dfp_quant_run *run, int rounding, int32_t *qmax)
{
    if (xbits >= 0x7f800000U)
        return 1;
    float x;
    memcpy(&x, &xbits, sizeof x);
    const float y = x * run->inv_scale;
    const float r = rounding == DFP_ROUND_STOCHASTIC ? ceilf(y) : dfp16_round_scaled(y, rounding, 0.0f);
    if (r > DFP16_QMAX)
        return 1;
    *qmax = (int32_t)r;
    return 0;
}

static inline __attribute__((always_inline)) int64_t
plane_pair_mode(const float *a, const float *b, int64_t h, int64_t w, const dfp_quant_run *ra,
                const dfp_quant_run *rb, const dfp_plane_bn_relu *bnp, int16_t *d, int64_t ld, int32_t *qmax,
                uint32_t *xmax, int rounding, int bn)
{
    pair_bn pb = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), NULL, NULL,
                  NULL, NULL};
    if (bn)
        pb = (pair_bn){_mm512_set1_ps(bnp[0].scale), _mm512_set1_ps(bnp[0].shift),
                       _mm512_set1_ps(b ? bnp[1].scale : 0.0f), _mm512_set1_ps(b ? bnp[1].shift : 0.0f),
                       bnp[0].residual, b ? bnp[1].residual : NULL, bnp[0].out, b ? bnp[1].out : NULL};
    /* Saturation is rare (the exponent leaves `shift` bits of headroom): the
     * fast pass neither counts it nor, for nearest and biased, takes |code|
     * lane by lane; where the largest |x| says a lane may have saturated, the
     * exact pass runs over the pair again (the same codes: counter-based draws). */
    pair_acc acc = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), 0};
    plane_pair_pass(a, b, h, w, ra, rb, d, ld, rounding, 0, bn, &pb, &acc);
    const uint32_t xa = _mm512_reduce_max_epu32(acc.xma), xb = _mm512_reduce_max_epu32(acc.xmb);
    int32_t qa = 0, qb = 0, q;
    if (pair_bounds(xa, ra, rounding, &qa) || (b && pair_bounds(xb, rb, rounding, &qb))) {
        acc = (pair_acc){_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), 0};
        plane_pair_pass(a, b, h, w, ra, rb, d, ld, rounding, 1, bn, &pb, &acc);
        q = _mm512_reduce_max_epi32(acc.qm);
    } else {
        q = rounding == DFP_ROUND_STOCHASTIC ? _mm512_reduce_max_epi32(acc.qm) : (qa > qb ? qa : qb);
    }
    *qmax = q > *qmax ? q : *qmax;
    if (xmax) {
        uint32_t x = xa > xb ? xa : xb;
        *xmax = x > *xmax ? x : *xmax;
    }
    return acc.sat;
}

/* The plane quad (dfp_quantize_plane_quad_fn): planes x[2t + u] of image t,
 * channel u. One pass computes the four planes' codes 16 pixels at a time and
 * stores them as channel pairs (per image) and as image pairs (per channel). */
static inline __attribute__((always_inline)) void
plane_quad_pass(const float *const x[4], int64_t h, int64_t w, const dfp_quant_run r[4], int16_t *const dc[2],
                int64_t ldc, int16_t *const di[2], int64_t ldi, int rounding, int exact, __m512i xm[4], __m512i *qm,
                int64_t *sat)
{
    __m512 inv[4];
    __m512i lk[4];
    for (int k = 0; k < 4; k++) {
        inv[k] = _mm512_set1_ps(r[k].inv_scale);
        lk[k] = _mm512_set1_epi32((int)dfp_rng_lane_key(r[k].key_lo, r[k].key_hi, (uint32_t)(r[k].index0 >> 32)));
    }
    const __m512 zero = _mm512_setzero_ps();
    const int64_t n = h * w, step = w >= 16 ? w : n; /* as plane_pair_pass */
    for (int64_t r0 = 0, row = 0; r0 < n; r0 += step, row++)
        for (int64_t c = 0; c < step; c += 16) {
            const int64_t i = r0 + c, len = step - c >= 16 ? 16 : step - c;
            const __mmask16 m = (__mmask16)((1u << len) - 1);
            __m512i q[4];
            for (int k = 0; k < 4; k++) {
                q[k] = codes16(x[k], m, inv[k], rounding, lk[k], r[k].index0 + (uint64_t)i, &xm[k],
                               exact ? sat : NULL, 0, zero, zero, NULL, NULL, i);
                if (exact || rounding == DFP_ROUND_STOCHASTIC)
                    *qm = _mm512_max_epi32(*qm, _mm512_abs_epi32(q[k]));
            }
            const __m512i pc[2] = {pack_pairs16(q[0], q[1]), pack_pairs16(q[2], q[3])};
            const __m512i pi[2] = {pack_pairs16(q[0], q[2]), pack_pairs16(q[1], q[3])};
            for (int t = 0; t < 2; t++) {
                store_step16(dc[t], ldc, w, row, i, len, pc[t]);
                store_step16(di[t], ldi, w, row, i, len, pi[t]);
            }
        }
}

static inline __attribute__((always_inline)) int64_t
plane_quad_mode(const float *const x[4], int64_t h, int64_t w, const dfp_quant_run r[4], int16_t *const dc[2],
                int64_t ldc, int16_t *const di[2], int64_t ldi, int32_t *qmax, uint32_t *xmax, int rounding)
{
    /* fast pass, then the exact one where a lane may have saturated (as plane_pair_mode) */
    __m512i xm[4], qm = _mm512_setzero_si512();
    for (int k = 0; k < 4; k++)
        xm[k] = _mm512_setzero_si512();
    int64_t sat = 0;
    plane_quad_pass(x, h, w, r, dc, ldc, di, ldi, rounding, 0, xm, &qm, &sat);
    int32_t q = 0, qk;
    uint32_t xall = 0;
    int exact = 0;
    for (int k = 0; k < 4; k++) {
        const uint32_t xk = _mm512_reduce_max_epu32(xm[k]);
        xall = xk > xall ? xk : xall;
        exact |= pair_bounds(xk, &r[k], rounding, &qk);
        q = !exact && qk > q ? qk : q;
    }
    if (exact) {
        qm = _mm512_setzero_si512();
        plane_quad_pass(x, h, w, r, dc, ldc, di, ldi, rounding, 1, xm, &qm, &sat);
    }
    if (exact || rounding == DFP_ROUND_STOCHASTIC)
        q = _mm512_reduce_max_epi32(qm);
    *qmax = q > *qmax ? q : *qmax;
    if (xmax)
        *xmax = xall > *xmax ? xall : *xmax;
    return sat;
}

static int64_t quantize_plane_quad_avx512(const float *const x[4], int64_t h, int64_t w, const dfp_quant_run r[4],
                                          int16_t *const dc[2], int64_t ldc, int16_t *const di[2], int64_t ldi,
                                          int32_t *qmax, uint32_t *xmax)
{
    switch (r[0].rounding) {
    case DFP_ROUND_STOCHASTIC:
        return plane_quad_mode(x, h, w, r, dc, ldc, di, ldi, qmax, xmax, DFP_ROUND_STOCHASTIC);
    case DFP_ROUND_BIASED:
        return plane_quad_mode(x, h, w, r, dc, ldc, di, ldi, qmax, xmax, DFP_ROUND_BIASED);
    default:
        return plane_quad_mode(x, h, w, r, dc, ldc, di, ldi, qmax, xmax, DFP_ROUND_NEAREST);
    }
}

/* One instantiation per rounding mode and bn (constants inside the loops). */
#define PLANE_PAIR(mode, bn_on) \
    plane_pair_mode(a, b, h, w, ra, rb, bn, d, ld, qmax, xmax, mode, bn_on)

static int64_t quantize_plane_pair_avx512(const float *a, const float *b, int64_t h, int64_t w,
                                          const dfp_quant_run *ra, const dfp_quant_run *rb,
                                          const dfp_plane_bn_relu *bn, int16_t *d, int64_t ld, int32_t *qmax,
                                          uint32_t *xmax)
{
    switch (ra->rounding) {
    case DFP_ROUND_STOCHASTIC:
        return bn ? PLANE_PAIR(DFP_ROUND_STOCHASTIC, 1) : PLANE_PAIR(DFP_ROUND_STOCHASTIC, 0);
    case DFP_ROUND_BIASED:
        return bn ? PLANE_PAIR(DFP_ROUND_BIASED, 1) : PLANE_PAIR(DFP_ROUND_BIASED, 0);
    default:
        return bn ? PLANE_PAIR(DFP_ROUND_NEAREST, 1) : PLANE_PAIR(DFP_ROUND_NEAREST, 0);
    }
}

void dfp_quantize_pairs_kernels_init_avx512(dfp_int_kernels *k)
{
    k->quantize_plane_pair = quantize_plane_pair_avx512;
    k->quantize_plane_quad = quantize_plane_quad_avx512;
}
