/* Internal pieces of the block floating point quantiser (bfp_quantize.c) that
 * the packer of the BFP GEMM (bfp_pack.c) quantises with, so codes written
 * straight into GEMM panels equal dfp_bfp_quantize's bit for bit. */
#ifndef DFP_BFP_QUANTIZE_H
#define DFP_BFP_QUANTIZE_H

#include "dfpengine.h"

#include <stdint.h>

typedef struct dfp_bfp_args {
    int block, mag_bits, floor_exponent, stochastic;
    uint64_t key;      /* dfp_rng_key(seed, stream) */
    int64_t cols;      /* row length of the logical matrix: stochastic index r * cols + c */
} dfp_bfp_args;

/* Quantise one block of len contiguous floats, element (r, c0) first: mant
 * and/or y (either may be NULL), *scale_exp. Returns 1 on NaN/inf, else 0. */
int dfp_bfp_quantize_block(const float *x, int64_t r, int64_t c0, int64_t len, const dfp_bfp_args *a,
                           int16_t *mant, int32_t *scale_exp, float *y);

/* Argument checks of dfp_bfp_quantize (x stored rows x cols, row stride ldx). */
dfp_status dfp_bfp_check_args(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                              int mag_bits, dfp_rounding rounding);

#endif
