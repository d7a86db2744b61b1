/* Whole-batch im2col / col2im for the emulated low-precision convs, whose
 * passes are one GEMM each on the batch's column matrix (see
 * dfpengine/_native/_im2col_conv.py). Layout: cols is C*KH*KW x N*OH*OW,
 * row-major: row r = tap (c, kh, kw), column n*OH*OW + p = output pixel p of
 * image n. Built on the blocked tile routines of im2col.c; images are spread
 * over threads and write disjoint columns (or disjoint dx images), so results
 * do not depend on the thread count. Contract: dfpengine.h. */
#include "conv_batch.h"
#include "kernel_table.h"

#include <string.h>

dfp_status dfp_conv_batch_of(const dfp_conv2d_shape *s, dfp_conv_batch *cb)
{
    int64_t oh, ow;
    dfp_status st = dfp_conv2d_output_size(s, &oh, &ow);
    if (st != DFP_OK)
        return st;
    cb->g = (dfp_conv_geom){s->in_channels, s->in_h, s->in_w, s->kernel_h, s->kernel_w, s->stride_h,
                            s->stride_w, s->pad_h, s->pad_w, s->dilation_h, s->dilation_w, oh, ow};
    cb->batch = s->batch;
    cb->out_ch = s->out_channels;
    cb->taps = s->in_channels * s->kernel_h * s->kernel_w;
    cb->pixels = oh * ow;
    cb->image = s->in_channels * s->in_h * s->in_w;
    return DFP_OK;
}

static dfp_status batch_geom(const dfp_conv2d_shape *s, const void *in, const void *out,
                             dfp_conv_geom *g)
{
    if (!s || !in || !out)
        return DFP_ERR_NULL_POINTER;
    dfp_conv_batch cb;
    dfp_status st = dfp_conv_batch_of(s, &cb);
    *g = cb.g;
    return st;
}

dfp_status dfp_conv2d_im2col_f32(const dfp_conv2d_shape *shape, const float *x, float *cols)
{
    dfp_conv_geom g;
    dfp_status st = batch_geom(shape, x, cols, &g);
    if (st != DFP_OK)
        return st;
    const int64_t n = shape->batch, pixels = g.out_h * g.out_w, image = g.channels * g.in_h * g.in_w;
    const int64_t ckk = g.channels * g.kernel_h * g.kernel_w;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(n * pixels * ckk / 65536))
    for (int64_t i = 0; i < n; i++)
        dfp_im2col_tile(&g, x + i * image, sizeof(float), 0, pixels, cols + i * pixels, n * pixels);
    return DFP_OK;
}

dfp_status dfp_conv2d_col2im_f32(const dfp_conv2d_shape *shape, const float *cols, float *dx)
{
    dfp_conv_geom g;
    dfp_status st = batch_geom(shape, cols, dx, &g);
    if (st != DFP_OK)
        return st;
    const int64_t n = shape->batch, pixels = g.out_h * g.out_w, image = g.channels * g.in_h * g.in_w;
    const int64_t ckk = g.channels * g.kernel_h * g.kernel_w;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(n * pixels * ckk / 65536))
    for (int64_t i = 0; i < n; i++) {
        memset(dx + i * image, 0, (size_t)image * sizeof(float));
        dfp_col2im_tile_f32(&g, cols + i * pixels, n * pixels, 0, pixels, dx + i * image);
    }
    return DFP_OK;
}
