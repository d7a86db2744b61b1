/* Overlay of the kernel table for the avx2 level. */
#include "kernel_table.h"

void dfp_kernel_table_init_avx2(dfp_kernel_table *t)
{
    dfp_fp32_kernels_init_avx2(&t->fp32);
    dfp_int_kernels_init_avx2(&t->integer);
    dfp_emu_kernels_init_avx2(&t->emu);
    dfp_peak_kernels_init_avx2(&t->peak);
    dfp_move_kernels_init_avx2(&t->move);
}
