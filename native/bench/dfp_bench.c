/* dfp_bench: kernel benchmarks as JSON lines.
 * Usage: dfp_bench [family ...]   (families: peak, sgemm, igemm, conv; default all)
 * Each family runs with 1 and 2 threads; results are medians of repeats. */
#include "bench.h"
#include "dfpengine.h"

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

/* GFLOP/s of the library's FP32 FMA peak chains on the selected ISA. */
double dfp_bench_fp32_peak(int threads)
{
    double ops = 0.0;
    return dfp_measure_peak(DFP_PEAK_FP32_FMA, threads, &ops) == DFP_OK ? ops * 1e-9 : 0.0;
}

static void bench_peak(int threads)
{
    double s16 = 0.0;
    dfp_measure_peak(DFP_PEAK_INT16_MADD, threads, &s16);
    printf("{\"bench\": \"fp32_fma_peak\", \"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f}\n",
           dfp_isa_name(dfp_isa_selected()), threads, dfp_bench_fp32_peak(threads));
    printf("{\"bench\": \"int16_madd_peak\", \"isa\": \"%s\", \"threads\": %d, \"gops\": %.1f}\n",
           dfp_isa_name(dfp_isa_selected()), threads, s16 * 1e-9);
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
        if (wanted(argc, argv, "conv"))
            dfp_bench_conv(threads);
    }
    return 0;
}
