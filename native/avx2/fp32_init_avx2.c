/* Placeholder until the FP32 kernels for avx2 land. */
#include "fp32_kernels.h"

void dfp_fp32_kernels_init_avx2(dfp_fp32_kernels *k) { (void)k; }
