/* Max and average 2-D pooling over NCHW planes (portable C), threaded over
 * planes. Windows are clipped to the input; max pooling treats padding as
 * -inf, average pooling counts it as zeros in the divisor (count_include_pad). */
#include "dfpengine.h"
#include "kernel_table.h"

#include <math.h>
#include <string.h>

#define DFP_POOL_MIN_PER_THREAD (1 << 14)

dfp_status dfp_pool2d_output_size(const dfp_pool2d_shape *s, int64_t *out_h, int64_t *out_w)
{
    if (!s || !out_h || !out_w)
        return DFP_ERR_NULL_POINTER;
    if (s->batch < 1 || s->channels < 1 || s->in_h < 1 || s->in_w < 1 || s->kernel_h < 1 || s->kernel_w < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 ||
        s->pad_h > s->kernel_h / 2 || s->pad_w > s->kernel_w / 2)
        return DFP_ERR_INVALID_ARGUMENT;
    if (s->in_h + 2 * s->pad_h < s->kernel_h || s->in_w + 2 * s->pad_w < s->kernel_w)
        return DFP_ERR_INVALID_SHAPE;
    *out_h = (s->in_h + 2 * s->pad_h - s->kernel_h) / s->stride_h + 1;
    *out_w = (s->in_w + 2 * s->pad_w - s->kernel_w) / s->stride_w + 1;
    return DFP_OK;
}

static inline int pool_threads(const dfp_pool2d_shape *s)
{
    int64_t planes = s->batch * s->channels, work = planes * s->in_h * s->in_w / DFP_POOL_MIN_PER_THREAD;
    return dfp_threads_for_work(work < planes ? work : planes);
}

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The window of output (oh, ow) clipped to the input: rows [*h0, *h1), cols [*w0, *w1). */
static inline void window(const dfp_pool2d_shape *s, int64_t oh, int64_t ow, int64_t *h0, int64_t *h1,
                          int64_t *w0, int64_t *w1)
{
    int64_t hs = oh * s->stride_h - s->pad_h, ws = ow * s->stride_w - s->pad_w;
    *h0 = max64(hs, 0), *h1 = min64(hs + s->kernel_h, s->in_h);
    *w0 = max64(ws, 0), *w1 = min64(ws + s->kernel_w, s->in_w);
}

static void max_plane(const dfp_pool2d_shape *s, int64_t oh_n, int64_t ow_n, const float *x, float *y,
                      int32_t *arg)
{
    for (int64_t oh = 0; oh < oh_n; oh++)
        for (int64_t ow = 0; ow < ow_n; ow++) {
            int64_t h0, h1, w0, w1;
            window(s, oh, ow, &h0, &h1, &w0, &w1);
            float best = -INFINITY;
            int64_t idx = h0 * s->in_w + w0;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++) {
                    float v = x[h * s->in_w + w];
                    if (v > best || v != v) { /* NaN wins (the last one, as in PyTorch) */
                        best = v;
                        idx = h * s->in_w + w;
                    }
                }
            y[oh * ow_n + ow] = best;
            arg[oh * ow_n + ow] = (int32_t)idx;
        }
}

/* Unpadded windows lie inside the input (the output size rounds down), so no
 * clipping is needed. Loops run window tap outer, output column inner: the
 * inner loop is branch-free and vectorises, whereas the per-output loop above
 * branches on `v > best`, which mispredicts on real activations (~30 ns per
 * output). Each output still sees its taps in (h, w) order, so ties and NaNs
 * resolve exactly as in max_plane. */
#define DFP_POOL_COLS 64
static inline __attribute__((always_inline)) void max_tap(const float *restrict xt, int32_t tap, int64_t sw,
                                                          int64_t cols, float *restrict best,
                                                          int32_t *restrict idx)
{
    for (int64_t c = 0; c < cols; c++) {
        const float v = xt[c * sw];
        const int take = (v > best[c]) | (v != v); /* NaN wins (the last one, as in PyTorch) */
        best[c] = take ? v : best[c];
        idx[c] = take ? tap + (int32_t)(c * sw) : idx[c];
    }
}

static void max_plane_unpadded(const dfp_pool2d_shape *s, int64_t oh_n, int64_t ow_n, const float *restrict x,
                               float *restrict y, int32_t *restrict arg)
{
    const int64_t kh = s->kernel_h, kw = s->kernel_w, in_w = s->in_w, sw = s->stride_w;
    for (int64_t oh = 0; oh < oh_n; oh++)
        for (int64_t c0 = 0; c0 < ow_n; c0 += DFP_POOL_COLS) {
            const int64_t cols = ow_n - c0 < DFP_POOL_COLS ? ow_n - c0 : DFP_POOL_COLS;
            const int32_t first = (int32_t)(oh * s->stride_h * in_w + c0 * sw);
            float *best = y + oh * ow_n + c0;
            int32_t *idx = arg + oh * ow_n + c0;
            for (int64_t c = 0; c < cols; c++) {
                best[c] = -INFINITY;
                idx[c] = first + (int32_t)(c * sw);
            }
            for (int64_t h = 0; h < kh; h++)
                for (int64_t w = 0; w < kw; w++) {
                    const int32_t tap = first + (int32_t)(h * in_w + w);
                    if (sw == 2) /* the common 2x2/2 pool: a constant stride the vectoriser handles */
                        max_tap(x + tap, tap, 2, cols, best, idx);
                    else
                        max_tap(x + tap, tap, sw, cols, best, idx);
                }
        }
}

static void max_plane_any(const dfp_pool2d_shape *s, int64_t oh, int64_t ow, const float *x, float *y,
                          int32_t *arg, dfp_max2x2_plane_fn max2x2)
{
    if (max2x2) {
        max2x2(s, oh, ow, x, y, arg);
        return;
    }
    if (s->pad_h == 0 && s->pad_w == 0)
        max_plane_unpadded(s, oh, ow, x, y, arg);
    else
        max_plane(s, oh, ow, x, y, arg);
}

dfp_status dfp_max_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y, int32_t *argmax)
{
    int64_t oh, ow;
    dfp_status st = dfp_pool2d_output_size(shape, &oh, &ow);
    if (st != DFP_OK)
        return st;
    if (!x || !y || !argmax)
        return DFP_ERR_NULL_POINTER;
    if (shape->in_h * shape->in_w > INT32_MAX)
        return DFP_ERR_INVALID_SHAPE;
    int64_t planes = shape->batch * shape->channels, in_plane = shape->in_h * shape->in_w;
    const int is2x2 = shape->kernel_h == 2 && shape->kernel_w == 2 && shape->stride_h == 2 &&
                      shape->stride_w == 2 && shape->pad_h == 0 && shape->pad_w == 0;
    const dfp_max2x2_plane_fn max2x2 = is2x2 ? dfp_kernels()->move.max2x2_plane : NULL;
#pragma omp parallel for num_threads(pool_threads(shape)) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        max_plane_any(shape, oh, ow, x + p * in_plane, y + p * oh * ow, argmax + p * oh * ow, max2x2);
    return DFP_OK;
}

dfp_status dfp_max_pool2d_backward_f32(int64_t planes, int64_t in_plane, int64_t out_plane, const float *dy,
                                       const int32_t *argmax, float *dx)
{
    if (planes < 1 || in_plane < 1 || out_plane < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (!dy || !argmax || !dx)
        return DFP_ERR_NULL_POINTER;
    int64_t work = planes * in_plane / DFP_POOL_MIN_PER_THREAD;
    int bad = 0;
#pragma omp parallel for num_threads(dfp_threads_for_work(work < planes ? work : planes)) \
    schedule(static) reduction(| : bad)
    for (int64_t p = 0; p < planes; p++) {
        float *dxp = dx + p * in_plane;
        memset(dxp, 0, (size_t)in_plane * sizeof(float));
        for (int64_t o = 0; o < out_plane; o++) {
            int32_t i = argmax[p * out_plane + o];
            if (i < 0 || i >= in_plane)
                bad = 1;
            else
                dxp[i] += dy[p * out_plane + o];
        }
    }
    return bad ? DFP_ERR_INVALID_ARGUMENT : DFP_OK;
}

dfp_status dfp_avg_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y)
{
    int64_t oh, ow;
    dfp_status st = dfp_pool2d_output_size(shape, &oh, &ow);
    if (st != DFP_OK)
        return st;
    if (!x || !y)
        return DFP_ERR_NULL_POINTER;
    int64_t planes = shape->batch * shape->channels, in_plane = shape->in_h * shape->in_w;
    float div = (float)(shape->kernel_h * shape->kernel_w);
#pragma omp parallel for num_threads(pool_threads(shape)) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in_plane;
        for (int64_t o = 0; o < oh * ow; o++) {
            int64_t h0, h1, w0, w1;
            window(shape, o / ow, o % ow, &h0, &h1, &w0, &w1);
            float sum = 0.0f;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++)
                    sum += xp[h * shape->in_w + w];
            y[p * oh * ow + o] = sum / div;
        }
    }
    return DFP_OK;
}

dfp_status dfp_avg_pool2d_backward_f32(const dfp_pool2d_shape *shape, const float *dy, float *dx)
{
    int64_t oh, ow;
    dfp_status st = dfp_pool2d_output_size(shape, &oh, &ow);
    if (st != DFP_OK)
        return st;
    if (!dy || !dx)
        return DFP_ERR_NULL_POINTER;
    int64_t planes = shape->batch * shape->channels, in_plane = shape->in_h * shape->in_w;
    float div = (float)(shape->kernel_h * shape->kernel_w);
#pragma omp parallel for num_threads(pool_threads(shape)) schedule(static)
    for (int64_t p = 0; p < planes; p++) {
        float *dxp = dx + p * in_plane;
        memset(dxp, 0, (size_t)in_plane * sizeof(float));
        for (int64_t o = 0; o < oh * ow; o++) {
            int64_t h0, h1, w0, w1;
            window(shape, o / ow, o % ow, &h0, &h1, &w0, &w1);
            float share = dy[p * oh * ow + o] / div;
            for (int64_t h = h0; h < h1; h++)
                for (int64_t w = w0; w < w1; w++)
                    dxp[h * shape->in_w + w] += share;
        }
    }
    return DFP_OK;
}
