/* Overlay of the kernel table for AVX-512 VNNI: only the integer kernels change. */
#include "kernel_table.h"

void dfp_kernel_table_init_avx512_vnni(dfp_kernel_table *t)
{
    dfp_int_kernels_init_avx512_vnni(&t->integer);
    dfp_peak_kernels_init_avx512_vnni(&t->peak);
}
