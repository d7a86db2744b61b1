/* Overlay of the kernel table for the scalar level. */
#include "kernel_table.h"

void dfp_kernel_table_init_scalar(dfp_kernel_table *t)
{
    dfp_fp32_kernels_init_scalar(&t->fp32);
    dfp_int_kernels_init_scalar(&t->integer);
    dfp_emu_kernels_init_scalar(&t->emu);
    dfp_peak_kernels_init_scalar(&t->peak);
}
