/* Quantise-while-packing of FP32 operands for the block floating point GEMM
 * (bfp_pack.c; used by bfp_gemm.c). */
#ifndef DFP_BFP_PACK_H
#define DFP_BFP_PACK_H

#include "igemm.h"

/* Where an operand lies in the logical matrix its stochastic rounding indices
 * count in: element (r, t) draws index (row0 + r) * cols + col0 + t. */
typedef struct dfp_bfp_origin {
    int64_t row0, col0, cols;
} dfp_bfp_origin;

/* Pack the rows x k operand op into panels of width w (VNNI pair-interleaved,
 * all (k+1)/2 pairs), quantising block by block along k; exps (rows x
 * ceil(k/block)) receives the scale exponents. out->max_abs is the mantissa
 * bound 2^mag_bits - 1. origin NULL: the operand is the whole matrix
 * {0, 0, k}. Free out->panels afterwards (also on error). */
dfp_status dfp_bfp_pack_operand(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                                int64_t rows, int64_t k, int w, dfp_s16_packed *out, int32_t *exps);

#endif
