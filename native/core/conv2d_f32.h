/* Internal plan of the FP32 convolution (conv2d_f32.c) and its direct paths
 * that read the input in place (conv2d_f32_inplace.c). */
#ifndef DFP_CONV2D_F32_H
#define DFP_CONV2D_F32_H

#include "dfpengine.h"
#include "fp32_kernels.h"
#include "im2col.h"

/* Column tile budget in floats (256 KiB: stays in L2 next to the packed operands). */
#define DFP_CONV_TILE_FLOATS (64 * 1024)
#define DFP_CONV_MIN_MACS_PER_THREAD (1 << 17)

typedef struct conv_plan {
    dfp_conv_geom g;
    int64_t batch, out_ch, ckk, pixels, in_pixels, tile, tiles;
    int direct; /* 1x1, stride 1, no padding: x is its own column matrix */
    const float *x, *w, *dy, *bias;
    float *y, *dx, *dw;
    double *y_sums;              /* FPROP (nullable): batch norm's plane sums of y (bn_plane_sums.h) */
    const float *wpack;          /* FPROP: weights packed once as A panels for `uk` (NULL: per tile) */
    const dfp_sgemm_ukernel *uk; /* the kernel wpack is packed for */
} conv_plan;

/* FPROP with B read in place (row stride 1 or 2, output rows a multiple of 8 wide). */
int dfp_conv_f32_fprop_inplace_applies(const conv_plan *pl);
dfp_status dfp_conv_f32_fprop_inplace(const conv_plan *pl);

/* BPROP of a strided conv as stride-1 phase convs of dy read in place
 * (conv2d_f32_bprop_phases.c; strides up to 4, no dilation, input rows a
 * multiple of 8 * stride wide). */
int dfp_conv_f32_bprop_phases_applies(const conv_plan *pl);
dfp_status dfp_conv_f32_bprop_phases(const conv_plan *pl);

/* WTGRAD with the taps read in place from a channel-last copy of each image
 * (channels a multiple of 16, no horizontal dilation). */
int dfp_conv_f32_wtgrad_inplace_applies(const conv_plan *pl);
dfp_status dfp_conv_f32_wtgrad_inplace(const conv_plan *pl);

#endif
