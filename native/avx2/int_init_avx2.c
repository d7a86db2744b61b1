/* Placeholder until the integer kernels for avx2 land. */
#include "int_kernels.h"

void dfp_int_kernels_init_avx2(dfp_int_kernels *k) { (void)k; }
