/* Integer kernel slots of the kernel table (int16 GEMM micro-kernel, quantisers). */
#ifndef DFP_INT_KERNELS_H
#define DFP_INT_KERNELS_H

#include <stdint.h>

typedef struct dfp_int_kernels {
    int placeholder; /* replaced by the integer kernel slots */
} dfp_int_kernels;

void dfp_int_kernels_init_scalar(dfp_int_kernels *k);
void dfp_int_kernels_init_avx2(dfp_int_kernels *k);
void dfp_int_kernels_init_avx512(dfp_int_kernels *k);
void dfp_int_kernels_init_avx512_vnni(dfp_int_kernels *k);

#endif
