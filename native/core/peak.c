#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
/* dfp_measure_peak: the selected ISA's arithmetic ceiling, measured by running
 * the peak-rate chains of the kernel table on every thread at once. The best of
 * a few repeats is kept: a peak is what the core can do, and noise from other
 * processes only ever lowers the rate. */
#include "dfpengine.h"
#include "kernel_table.h"

#include <time.h>

#define PEAK_ITERS 4000000
#define PEAK_REPEATS 5

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

dfp_status dfp_measure_peak(dfp_peak_kind kind, int threads, double *ops_per_s)
{
    if (!ops_per_s)
        return DFP_ERR_NULL_POINTER;
    if (threads < 0 || (kind != DFP_PEAK_FP32_FMA && kind != DFP_PEAK_INT16_MADD))
        return DFP_ERR_INVALID_ARGUMENT;
    const dfp_peak_kernels *k = &dfp_kernels()->peak;
    dfp_peak_fn fn = kind == DFP_PEAK_FP32_FMA ? k->fma_f32 : k->madd_s16;
    int nt = threads ? threads : dfp_num_threads();
    double best = 0.0;
    for (int rep = 0; rep < PEAK_REPEATS; rep++) {
        double ops = 0.0, t0 = now_seconds();
#pragma omp parallel num_threads(nt) reduction(+ : ops)
        ops += fn(PEAK_ITERS);
        double rate = ops / (now_seconds() - t0);
        best = rate > best ? rate : best;
    }
    *ops_per_s = best;
    return DFP_OK;
}
