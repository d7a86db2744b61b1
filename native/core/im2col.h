/* Blocked im2col / col2im over tiles of output pixels (portable C).
 * A tile holds output pixels p0 .. p0+np-1 of one image (p = oh*OW + ow);
 * its column matrix has one row per (c, kh, kw) tap, in that order (the OIHW
 * weight's inner order), and one column per pixel: col[r*ldcol + q]. */
#ifndef DFP_IM2COL_H
#define DFP_IM2COL_H

#include <stddef.h>
#include <stdint.h>

typedef struct dfp_conv_geom {
    int64_t channels, in_h, in_w, kernel_h, kernel_w;
    int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int64_t out_h, out_w;
} dfp_conv_geom;

/* Width the direct (in-place) convolutions compute output rows at: out_w when
 * runs of 16 or 8 pixels tile it, else 8 or out_w rounded up to 16; the extra
 * columns are computed from the next pixels of the input copy and dropped
 * (LeNet's 28- and 10-wide rows: 14% and 60% more products instead of packing
 * or im2col tiles at a fraction of the speed). */
static inline int64_t dfp_conv_virtual_width(int64_t out_w)
{
    if (out_w % 8 == 0)
        return out_w;
    return out_w < 8 ? 8 : (out_w + 15) / 16 * 16;
}

/* The direct convolutions' calls over n output pixels (a multiple of 16, in runs
 * of 16): 48 pixels to a call on [0, end), 32 after. As many 48-wide calls as
 * leave a multiple of 32 pixels, so no call is partial that was not with 32 only. */
static inline int64_t dfp_conv_wide_calls_end(int64_t n)
{
    int64_t t = n / 48;
    if ((n - 48 * t) % 32 != 0)
        t--;
    return t > 0 ? 48 * t : 0;
}

/* Gather one tile of one image x[C][H][W] with elements of `elem` bytes
 * (4 for FP32, 2 for INT16 data); padding taps are zero bytes. */
void dfp_im2col_tile(const dfp_conv_geom *g, const void *x, size_t elem, int64_t p0, int64_t np,
                     void *col, int64_t ldcol);

/* The same tile of an FP32 image written as SGEMM B panels (see
 * fp32_kernels.h) over the full K = C*KH*KW: element (r, q) at
 * dst[(q / nr) * K * nr + r * nr + q % nr], the last panel zero-padded to nr
 * columns. `row` is scratch for np floats. Saves the GEMM's separate pass
 * packing the column matrix. */
void dfp_im2col_panels_f32(const dfp_conv_geom *g, const float *x, int64_t p0, int64_t np, int nr,
                           float *row, float *dst);

/* Scatter-add one tile's column gradient into dx[C][H][W] (FP32 only:
 * overlapping taps accumulate). With stride 1 along rows (and kernel and input
 * widths within the limits below) each input row gets the sum of its KW taps'
 * segments, ((0 + s_0) + s_1) + ..., in one add; otherwise tap by tap. */
void dfp_col2im_tile_f32(const dfp_conv_geom *g, const float *dcol, int64_t ldcol, int64_t p0,
                         int64_t np, float *dx);

#endif
