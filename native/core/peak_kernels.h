/* Peak-rate micro-kernels: register-only chains of the instructions the GEMMs
 * are built on, with no memory traffic, so the rate they reach is the core's
 * arithmetic ceiling for the selected ISA. Each runs `iters` loop iterations
 * and returns the number of arithmetic operations it executed (a multiply-add
 * counts as 2). Used for "percent of peak" in the profiler and dfp_bench. */
#ifndef DFP_PEAK_KERNELS_H
#define DFP_PEAK_KERNELS_H

#include <stdint.h>

typedef double (*dfp_peak_fn)(int64_t iters);

typedef struct dfp_peak_kernels {
    dfp_peak_fn fma_f32;   /* FP32 fused multiply-add */
    dfp_peak_fn madd_s16;  /* int16 x int16 -> int32 pair multiply-add */
} dfp_peak_kernels;

void dfp_peak_kernels_init_scalar(dfp_peak_kernels *k);
void dfp_peak_kernels_init_avx2(dfp_peak_kernels *k);
void dfp_peak_kernels_init_avx512(dfp_peak_kernels *k);
void dfp_peak_kernels_init_avx512_vnni(dfp_peak_kernels *k);

#endif
