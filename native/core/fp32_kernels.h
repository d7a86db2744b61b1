/* FP32 kernel slots of the kernel table (SGEMM micro-kernel, element-wise). */
#ifndef DFP_FP32_KERNELS_H
#define DFP_FP32_KERNELS_H

#include <stdint.h>

typedef struct dfp_fp32_kernels {
    int placeholder; /* replaced by the FP32 kernel slots */
} dfp_fp32_kernels;

void dfp_fp32_kernels_init_scalar(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx2(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx512(dfp_fp32_kernels *k);

#endif
