/* AVX-512 peak-rate chains: 12 independent zmm chains per type. */
#include "peak_kernels.h"

#include <immintrin.h>

#define CHAINS 12

static double fma_f32_avx512(int64_t iters)
{
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f), acc[CHAINS];
    __asm__ volatile("" : "+v"(x), "+v"(y));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    for (int i = 1; i < CHAINS; i++)
        acc[0] = _mm512_add_ps(acc[0], acc[i]);
    __asm__ volatile("" : : "v"(acc[0]));
    return 2.0 * 16 * CHAINS * (double)iters;
}

/* vpmaddwd + vpaddd on zmm (AVX-512BW without VNNI); the multiply reads its
 * chain's accumulator so it cannot be hoisted (see peak_avx2.c). */
static double madd_s16_avx512(int64_t iters)
{
    __m512i y = _mm512_set1_epi16(5), acc[CHAINS];
    __asm__ volatile("" : "+v"(y));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm512_set1_epi32(i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm512_add_epi32(acc[i], _mm512_madd_epi16(acc[i], y));
    for (int i = 1; i < CHAINS; i++)
        acc[0] = _mm512_add_epi32(acc[0], acc[i]);
    __asm__ volatile("" : : "v"(acc[0]));
    return 2.0 * 32 * CHAINS * (double)iters;
}

void dfp_peak_kernels_init_avx512(dfp_peak_kernels *k)
{
    k->fma_f32 = fma_f32_avx512;
    k->madd_s16 = madd_s16_avx512;
}
