/* Placeholder until the VNNI integer kernels land. */
#include "int_kernels.h"

void dfp_int_kernels_init_avx512_vnni(dfp_int_kernels *k) { (void)k; }
