/* Placeholder until the FP32 kernels for avx512 land. */
#include "fp32_kernels.h"

void dfp_fp32_kernels_init_avx512(dfp_fp32_kernels *k) { (void)k; }
