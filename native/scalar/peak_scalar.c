/* Scalar peak-rate chains (the reference level has no SIMD): eight independent
 * multiply-add chains per type, enough to cover the latency of one ALU. */
#include "peak_kernels.h"

#define CHAINS 8

static double fma_f32_scalar(int64_t iters)
{
    volatile float seed = 0.999f;
    float x = seed, y = 1e-3f, acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = (float)i;
    for (int64_t it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = acc[i] * x + y;
    float sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += acc[i];
    seed = sink;
    return 2.0 * CHAINS * (double)iters;
}

static double madd_s16_scalar(int64_t iters)
{
    /* acc = acc * x + y (unsigned: wraps by definition) keeps every step
     * dependent on the last, so the compiler cannot sum the loop in closed form. */
    volatile uint32_t seed = 3;
    uint32_t x = seed, y = 5, acc[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        acc[i] = (uint32_t)i;
    for (int64_t it = 0; it < iters; it++)
        for (int i = 0; i < CHAINS; i++)
            acc[i] = acc[i] * x + y;
    uint32_t sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += acc[i];
    seed = sink;
    return 2.0 * CHAINS * (double)iters;
}

void dfp_peak_kernels_init_scalar(dfp_peak_kernels *k)
{
    k->fma_f32 = fma_f32_scalar;
    k->madd_s16 = madd_s16_scalar;
}
