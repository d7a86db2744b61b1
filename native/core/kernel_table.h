/* The kernel table: one struct of function pointers, filled once from the
 * scalar reference, then overlaid by each ISA level up to the selected one
 * (BLIS-style context). Portable code calls kernels only through it. */
#ifndef DFP_KERNEL_TABLE_H
#define DFP_KERNEL_TABLE_H

#include "dfpengine.h"
#include "fp32_kernels.h"
#include "int_kernels.h"
#include "emu_kernels.h"
#include "peak_kernels.h"
#include "move_kernels.h"

typedef struct dfp_kernel_table {
    dfp_isa isa;
    dfp_fp32_kernels fp32;
    dfp_int_kernels integer;
    dfp_emu_kernels emu;
    dfp_peak_kernels peak;
    dfp_move_kernels move;
} dfp_kernel_table;

/* The active table (initialised on first use). */
const dfp_kernel_table *dfp_kernels(void);

/* Per-ISA overlays, one per folder under native/. */
void dfp_kernel_table_init_scalar(dfp_kernel_table *t);
void dfp_kernel_table_init_avx2(dfp_kernel_table *t);
void dfp_kernel_table_init_avx512(dfp_kernel_table *t);
void dfp_kernel_table_init_avx512_vnni(dfp_kernel_table *t);

/* Thread count for OpenMP regions in portable drivers. */
int dfp_threads_for_work(int64_t work_items);

#endif
