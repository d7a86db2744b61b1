/* Internal entry of the emulated float GEMM (fpemu_gemm.c) for drivers that
 * compute one sum in K slices (the convolutions of conv_fpemu.c). */
#ifndef DFP_FPEMU_GEMM_H
#define DFP_FPEMU_GEMM_H

#include "dfpengine.h"

#include <stdint.h>

typedef struct dfp_fpemu_slice {
    int accumulate;     /* C holds the totals of the earlier slices; the chunks go on from them */
    int64_t k_total;    /* K of the whole sum, and bounds (FP32 bits) on |A| and |B| over every */
    uint32_t amax_a;    /* slice after rounding to the input formats: they decide, for the */
    uint32_t amax_b;    /* whole sum at once, whether no partial sum can saturate */
    int b_on_grid;      /* op(B) already rounded to p->in_b (nearest) by the caller: an im2col
                         * tile of a rounded tensor is, so its 9x elements are not rounded again */
} dfp_fpemu_slice;

/* dfp_gemm_fpemu on one K slice of a longer sum: nearest rounding only (the
 * stochastic draws count K from the slice's start; else
 * DFP_ERR_INVALID_ARGUMENT). A slice must start a chunk of the whole sum (its
 * K offset a multiple of p->chunk), so its chunks are the whole's. */
dfp_status dfp_gemm_fpemu_slice(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                                int64_t ldc, const dfp_fpemu_gemm_params *p,
                                const dfp_fpemu_slice *slice);

#endif
