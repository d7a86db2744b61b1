/* A batch's convolution as the emulated-format drivers walk it, image by image
 * or a few images at a time (conv_bfp.c, conv_fpemu.c). */
#ifndef DFP_CONV_BATCH_H
#define DFP_CONV_BATCH_H

#include "im2col.h"
#include "dfpengine.h"

#include <string.h>

typedef struct dfp_conv_batch {
    dfp_conv_geom g;                   /* one image */
    int64_t batch, out_ch, taps;       /* taps = C * KH * KW, the im2col rows */
    int64_t pixels, image;             /* output pixels and input floats per image */
} dfp_conv_batch;

/* shape validated (dfp_conv2d_output_size) and described. */
dfp_status dfp_conv_batch_of(const dfp_conv2d_shape *s, dfp_conv_batch *cb);

/* The fewest images whose pixels (px each) are a whole number of K blocks or
 * chunks of `len`: a slice of images starting at a multiple of it starts a
 * block of the batch's K = pixels. */
static inline int64_t dfp_images_per_block(int64_t px, int64_t len)
{
    int64_t a = px > 0 ? px : 1, b = len;
    while (b) {
        int64_t t = a % b;
        a = b, b = t;
    }
    return len / a;
}

/* The `rows` channels of `imgs` consecutive NCHW images (px pixels each) side by
 * side: dst[r * ld + i * px + p] = src[(i * rows + r) * px + p], the matrix
 * (rows x imgs * px) a GEMM over those images' pixels reads. */
static inline void dfp_images_side_by_side(const float *src, int64_t imgs, int64_t rows, int64_t px,
                                           float *dst, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < imgs; i++)
            memcpy(dst + r * ld + i * px, src + (i * rows + r) * px, (size_t)px * sizeof(float));
}

/* The inverse: the side-by-side matrix's columns back into `imgs` NCHW images. */
static inline void dfp_images_from_side_by_side(const float *src, int64_t ld, int64_t imgs,
                                                int64_t rows, int64_t px, float *dst)
{
    for (int64_t i = 0; i < imgs; i++)
        for (int64_t r = 0; r < rows; r++)
            memcpy(dst + (i * rows + r) * px, src + r * ld + i * px, (size_t)px * sizeof(float));
}

#endif
