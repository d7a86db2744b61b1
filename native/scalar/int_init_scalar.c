/* Placeholder until the integer kernels for scalar land. */
#include "int_kernels.h"

void dfp_int_kernels_init_scalar(dfp_int_kernels *k) { (void)k; }
