/* Kernel benchmark program: one function per benchmark family, each printing
 * JSON lines (one object per measurement) to stdout. */
#ifndef DFP_BENCH_H
#define DFP_BENCH_H

/* Monotonic wall clock in seconds. */
double dfp_bench_now(void);
/* Median of n values (sorts `v` in place). */
double dfp_bench_median(double *v, int n);
/* Measured FP32 FMA peak in GFLOP/s of the selected ISA level with `threads`
 * threads (independent FMA chains, registers only). */
double dfp_bench_fp32_peak(int threads);

void dfp_bench_sgemm(int threads);
/* Measured VNNI peak (ops/s, multiply-add = 2) with `threads` threads; 0 without VNNI. */
double dfp_bench_vnni_peak(int threads);
/* Integer GEMM (int16 and FP32-quantised-while-packing) vs dfp_sgemm, same shapes, same run. */
void dfp_bench_igemm(int threads);

/* ResNet-20 conv layers, every pass, FP32 vs DFP16, GOP/s and percent of peak. */
void dfp_bench_conv(int threads);

#endif
