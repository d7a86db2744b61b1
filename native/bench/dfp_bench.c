/* dfp_bench: kernel benchmarks as JSON lines.
 * Usage: dfp_bench [family ...]   (families: peak, sgemm, igemm; default all)
 * Each family runs with 1 and 2 threads; results are medians of repeats. */
#include "bench.h"
#include "dfpengine.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double dfp_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double dfp_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define PEAK_CHAINS 24
#define PEAK_ITERS 20000000L

/* 24 independent zmm FMA chains: enough to hide a 4-cycle latency on 2 ports. */
__attribute__((target("avx512f,fma"))) static double fma_flops_avx512(void)
{
    __m512 acc[PEAK_CHAINS];
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < PEAK_CHAINS; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < PEAK_ITERS; it++)
#pragma GCC unroll 24
        for (int i = 0; i < PEAK_CHAINS; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    float sink = 0;
    for (int i = 0; i < PEAK_CHAINS; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    if (sink == 12345.0f)
        printf("#\n");
    return 2.0 * 16 * PEAK_CHAINS * (double)PEAK_ITERS;
}

__attribute__((target("avx2,fma"))) static double fma_flops_avx2(void)
{
    __m256 acc[12];
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < 2 * PEAK_ITERS; it++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    float out[8], sink = 0;
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(out, acc[i]);
        sink += out[0];
    }
    if (sink == 12345.0f)
        printf("#\n");
    return 2.0 * 8 * 12 * 2 * (double)PEAK_ITERS;
}

double dfp_bench_fp32_peak(int threads)
{
    dfp_isa isa = dfp_isa_selected();
    if (isa < DFP_ISA_AVX2)
        return 0.0; /* no FMA unit in the scalar level */
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double flops = 0.0, t0 = dfp_bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += isa >= DFP_ISA_AVX512 ? fma_flops_avx512() : fma_flops_avx2();
        double gf = flops / (dfp_bench_now() - t0) * 1e-9;
        best = gf > best ? gf : best;
    }
    return best;
}

static void bench_peak(int threads)
{
    printf("{\"bench\": \"fp32_fma_peak\", \"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f}\n",
           dfp_isa_name(dfp_isa_selected()), threads, dfp_bench_fp32_peak(threads));
    fflush(stdout);
}

static int wanted(int argc, char **argv, const char *family)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], family) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    for (int threads = 1; threads <= 2; threads++) {
        if (wanted(argc, argv, "peak"))
            bench_peak(threads);
        if (wanted(argc, argv, "sgemm"))
            dfp_bench_sgemm(threads);
        if (wanted(argc, argv, "igemm"))
            dfp_bench_igemm(threads);
    }
    return 0;
}
