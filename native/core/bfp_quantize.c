/* Block floating point quantiser (HBFP, MXINT), portable driver: the quantiser
 * feeds the integer GEMM's packed panels (mantissas + per-block scales).
 * Contract: dfpengine.h, dfp_bfp_quantize. Exact: scaling by a power of two
 * and rounding to an integer are exact FP32 steps for |k| < 2^24. Per block:
 * the kernel table's absmax_bits (which also finds NaN/inf), the exponent here,
 * then its bfp_block kernel; stochastic bits are keyed by element index
 * r*cols + c, so results do not depend on ISA or thread count. */
#include "kernel_table.h"
#include "emu_kernels.h"
#include "bfp_quantize.h"

#include <math.h>
#include <stdlib.h>

/* Exponent E of a block from its largest magnitude (> 0, finite): floor or
 * ceil of log2. Normal floats read it from the bits (a frexpf call per block of
 * 64 was a tenth of the quantiser); subnormals take frexpf. */
static int block_exponent(uint32_t amax_bits, int floor_exponent)
{
    int e;
    float f;
    if (amax_bits >= 0x00800000u) {
        e = (int)(amax_bits >> 23) - 126;                           /* amax = f * 2^e, f in [0.5, 1) */
        f = (amax_bits & 0x007fffffu) == 0 ? 0.5f : 0.75f;     /* only f == 0.5 matters */
    } else {
        f = frexpf(dfp_bits_f32(amax_bits), &e);
    }
    if (floor_exponent)
        return e - 1;
    return f == 0.5f ? e - 1 : e;
}

int32_t dfp_bfp_scale_exp(uint32_t amax_bits, const dfp_bfp_args *a)
{
    int e = amax_bits != 0 ? block_exponent(amax_bits, a->floor_exponent) : 0;
    /* MX (floor E): the largest element has k in [2^(m-1), 2^m), so it stays
     * representable (OCP MXINT8: k * 2^(E-6), |k| <= 127). HBFP (ceil E):
     * k * 2^(E-m) as in the Accuracy Boosters code. */
    return a->floor_exponent ? e - (a->mag_bits - 1) : e - a->mag_bits;
}

/* One block; returns 0, or 1 when it holds a NaN or inf. */
int dfp_bfp_quantize_block(const float *x, int64_t r, int64_t c0, int64_t len, const dfp_bfp_args *a,
                           int16_t *mant, int32_t *scale_exp, float *y)
{
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    uint32_t amax_bits = kern->absmax_bits(x, len);
    if (amax_bits >= DFP_F32_INF_BITS)
        return 1;
    dfp_bfp_block b = {dfp_bfp_scale_exp(amax_bits, a), (float)((1 << a->mag_bits) - 1),
                       a->stochastic, a->key, dfp_bfp_index(a, r, c0)};
    kern->bfp_block(&b, x, len, mant, y);
    if (scale_exp)
        *scale_exp = b.scale_exp;
    return 0;
}

dfp_bfp_args dfp_bfp_args_of(int block, int mag_bits, int floor_exponent, dfp_rounding rounding,
                             uint64_t seed, uint64_t stream, int64_t cols)
{
    dfp_bfp_args a = {block, mag_bits, floor_exponent != 0, rounding == DFP_ROUND_STOCHASTIC,
                      dfp_rng_key(seed, stream), cols, 0, 0};
    return a;
}

dfp_status dfp_bfp_check_args(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                                 int mag_bits, dfp_rounding rounding)
{
    if (rows < 0 || cols < 0 || ldx < (cols > 1 ? cols : 1) || block < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (mag_bits < 1 || mag_bits > 15)
        return DFP_ERR_INVALID_ARGUMENT;
    if (rounding != DFP_ROUND_NEAREST && rounding != DFP_ROUND_STOCHASTIC)
        return DFP_ERR_INVALID_ARGUMENT;
    if (rows * cols > 0 && !x)
        return DFP_ERR_NULL_POINTER;
    return DFP_OK;
}

dfp_status dfp_bfp_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                            int mag_bits, int floor_exponent, dfp_rounding rounding,
                            uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp,
                            float *y)
{
    if (!mant && !scale_exp && !y)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = dfp_bfp_check_args(x, rows, cols, ldx, block, mag_bits, rounding);
    if (st != DFP_OK)
        return st;
    const dfp_bfp_args a = dfp_bfp_args_of(block, mag_bits, floor_exponent, rounding, seed, stream, cols);
    const int64_t nblocks = (cols + block - 1) / block;
    int not_finite = 0;
#pragma omp parallel for schedule(static) reduction(| : not_finite) \
    num_threads(dfp_threads_for_work(rows * cols / 16384))
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t c0 = b * block, len = cols - c0 < block ? cols - c0 : block;
            int64_t o = r * cols + c0;
            not_finite |= dfp_bfp_quantize_block(x + r * ldx + c0, r, c0, len, &a, mant ? mant + o : NULL,
                                         scale_exp ? scale_exp + r * nblocks + b : NULL,
                                         y ? y + o : NULL);
        }
    return not_finite ? DFP_ERR_NOT_FINITE : DFP_OK;
}

#define TILE_ROWS 16 /* rows of X gathered per tile: one 64-byte line of x per column */

dfp_status dfp_bfp_quantize_transposed(const float *x, int64_t rows, int64_t cols, int64_t ldx,
                                       int block, int mag_bits, int floor_exponent,
                                       dfp_rounding rounding, uint64_t seed, uint64_t stream,
                                       int16_t *mant, int32_t *scale_exp, float *y)
{
    if (!mant && !scale_exp && !y)
        return DFP_ERR_NULL_POINTER;
    if (ldx < (rows > 1 ? rows : 1))
        return DFP_ERR_INVALID_SHAPE;
    /* dfp_bfp_check_args tests ldx against cols; the stored matrix here is cols x rows */
    dfp_status st = dfp_bfp_check_args(x, rows, cols, cols > 1 ? cols : 1, block, mag_bits, rounding);
    if (st != DFP_OK)
        return st;
    const dfp_bfp_args a = dfp_bfp_args_of(block, mag_bits, floor_exponent, rounding, seed, stream, cols);
    const int64_t nblocks = (cols + block - 1) / block;
    const int64_t ntiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
    int not_finite = 0, failed = 0;
    /* The quantiser wants each block contiguous: gather a TILE_ROWS x block tile
     * of X (reading whole cache lines of x), then quantise its rows; the element
     * indices, hence the stochastic draws, are those of the contiguous X. */
#pragma omp parallel num_threads(dfp_threads_for_work(rows * cols / 16384)) \
    reduction(| : not_finite) reduction(| : failed)
    {
        float *buf = malloc((size_t)TILE_ROWS * (size_t)block * sizeof(float));
        failed = buf == NULL;
#pragma omp for schedule(static)
        for (int64_t t = 0; t < ntiles; t++) {
            if (!buf)
                continue;
            const int64_t r0 = t * TILE_ROWS, nr = rows - r0 < TILE_ROWS ? rows - r0 : TILE_ROWS;
            for (int64_t b = 0; b < nblocks; b++) {
                const int64_t c0 = b * block, len = cols - c0 < block ? cols - c0 : block;
                dfp_bfp_gather_transposed(x, ldx, r0, nr, c0, len, buf);
                for (int64_t r = 0; r < nr; r++) {
                    const int64_t o = (r0 + r) * cols + c0;
                    not_finite |= dfp_bfp_quantize_block(buf + r * len, r0 + r, c0, len, &a,
                                                 mant ? mant + o : NULL,
                                                 scale_exp ? scale_exp + (r0 + r) * nblocks + b : NULL,
                                                 y ? y + o : NULL);
                }
            }
        }
        free(buf);
    }
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    return not_finite ? DFP_ERR_NOT_FINITE : DFP_OK;
}
