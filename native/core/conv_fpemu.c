/* Convolutions in the emulated float formats (FP8, FP16 1-6-9, ...) with
 * nearest rounding, a few images at a time.
 *
 * Each pass is by definition one dfp_gemm_fpemu on the batch's im2col matrix
 * (dfpengine/_native/_im2col_conv.py). With nearest rounding of inputs and
 * sums, an output element's value depends only on its two K vectors: each
 * input rounds on its own, products are exact, and its chunked sum runs over
 * K in order. So a GEMM over a group of images' columns gives the same
 * elements, whichever operand is A. Here: the group's im2col tile (taps x
 * pixels, in cache), W as A so the output comes out channel-major, dY read in
 * place. FPROP and BPROP; WTGRAD sums over every image (K = pixels) and stays
 * a whole-batch GEMM. Stochastic rounding indexes elements by their place in
 * the whole matrices and is not taken here. Contract: dfpengine.h. */
#include "im2col.h"
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_PIXELS 256 /* output pixels per product: several small images (measured on
                            * ResNet-20 layers against 64, 1024 and 2048) */

typedef struct fpemu_conv {
    dfp_conv_geom g;
    int64_t batch, out_ch, taps, pixels, image, group, ngroups;
} fpemu_conv;

static dfp_status conv_of(const dfp_conv2d_shape *s, const void *p, const void *q, const void *r,
                          const dfp_fpemu_gemm_params *fp, fpemu_conv *cv)
{
    if (!s || !p || !q || !r || !fp)
        return DFP_ERR_NULL_POINTER;
    if (fp->in_rounding != DFP_ROUND_NEAREST || fp->acc_rounding != DFP_ROUND_NEAREST)
        return DFP_ERR_INVALID_ARGUMENT;
    int64_t oh, ow;
    dfp_status st = dfp_conv2d_output_size(s, &oh, &ow);
    if (st != DFP_OK)
        return st;
    cv->g = (dfp_conv_geom){s->in_channels, s->in_h, s->in_w, s->kernel_h, s->kernel_w, s->stride_h,
                            s->stride_w, s->pad_h, s->pad_w, s->dilation_h, s->dilation_w, oh, ow};
    cv->batch = s->batch;
    cv->out_ch = s->out_channels;
    cv->taps = s->in_channels * s->kernel_h * s->kernel_w;
    cv->pixels = oh * ow;
    cv->image = s->in_channels * s->in_h * s->in_w;
    cv->group = GROUP_PIXELS / cv->pixels;
    cv->group = cv->group < 1 ? 1 : cv->group > cv->batch ? cv->batch : cv->group;
    cv->ngroups = cv->batch > 0 ? (cv->batch + cv->group - 1) / cv->group : 0;
    return DFP_OK;
}

/* The same GEMM with the operands' formats exchanged (W goes first). */
static dfp_fpemu_gemm_params weight_first(const dfp_fpemu_gemm_params *p)
{
    dfp_fpemu_gemm_params q = *p;
    q.in_a = p->in_b;
    q.in_b = p->in_a;
    return q;
}

dfp_status dfp_conv2d_fpemu_forward(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                    const dfp_fpemu_gemm_params *p, float *y)
{
    fpemu_conv cv;
    dfp_status st = conv_of(shape, x, w, y, p, &cv);
    if (st != DFP_OK)
        return st;
    const dfp_fpemu_gemm_params q = weight_first(p);
    const int64_t ld = cv.group * cv.pixels, px = cv.pixels, o = cv.out_ch;
    dfp_status failed = DFP_OK;
#pragma omp parallel num_threads(dfp_threads_for_work(cv.ngroups * ld * cv.taps * o / 262144))
    {
        float *tile = malloc((size_t)(cv.taps * ld) * sizeof(float));
        float *out = malloc((size_t)(o * ld) * sizeof(float));
        dfp_status mine = tile && out ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < cv.ngroups; gi++) {
            const int64_t n0 = gi * cv.group, imgs = cv.batch - n0 < cv.group ? cv.batch - n0 : cv.group;
            if (mine != DFP_OK)
                continue;
            for (int64_t i = 0; i < imgs; i++)
                dfp_im2col_tile(&cv.g, x + (n0 + i) * cv.image, sizeof(float), 0, px, tile + i * px, ld);
            /* out (O x pixels of the group) = W @ tile */
            mine = dfp_gemm_fpemu(0, 0, o, imgs * px, cv.taps, w, cv.taps, tile, ld, out, ld, &q);
            for (int64_t i = 0; i < imgs && mine == DFP_OK; i++)
                for (int64_t r = 0; r < o; r++)
                    memcpy(y + ((n0 + i) * o + r) * px, out + r * ld + i * px, (size_t)px * sizeof(float));
        }
        free(tile);
        free(out);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    return failed;
}

dfp_status dfp_conv2d_fpemu_backward_data(const dfp_conv2d_shape *shape, const float *dy,
                                          const float *w, const dfp_fpemu_gemm_params *p, float *dx)
{
    fpemu_conv cv;
    dfp_status st = conv_of(shape, dy, w, dx, p, &cv);
    if (st != DFP_OK)
        return st;
    const dfp_fpemu_gemm_params q = weight_first(p);
    const int64_t ld = cv.group * cv.pixels, px = cv.pixels, o = cv.out_ch;
    dfp_status failed = DFP_OK;
#pragma omp parallel num_threads(dfp_threads_for_work(cv.ngroups * ld * cv.taps * o / 262144))
    {
        float *dcols = malloc((size_t)(cv.taps * ld) * sizeof(float));
        float *dyg = cv.group > 1 ? malloc((size_t)(o * ld) * sizeof(float)) : NULL;
        dfp_status mine = dcols && (cv.group == 1 || dyg) ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < cv.ngroups; gi++) {
            const int64_t n0 = gi * cv.group, imgs = cv.batch - n0 < cv.group ? cv.batch - n0 : cv.group;
            if (mine != DFP_OK)
                continue;
            const float *dyk = dy + n0 * o * px; /* O x pixels of the group, row stride ld */
            if (cv.group > 1) {
                for (int64_t r = 0; r < o; r++)
                    for (int64_t i = 0; i < imgs; i++)
                        memcpy(dyg + r * ld + i * px, dyk + (i * o + r) * px, (size_t)px * sizeof(float));
                dyk = dyg;
            }
            /* dcols (taps x pixels) = W^T @ dY */
            mine = dfp_gemm_fpemu(1, 0, cv.taps, imgs * px, o, w, cv.taps, dyk, cv.group > 1 ? ld : px,
                                  dcols, ld, &q);
            for (int64_t i = 0; i < imgs && mine == DFP_OK; i++) {
                float *dxn = dx + (n0 + i) * cv.image;
                memset(dxn, 0, (size_t)cv.image * sizeof(float));
                dfp_col2im_tile_f32(&cv.g, dcols + i * px, ld, 0, px, dxn);
            }
        }
        free(dcols);
        free(dyg);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    return failed;
}
