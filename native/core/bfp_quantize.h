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
    /* where the quantised matrix lies in that logical matrix: its element (r, c)
     * draws index (row0 + r) * cols + col0 + c. Zero but for a slice of a larger
     * operand (an image of a batch's im2col matrix, conv_bfp.c), which then
     * rounds exactly as the whole would. */
    int64_t row0, col0;
} dfp_bfp_args;

/* Index of element (r, c) of the quantised matrix. */
static inline uint64_t dfp_bfp_index(const dfp_bfp_args *a, int64_t r, int64_t c)
{
    return (uint64_t)((a->row0 + r) * a->cols + a->col0 + c);
}

/* The arguments of one quantiser call (the stochastic key from seed and stream). */
dfp_bfp_args dfp_bfp_args_of(int block, int mag_bits, int floor_exponent, dfp_rounding rounding,
                             uint64_t seed, uint64_t stream, int64_t cols);

/* buf[r][t] = x[(c0 + t) * ldx + r0 + r] for r < rows, t < len: a tile of the
 * transpose of x (cols x rows, ld ldx), so a block along cols is contiguous. */
static inline void dfp_bfp_gather_transposed(const float *x, int64_t ldx, int64_t r0, int64_t rows,
                                             int64_t c0, int64_t len, float *buf)
{
    for (int64_t t = 0; t < len; t++) {
        const float *src = x + (c0 + t) * ldx + r0;
        for (int64_t r = 0; r < rows; r++)
            buf[r * len + t] = src[r];
    }
}

/* Scale exponent of a block whose largest magnitude has FP32 bits amax_bits
 * (finite; 0 for an all-zero block): codes are x * 2^-scale_exp rounded. */
int32_t dfp_bfp_scale_exp(uint32_t amax_bits, const dfp_bfp_args *a);

/* Quantise one block of len contiguous floats, element (r, c0) first: mant
 * and/or y (either may be NULL), *scale_exp. Returns 1 on NaN/inf, else 0. */
int dfp_bfp_quantize_block(const float *x, int64_t r, int64_t c0, int64_t len, const dfp_bfp_args *a,
                           int16_t *mant, int32_t *scale_exp, float *y);

/* Argument checks of dfp_bfp_quantize (x stored rows x cols, row stride ldx). */
dfp_status dfp_bfp_check_args(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block,
                              int mag_bits, dfp_rounding rounding);

#endif
