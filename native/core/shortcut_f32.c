/* The option-A residual shortcut of CIFAR ResNets (He et al. 2016) in one pass
 * each way: keep every stride-th pixel and pad the channels with zeros. As
 * separate subsample and pad ops it cost four single-threaded numpy passes over
 * the activations per downsampling block. Pure data movement: exact. */
#include "dfpengine.h"
#include "kernel_table.h"

#include <string.h>

#define MIN_PER_THREAD (1 << 15) /* elements */

static dfp_status check(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t before,
                        int64_t after, const float *a, const float *b)
{
    if (n < 0 || c < 0 || h < 1 || w < 1 || stride < 1 || before < 0 || after < 0)
        return DFP_ERR_INVALID_SHAPE;
    if ((!a || !b) && n * c > 0)
        return DFP_ERR_NULL_POINTER;
    return DFP_OK;
}

dfp_status dfp_subsample_pad_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride,
                                 int64_t before, int64_t after, const float *x, float *y)
{
    dfp_status st = check(n, c, h, w, stride, before, after, x, y);
    if (st != DFP_OK)
        return st;
    const int64_t oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
    const int64_t oc = before + c + after, planes = n * oc;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes * oh * ow / MIN_PER_THREAD))
    for (int64_t p = 0; p < planes; p++) {
        const int64_t ci = p % oc - before;
        float *dst = y + p * oh * ow;
        if (ci < 0 || ci >= c) {
            memset(dst, 0, (size_t)(oh * ow) * sizeof(float));
            continue;
        }
        const float *src = x + (p / oc * c + ci) * h * w;
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                dst[i * ow + j] = src[i * stride * w + j * stride];
    }
    return DFP_OK;
}

dfp_status dfp_subsample_pad_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride,
                                          int64_t before, int64_t after, const float *dy, float *dx)
{
    dfp_status st = check(n, c, h, w, stride, before, after, dy, dx);
    if (st != DFP_OK)
        return st;
    const int64_t oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride;
    const int64_t oc = before + c + after, planes = n * c;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes * h * w / MIN_PER_THREAD))
    for (int64_t p = 0; p < planes; p++) {
        const float *src = dy + (p / c * oc + before + p % c) * oh * ow;
        float *dst = dx + p * h * w;
        if (stride == 1) {
            memcpy(dst, src, (size_t)(h * w) * sizeof(float));
            continue;
        }
        memset(dst, 0, (size_t)(h * w) * sizeof(float)); /* the plane is in cache for the stores */
        for (int64_t i = 0; i < oh; i++)
            for (int64_t j = 0; j < ow; j++)
                dst[i * stride * w + j * stride] = src[i * ow + j];
    }
    return DFP_OK;
}
