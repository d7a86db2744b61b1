/* Timing helpers of the paired A/B programs (conv_ab.c, gemm_ab.c). */
#ifndef DFP_BENCH_AB_TIMING_H
#define DFP_BENCH_AB_TIMING_H

#include <time.h>

/* Monotonic seconds. */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* qsort order of doubles, ascending. */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
