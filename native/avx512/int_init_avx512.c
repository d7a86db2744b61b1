/* Placeholder until the integer kernels for avx512 land. */
#include "int_kernels.h"

void dfp_int_kernels_init_avx512(dfp_int_kernels *k) { (void)k; }
