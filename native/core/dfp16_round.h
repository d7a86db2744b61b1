/* Scalar definition of DFP16 rounding of one element: the reference every SIMD
 * quantiser must match bit for bit (SIMD kernels also use it for tails).
 * y = x * inv_scale is exact (inv_scale is a power of two). The rounded value is
 * clamped to the symmetric range [-32767, 32767]: -32768 is never produced, so
 * negation is exact and one VNNI pair of products, 2 * 32767^2, fits INT32. */
#ifndef DFP_DFP16_ROUND_H
#define DFP_DFP16_ROUND_H

#include <math.h>
#include <stdint.h>

#include "dfpengine.h"
#include "int_kernels.h"
#include "rng_counter.h"

#define DFP16_QMAX 32767.0f

/* Uniform in [0, 1) with 24 random bits: exact in float. */
static inline float dfp_uniform24(uint32_t bits) { return (float)(bits >> 8) * 0x1p-24f; }

/* Round y (already scaled) to an integer-valued float, before saturation. */
static inline float dfp16_round_scaled(float y, int rounding, float u)
{
    if (rounding == DFP_ROUND_STOCHASTIC) {
        float f = floorf(y);
        return (u < y - f) ? f + 1.0f : f; /* P(up) = dropped fraction: unbiased */
    }
    if (rounding == DFP_ROUND_BIASED) {
        float m = fabsf(y), t = floorf(m);
        float r = (m - t >= 0.25f) ? t + 1.0f : t; /* on the magnitude: sign-symmetric */
        return copysignf(r, y);
    }
    return nearbyintf(y); /* default FP environment: ties to even */
}

/* One element: rounded, saturated int16; *sat += 1 when clamped. */
static inline int16_t dfp16_quantize_one(float x, float inv_scale, int rounding, float u,
                                         int64_t *sat)
{
    float r = dfp16_round_scaled(x * inv_scale, rounding, u);
    if (r > DFP16_QMAX) {
        r = DFP16_QMAX;
        (*sat)++;
    } else if (r < -DFP16_QMAX) {
        r = -DFP16_QMAX;
        (*sat)++;
    }
    return (int16_t)r;
}

/* Quantise x[begin..n) of one run element by element: the whole scalar
 * kernel, and the tail of every SIMD kernel. Returns the saturation count. */
static inline int64_t dfp16_quantize_span(const float *x, int64_t begin, int64_t n,
                                          const dfp_quant_run *run, int16_t *q)
{
    int64_t sat = 0;
    for (int64_t i = begin; i < n; i++) {
        float u = 0.0f;
        if (run->rounding == DFP_ROUND_STOCHASTIC)
            u = dfp_uniform24(dfp_rng_bits(run->key_lo, run->key_hi, run->index0 + (uint64_t)i));
        q[i] = dfp16_quantize_one(x[i], run->inv_scale, run->rounding, u, &sat);
    }
    return sat;
}

#endif
