/* AVX2 peak-rate chains: 12 independent ymm chains (FMA latency 4 x 2 ports,
 * with room to spare). The empty asm hides the operands from the optimiser so
 * the loop cannot be folded. */
#include "peak_kernels.h"

#include <immintrin.h>

#define CHAINS 12

static double fma_f32_avx2(int64_t iters)
{
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f), acc[CHAINS];
    __asm__ volatile("" : "+x"(x), "+x"(y));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    for (int i = 1; i < CHAINS; i++)
        acc[0] = _mm256_add_ps(acc[0], acc[i]);
    __asm__ volatile("" : : "x"(acc[0]));
    return 2.0 * 8 * CHAINS * (double)iters;
}

/* vpmaddwd + vpaddd: the int16 multiply-add without VNNI. The multiply reads
 * its chain's accumulator: with loop-invariant operands GCC hoisted it and the
 * loop timed vpaddd alone (an inflated peak). */
static double madd_s16_avx2(int64_t iters)
{
    __m256i y = _mm256_set1_epi16(5), acc[CHAINS];
    __asm__ volatile("" : "+x"(y));
    for (int i = 0; i < CHAINS; i++)
        acc[i] = _mm256_set1_epi32(i);
    for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++)
            acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(acc[i], y));
    for (int i = 1; i < CHAINS; i++)
        acc[0] = _mm256_add_epi32(acc[0], acc[i]);
    __asm__ volatile("" : : "x"(acc[0]));
    return 2.0 * 16 * CHAINS * (double)iters;
}

void dfp_peak_kernels_init_avx2(dfp_peak_kernels *k)
{
    k->fma_f32 = fma_f32_avx2;
    k->madd_s16 = madd_s16_avx2;
}
