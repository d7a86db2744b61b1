/* VNNI peak-rate chain: 12 independent vpdpwssd accumulators (latency 5 x 2
 * ports covered). Each instruction is 32 multiply-adds = 64 integer ops. */
#include "peak_kernels.h"

#include <immintrin.h>

#define CHAINS 12

static double madd_s16_vnni(int64_t iters)
{
    __m512i x = _mm512_set1_epi16(3), y = _mm512_set1_epi16(5), acc[CHAINS];
    __asm__ volatile("" : "+v"(x), "+v"(y));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_epi32(i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_dpwssd_epi32(acc[i], x, y);
    for (int i = 1; i < CHAINS; i++)
        acc[0] = _mm512_add_epi32(acc[0], acc[i]);
    __asm__ volatile("" : : "v"(acc[0]));
    return 2.0 * 32 * CHAINS * (double)iters;
}

void dfp_peak_kernels_init_avx512_vnni(dfp_peak_kernels *k)
{
    k->madd_s16 = madd_s16_vnni;
}
