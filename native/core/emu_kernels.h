/* Float-emulation kernel slots of the kernel table: rounding FP32 onto a
 * narrow float grid, and the micro-kernel of the emulated low-precision GEMM.
 *
 * Micro-kernel contract (every ISA, bit-identical to the scalar reference):
 * - a_panel: k x MR floats, lane-contiguous (a_panel[t * MR + i] = op(A)[i0+i, t]),
 *   rows past the matrix edge zero; b_panel: k x NR floats (b_panel[t * NR + j]).
 * - c_tile: NR x MR floats, column j of the tile at c_tile + j * MR.
 * - Each of the MR x NR outputs does its own sequential K loop with the chunk
 *   rule of dfp_gemm_fpemu: s = p_first; s = acc(s + p) inside a chunk; total =
 *   acc(total + s). Products and sums are single FP32 operations (no FMA), then
 *   the exact integer rounding of float_round.h, so SIMD lanes equal scalar.
 * - Stochastic adds draw from key dfp_rng_key(key_add, t) (rng_counter.h) (t = K index) or
 *   dfp_rng_key(key_total, chunk number), at element index (j0+j)*m + i0+i.
 * gemm_ukernel_nearest: the same results for nearest accumulation rounding,
 * under preconditions the driver checks (fpemu_gemm.c, fast_nearest_ok): every
 * product is exact in FP32 (so a fused multiply-add equals mul then add), the
 * accumulator format's grid step times 2^23 is a finite FP32 value, and no
 * partial sum can reach the accumulator's largest value (no saturation, no
 * inf/NaN). Then rounding v to nearest-even is (v + C) - C with
 * C = +-2^(max(e_v, emin) + 23 - man_bits) of v's sign (C's FP32 ulp is v's grid
 * step), sign restored for zeros: a few vector instructions instead of the
 * general integer rounding. With acc->on_grid (FP8 inputs, FP16 accumulator)
 * sums below the smallest normal are already on the grid (so no emin clamp is
 * needed), a -0 partial sum only ever meets +0 + -0 = +0 at the chunk total (no
 * sign fix), and rounding to man + 1 significant bits may be done by
 * Veltkamp's split, g = (2^(23 - man) + 1) * v, g + (v - g), which rounds to
 * nearest-even (checked exhaustively for every man and every FP32 below the
 * bound). The scalar reference uses its exact kernel. */
#ifndef DFP_EMU_KERNELS_H
#define DFP_EMU_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "float_round.h"
#include "rng_counter.h"

typedef struct dfp_fpemu_acc {
    dfp_fmt_consts fmt;   /* accumulator format */
    int stochastic;       /* rounding of every add */
    int64_t chunk;        /* products per chunk, >= 1 */
    uint64_t key_add;
    uint64_t key_total;
    int64_t m;            /* rows of C, for element indices */
    int on_grid;          /* gemm_ukernel_nearest only: every product is a multiple of the
                           * accumulator's subnormal step (>= 2^-126), so sums below its
                           * smallest normal are exact and zeros' signs never reach C */
    int from_tile;        /* the totals start from c_tile (sums of earlier K slices, on the
                           * accumulator's grid), not from +0 */
} dfp_fpemu_acc;

/* y[i] = round(x[i]); stochastic bits from (key, index0 + i * stride): rows of
 * packed panels round with the element indices of the unpacked operand. */
typedef void (*dfp_fpemu_round_fn)(const dfp_fmt_consts *c, int stochastic, uint64_t key,
                                   uint64_t index0, uint64_t stride, const float *x, float *y,
                                   int64_t n);

typedef void (*dfp_fpemu_ukernel_fn)(int64_t k, const float *a_panel, const float *b_panel,
                                     float *c_tile, int64_t i0, int64_t j0,
                                     const dfp_fpemu_acc *acc);

/* One block of the block-floating-point quantiser (bfp_quantize.c): k =
 * round(x * 2^-scale_exp) (nearest-even, or stochastic: up if rnd < frac * 2^16
 * with rnd = dfp_bfp_draw16(key, index0, i)), clamped to +-kmax; mant[i] = k
 * and/or y[i] = k * 2^scale_exp (either may be NULL). */
typedef struct dfp_bfp_block {
    int32_t scale_exp;
    float kmax;
    int stochastic;
    uint64_t key, index0;
} dfp_bfp_block;

/* Largest |x[i]| as FP32 bits (integer max: any NaN gives more than inf bits). */
typedef uint32_t (*dfp_absmax_bits_fn)(const float *x, int64_t n);
typedef void (*dfp_bfp_block_fn)(const dfp_bfp_block *b, const float *x, int64_t n,
                                 int16_t *mant, float *y);

/* K-major block quantisation (the BFP packer's path for operands stored
 * transposed, e.g. im2col columns): up to DFP_BFP_LANES rows at once, element
 * t of row r's block at x[t * ldx + r] (or x[toff[t] + r] when toff is not
 * NULL: taps of an image read in place), so one row of the source feeds every
 * lane and no transposing gather is needed. Row r's block is quantised as
 * dfp_bfp_block_fn quantises it with scale_exp[r] and index0[r]. */
#define DFP_BFP_LANES 16

typedef struct dfp_bfp_lanes {
    int rows;                           /* lanes in use, 1 .. DFP_BFP_LANES */
    int32_t scale_exp[DFP_BFP_LANES];
    uint64_t index0[DFP_BFP_LANES];     /* stochastic index of each row's element t = 0 */
    float kmax;
    int stochastic;
    uint64_t key;
} dfp_bfp_lanes;

/* amax[r] = largest |x| bits of row r's len elements (as dfp_absmax_bits_fn). */
typedef void (*dfp_absmax_kmajor_fn)(const float *x, int64_t ldx, const int64_t *toff, int rows,
                                     int64_t len, uint32_t *amax);
/* Codes of each row's block, written as VNNI pairs: code t of row r at
 * ((int16_t *)pairs)[((t / 2) * ld + r) * 2 + t % 2]; with odd len the last
 * pair's upper half is written 0. */
typedef void (*dfp_bfp_block_kmajor_fn)(const dfp_bfp_lanes *b, const float *x, int64_t ldx,
                                        const int64_t *toff, int64_t len, int32_t *pairs, int64_t ld);

/* Where element t of a k-major block's rows starts. */
static inline const float *dfp_kmajor_row(const float *x, int64_t ldx, const int64_t *toff, int64_t t)
{
    return x + (toff ? toff[t] : t * ldx);
}

/* A block of up to DFP_BFP_LANES rows gathered k-major for the kernels above
 * (the BFP packer's path for row-major operands, and for im2col rows read
 * from the image): element t of row r is rowp[r][off[t / 16] + t % 16], i.e.
 * runs of 16 contiguous floats at offsets off[] from each row's start (the
 * last run is len % 16 long when 16 does not divide len). Writes
 * buf[t * DFP_BFP_LANES + r] for t < len, r < rows (lanes past rows are left
 * undefined) and amax[r], the row's largest |x| as FP32 bits (as
 * dfp_absmax_bits_fn): the quantiser then needs no pass of its own for it. */
#define DFP_BFP_RUN 16
typedef void (*dfp_runs_to_lanes_fn)(const float *const *rowp, const int64_t *off, int rows,
                                     int64_t len, float *buf, uint32_t *amax);

/* The BFP GEMM's flush of one micro-tile of exact block sums (bfp_gemm.c):
 * tot[i * ldt + j] += blk[i * ldb + j] * 2^(ea[i * lde] + eb[j]) for i < rows,
 * j < cols. The product is the exact power-of-two scaling ldexpf gives (an
 * integer-valued blk times a normal 2^e never lands in the subnormal range),
 * then one FP32 add; with `first` the add is to +0 (tot's first block: no
 * zeroing pass, and the same +0 + x as a zeroed tot). */
typedef void (*dfp_bfp_scale_add_fn)(const float *blk, int64_t ldb, const int32_t *ea, int64_t lde,
                                     const int32_t *eb, int64_t rows, int64_t cols, float *tot,
                                     int64_t ldt, int first);

typedef struct dfp_emu_kernels {
    dfp_fpemu_round_fn round;
    dfp_fpemu_ukernel_fn gemm_ukernel;
    dfp_fpemu_ukernel_fn gemm_ukernel_nearest; /* same mr x nr; see the contract above */
    int mr, nr;            /* register block of both micro-kernels */
    dfp_absmax_bits_fn absmax_bits;
    dfp_bfp_block_fn bfp_block;
    dfp_absmax_kmajor_fn absmax_kmajor;
    dfp_bfp_block_kmajor_fn bfp_block_kmajor;
    dfp_runs_to_lanes_fn runs_to_lanes;
    dfp_bfp_scale_add_fn bfp_scale_add;
} dfp_emu_kernels;

void dfp_emu_kernels_init_scalar(dfp_emu_kernels *k);
void dfp_emu_kernels_init_avx2(dfp_emu_kernels *k);
void dfp_emu_kernels_init_avx512(dfp_emu_kernels *k);

/* Random bits of element `index` under a 64-bit key from dfp_rng_key (rng_counter.h). */
static inline uint32_t dfp_fpemu_rng(uint64_t key, uint64_t index)
{
    return dfp_rng_bits((uint32_t)key, (uint32_t)(key >> 32), index);
}

/* Low and high 32-bit halves of the indices base + l * stride, l < lanes, for
 * SIMD stochastic rounding of strided elements. */
static inline void dfp_fpemu_index_halves(uint64_t base, uint64_t stride, int lanes, uint32_t *lo,
                                          uint32_t *hi)
{
    for (int l = 0; l < lanes; l++) {
        uint64_t idx = base + (uint64_t)l * stride;
        lo[l] = (uint32_t)idx;
        hi[l] = (uint32_t)(idx >> 32);
    }
}

/* 2^p when it is a normal float, else 0 (callers then use ldexpf). Multiplying
 * by an exact power of two rounds exactly as ldexpf does. */
static inline float dfp_pow2_or_zero(int32_t p)
{
    return p >= -126 && p <= 127 ? dfp_bits_f32((uint32_t)(p + 127) << 23) : 0.0f;
}

/* The stochastic-rounding draw of element i of a block starting at index0:
 * 16 random bits, two per generator call (elements 2m and 2m + 1 take the low
 * and high halves of the bits of index index0 + 2m). The generator's four
 * multiplies per call took about a fifth of an HBFP training step; 16 bits set the
 * round-up probability to within 2^-16 of a code step, far finer than any
 * block format's own step. Indices hashed stay inside the block's own index
 * range, so distinct blocks never share bits. */
static inline uint32_t dfp_bfp_draw16(uint64_t key, uint64_t index0, uint64_t i)
{
    return dfp_fpemu_rng(key, index0 + (i & ~(uint64_t)1)) >> (16u * (uint32_t)(i & 1u)) & 0xffffu;
}

/* Code of element x, the i-th of block b (down = dfp_pow2_or_zero(-b->scale_exp)):
 * the scalar reference's step of dfp_bfp_block_fn. Stochastic: floor(v + u)
 * with u = draw * 2^-16 in [0, 1): up with probability frac to within 2^-16
 * (the sum's one FP32 rounding moves it by at most an ulp of v, 2^-17 at 7
 * magnitude bits). The SIMD kernels get the same sum from an FMA of the exact
 * product draw * 2^-16, so one FMA and one round-down conversion replace the
 * six operations of comparing the draw with frac. */
static inline int32_t dfp_bfp_code(const dfp_bfp_block *b, float down, float x, uint64_t i)
{
    float v = down != 0.0f ? x * down : ldexpf(x, -b->scale_exp), k;
    if (b->stochastic)
        k = floorf(v + (float)dfp_bfp_draw16(b->key, b->index0, i) * 0x1p-16f);
    else
        k = nearbyintf(v); /* default FP environment: ties to even */
    return (int32_t)(k > b->kmax ? b->kmax : (k < -b->kmax ? -b->kmax : k));
}

/* dfp_bfp_block_fn on elements [i0, n): the scalar reference, also the tail
 * and out-of-range fallback of the SIMD kernels. */
static inline void dfp_bfp_block_span(const dfp_bfp_block *b, const float *x, int64_t i0,
                                      int64_t n, int16_t *mant, float *y)
{
    const float down = dfp_pow2_or_zero(-b->scale_exp), up = dfp_pow2_or_zero(b->scale_exp);
    for (int64_t i = i0; i < n; i++) {
        int32_t k = dfp_bfp_code(b, down, x[i], (uint64_t)i);
        if (mant)
            mant[i] = (int16_t)k;
        if (y)
            y[i] = up != 0.0f ? (float)k * up : ldexpf((float)k, b->scale_exp);
    }
}

/* dfp_bfp_block_kmajor_fn: the scalar reference, also the SIMD kernels' fallback. */
static inline void dfp_bfp_kmajor_span(const dfp_bfp_lanes *b, const float *x, int64_t ldx,
                                       const int64_t *toff, int64_t len, int32_t *pairs, int64_t ld)
{
    int16_t *out = (int16_t *)(void *)pairs;
    for (int r = 0; r < b->rows; r++) {
        const dfp_bfp_block blk = {b->scale_exp[r], b->kmax, b->stochastic, b->key, b->index0[r]};
        const float down = dfp_pow2_or_zero(-blk.scale_exp);
        for (int64_t t = 0; t < len; t++)
            out[((t / 2) * ld + r) * 2 + t % 2] =
                (int16_t)dfp_bfp_code(&blk, down, dfp_kmajor_row(x, ldx, toff, t)[r], (uint64_t)t);
        if (len % 2)
            out[((len / 2) * ld + r) * 2 + 1] = 0;
    }
}

static inline uint32_t dfp_absmax_bits_span(const float *x, int64_t i0, int64_t n, uint32_t mx)
{
    for (int64_t i = i0; i < n; i++) {
        uint32_t u = dfp_f32_bits(x[i]) & DFP_F32_ABS_MASK;
        mx = u > mx ? u : mx;
    }
    return mx;
}

/* v * 2^e as ldexpf rounds it: a multiply by 2^e built from its bits when that
 * is a normal float (a libm call per block sum was the cost). */
static inline float dfp_scale_pow2(float v, int32_t e)
{
    float p = dfp_pow2_or_zero(e);
    return p != 0.0f ? v * p : ldexpf(v, (int)e);
}

/* dfp_bfp_scale_add_fn on columns [j0, cols) of one row: the scalar reference,
 * also the SIMD kernels' tail. */
static inline void dfp_bfp_scale_add_span(const float *blk, int32_t ea, const int32_t *eb,
                                          int64_t j0, int64_t cols, float *tot, int first)
{
    for (int64_t j = j0; j < cols; j++)
        tot[j] = (first ? 0.0f : tot[j]) + dfp_scale_pow2(blk[j], ea + eb[j]);
}

/* dfp_runs_to_lanes_fn from element t0 on, amax continuing from its values:
 * the scalar reference and the SIMD tails. */
static inline void dfp_runs_to_lanes_span(const float *const *rowp, const int64_t *off, int rows,
                                          int64_t t0, int64_t len, float *buf, uint32_t *amax)
{
    for (int64_t t = t0; t < len; t++)
        for (int r = 0; r < rows; r++) {
            const float v = rowp[r][off[t / DFP_BFP_RUN] + t % DFP_BFP_RUN];
            const uint32_t u = dfp_f32_bits(v) & DFP_F32_ABS_MASK;
            buf[t * DFP_BFP_LANES + r] = v;
            amax[r] = u > amax[r] ? u : amax[r];
        }
}

static inline void dfp_absmax_kmajor_span(const float *x, int64_t ldx, const int64_t *toff, int rows,
                                          int64_t len, uint32_t *amax)
{
    for (int r = 0; r < rows; r++) {
        uint32_t mx = 0;
        for (int64_t t = 0; t < len; t++) {
            uint32_t u = dfp_f32_bits(dfp_kmajor_row(x, ldx, toff, t)[r]) & DFP_F32_ABS_MASK;
            mx = u > mx ? u : mx;
        }
        amax[r] = mx;
    }
}

/* Chunk-rule helpers shared by the micro-kernels. */
static inline int64_t dfp_fpemu_chunk_end(int64_t start, int64_t chunk, int64_t k)
{
    return k - start < chunk ? k : start + chunk;
}

#endif
