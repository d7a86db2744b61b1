/* Block floating point quantiser (HBFP, MXINT), portable: the quantiser
 * feeds the integer GEMM's packed panels (mantissas + per-block scales).
 * Contract: dfpengine.h, dfp_bfp_quantize. Exact: scaling by a power of two
 * and rounding to an integer are exact FP32 steps for |k| < 2^24. */
#include "kernel_table.h"
#include "emu_kernels.h"

#include <math.h>

typedef struct bfp_args {
    int block, mag_bits, floor_exponent, stochastic;
    uint64_t key;
    int64_t cols;
} bfp_args;

/* Exponent E of a block from its largest magnitude (> 0). */
static int block_exponent(float amax, int floor_exponent)
{
    int e;
    float f = frexpf(amax, &e); /* amax = f * 2^e, f in [0.5, 1) */
    if (floor_exponent)
        return e - 1;
    return f == 0.5f ? e - 1 : e;
}

static float round_to_int(float v, int stochastic, uint32_t rnd)
{
    if (!stochastic)
        return nearbyintf(v); /* default FP environment: ties to even */
    float fl = floorf(v);
    return fl + (float)((double)rnd < (double)(v - fl) * 4294967296.0);
}

/* 2^p when it is a normal float, else 0 (callers then use ldexpf). Multiplying
 * by an exact power of two rounds exactly as ldexpf does (both are the correctly
 * rounded x * 2^p), and a per-element libm ldexpf call dominated HBFP step time. */
static float pow2_or_zero(int p)
{
    return p >= -126 && p <= 127 ? ldexpf(1.0f, p) : 0.0f;
}

static void quantize_block(const float *x, int64_t r, int64_t c0, int64_t len, const bfp_args *a,
                           int16_t *mant, int32_t *scale_exp, float *y)
{
    float amax = 0.0f;
    for (int64_t c = 0; c < len; c++)
        amax = fabsf(x[c]) > amax ? fabsf(x[c]) : amax;
    int e = amax > 0.0f ? block_exponent(amax, a->floor_exponent) : 0;
    /* MX (floor E): the largest element has k in [2^(m-1), 2^m), so it stays
     * representable (OCP MXINT8: k * 2^(E-6), |k| <= 127). HBFP (ceil E):
     * k * 2^(E-m) as in the Accuracy Boosters code. */
    int s = a->floor_exponent ? e - (a->mag_bits - 1) : e - a->mag_bits;
    float kmax = (float)((1 << a->mag_bits) - 1);
    const float down = pow2_or_zero(-s), up = pow2_or_zero(s);
    for (int64_t c = 0; c < len; c++) {
        uint64_t idx = (uint64_t)(r * a->cols + c0 + c);
        uint32_t rnd = a->stochastic ? dfp_fpemu_rng(a->key, idx) : 0u;
        float k = round_to_int(down != 0.0f ? x[c] * down : ldexpf(x[c], -s), a->stochastic, rnd);
        k = k > kmax ? kmax : (k < -kmax ? -kmax : k);
        if (mant)
            mant[c] = (int16_t)k;
        if (y)
            y[c] = up != 0.0f ? k * up : ldexpf(k, s);
    }
    if (scale_exp)
        *scale_exp = s;
}

static dfp_status check_bfp_args(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                                 int mag_bits, dfp_rounding rounding, const void *mant,
                                 const void *y)
{
    if (rows < 0 || cols < 0 || ldx < (cols > 1 ? cols : 1) || block < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (mag_bits < 1 || mag_bits > 15)
        return DFP_ERR_INVALID_ARGUMENT;
    if (rounding != DFP_ROUND_NEAREST && rounding != DFP_ROUND_STOCHASTIC)
        return DFP_ERR_INVALID_ARGUMENT;
    if (rows * cols > 0 && !x)
        return DFP_ERR_NULL_POINTER;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            if (!isfinite(x[r * ldx + c]))
                return DFP_ERR_NOT_FINITE;
    return DFP_OK;
}

dfp_status dfp_bfp_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                            int mag_bits, int floor_exponent, dfp_rounding rounding,
                            uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp,
                            float *y)
{
    if (!mant && !scale_exp && !y)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = check_bfp_args(x, rows, cols, ldx, block, mag_bits, rounding, mant, y);
    if (st != DFP_OK)
        return st;
    const bfp_args a = {block, mag_bits, floor_exponent != 0, rounding == DFP_ROUND_STOCHASTIC,
                        dfp_rng_key(seed, stream), cols};
    const int64_t nblocks = (cols + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(rows * cols / 65536))
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < nblocks; b++) {
            int64_t c0 = b * block, len = cols - c0 < block ? cols - c0 : block;
            int64_t o = r * cols + c0;
            quantize_block(x + r * ldx + c0, r, c0, len, &a, mant ? mant + o : NULL,
                           scale_exp ? scale_exp + r * nblocks + b : NULL, y ? y + o : NULL);
        }
    return DFP_OK;
}
