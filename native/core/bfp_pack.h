/* Quantise-while-packing of FP32 operands for the block floating point GEMM
 * (bfp_pack.c; used by bfp_gemm.c). */
#ifndef DFP_BFP_PACK_H
#define DFP_BFP_PACK_H

#include "igemm.h"
#include "im2col.h"

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

/* One image's im2col columns read in place as the operand (pixels x taps):
 * the image zero-padded (xpad: C x hp x wp, hp = H + 2 pad_h, wp = W +
 * 2 pad_w), so tap (c, kh, kw) of output pixel (oh, ow) is one load at a fixed
 * offset from the pixel's corner. Needs stride 1 along rows, out_w a multiple
 * of 16 (16 lanes = 16 pixels of one output row) and w a multiple of 16 or a
 * divisor of it. */
typedef struct dfp_bfp_taps {
    const dfp_conv_geom *g;
    const float *xpad;
    int64_t hp, wp;
} dfp_bfp_taps;

/* dfp_bfp_pack_operand of the image's pixels x taps operand from src, without
 * the tile (one thread: drivers call it per image inside their team). */
dfp_status dfp_bfp_pack_taps(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                             const dfp_bfp_taps *src, int w, dfp_s16_packed *out, int32_t *exps);

/* WTGRAD's operand of im2col rows (taps x pixels) read from zero-padded
 * images, no tile: rows are the taps (c, kh, kw) of src->g's channels, K the
 * pixels of `imgs` images side by side, whose padded copies lie one after the
 * other at src->xpad (each C x hp x wp). Needs stride 1 along rows, out_w a
 * multiple of 16 and a block that is a multiple of 16 (runs of 16 pixels).
 * One thread. */
dfp_status dfp_bfp_pack_tap_rows(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                                 const dfp_bfp_taps *src, int64_t imgs, int w, dfp_s16_packed *out,
                                 int32_t *exps);

#endif
