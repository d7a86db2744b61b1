/* ReLU and batch norm in FP32 (portable C; the loops are simple enough for the
 * compiler to vectorise, and they are memory-bound). Batch-norm sums run in
 * double (both sums of a channel in one pass), per channel, in a fixed order:
 * results do not depend on the thread count. Plane and channel loops share out
 * their work (work_share.h: a thread slowed by another process on its core takes
 * less): a plane's or channel's results are the same whichever thread computes them. */
#include "bn_plane_sums.h"
#include "dfpengine.h"
#include "kernel_table.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

#include <math.h>

/* Planes per unit of shared-out work in batch norm's plane loops. */
#define BN_UNIT_PLANES 16

/* Element-wise loops: below this many elements per thread, one thread. */
#define DFP_ELTWISE_MIN_PER_THREAD (1 << 15)

static inline int eltwise_threads(int64_t n) { return dfp_threads_for_work(n / DFP_ELTWISE_MIN_PER_THREAD); }

/* Per-channel loops: at most one thread per channel. */
static inline int channel_threads(int64_t c, int64_t total)
{
    int64_t work = total / DFP_ELTWISE_MIN_PER_THREAD;
    return dfp_threads_for_work(work < c ? work : c);
}

/* max(v, 0); NaN propagates */
static inline float relu_f32(float v) { return v > 0.0f || v != v ? v : 0.0f; }

dfp_status dfp_add_f32(int64_t n, const float *a, const float *b, float *out)
{
    if (n < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (!a || !b || !out)
        return DFP_ERR_NULL_POINTER;
#pragma omp parallel for num_threads(eltwise_threads(n)) schedule(static)
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
    return DFP_OK;
}

dfp_status dfp_relu_forward_f32(int64_t n, const float *x, float *y, uint8_t *mask)
{
    if (n < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (!x || !y || !mask)
        return DFP_ERR_NULL_POINTER;
#pragma omp parallel for num_threads(eltwise_threads(n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        mask[i] = v > 0.0f;
        y[i] = relu_f32(v);
    }
    return DFP_OK;
}

dfp_status dfp_relu_backward_f32(int64_t n, const float *dy, const uint8_t *mask, float *dx)
{
    if (n < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (!dy || !mask || !dx)
        return DFP_ERR_NULL_POINTER;
#pragma omp parallel for num_threads(eltwise_threads(n)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i]; /* read unconditionally: a select, not a branch, so it vectorises */
        dx[i] = mask[i] ? g : 0.0f;
    }
    return DFP_OK;
}

static inline dfp_status bn_check(int64_t n, int64_t c, int64_t hw)
{
    return n < 1 || c < 1 || hw < 1 ? DFP_ERR_INVALID_SHAPE : DFP_OK;
}

/* Both sums of one plane in one pass, in double (kernel table; see fp32_kernels.h) */
static inline void plane_sums(const float *x, const float *y, int64_t len, double shift, double out[2])
{
    dfp_kernels()->fp32.sum2_f64(x, y, len, shift, out);
}

/* Channel ch's two sums from the per-plane pairs part[2 (b c + ch) ..], added in
 * image order from 0: what summing plane after plane within the channel gives,
 * whichever order the planes were summed in. */
static void channel_sums(const double *part, int64_t n, int64_t c, int64_t ch, double out[2])
{
    double s = 0, q = 0;
    for (int64_t b = 0; b < n; b++) {
        s += part[2 * (b * c + ch)];
        q += part[2 * (b * c + ch) + 1];
    }
    out[0] = s, out[1] = q;
}

void dfp_bn_plane_sums(const float *x, int64_t planes, int64_t hw, double *sums)
{
    for (int64_t p = 0; p < planes; p++) {
        const float *plane = x + p * hw;
        sums[3 * p] = plane[0];
        plane_sums(plane, NULL, hw, (double)plane[0], sums + 3 * p + 1);
    }
}

void dfp_bn_plane_sums_par(const float *x, int64_t planes, int64_t hw, double *sums)
{
    dfp_work_share ws;
#pragma omp parallel num_threads(eltwise_threads(planes * hw))
    {
        dfp_work_share_start(&ws, units_of(planes, BN_UNIT_PLANES)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, planes, BN_UNIT_PLANES, &i0, &i1);)
            dfp_bn_plane_sums(x + i0 * hw, i1 - i0, hw, sums + 3 * i0);
    }
}

dfp_status dfp_batch_norm_stats_from_planes_f32(int64_t n, int64_t c, int64_t hw, const double *sums,
                                                float *mean, float *var)
{
    dfp_status st = bn_check(n, c, hw);
    if (st != DFP_OK)
        return st;
    if (!sums || !mean || !var)
        return DFP_ERR_NULL_POINTER;
    const double count = (double)n * hw;
    for (int64_t ch = 0; ch < c; ch++) {
        /* around image 0's first value: each plane's sums moved there from its own
         * first value (sum (x - s0)^2 = sum (x - s)^2 + 2 d sum (x - s) + hw d^2,
         * d = s - s0), added in image order; the double E[d^2] - E[d]^2 around a
         * value of the channel loses nothing that matters when mean >> std */
        const double s0 = sums[3 * ch];
        double s = 0, q = 0;
        for (int64_t b = 0; b < n; b++) {
            const double *p = sums + 3 * (b * c + ch), d = p[0] - s0;
            q += p[2] + 2 * d * p[1] + (double)hw * d * d;
            s += p[1] + (double)hw * d;
        }
        double dm = s / count, v = q / count - dm * dm;
        mean[ch] = (float)(s0 + dm);
        var[ch] = (float)(v > 0 ? v : 0);
    }
    return DFP_OK;
}

dfp_status dfp_batch_norm_stats_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *mean,
                                    float *var)
{
    dfp_status st = bn_check(n, c, hw);
    if (st != DFP_OK)
        return st;
    if (!x || !mean || !var)
        return DFP_ERR_NULL_POINTER;
    /* planes in memory order (a channel's planes lie c * hw floats apart; channel
     * by channel, every plane is a new stream for the prefetchers) */
    double *sums = malloc((size_t)(n * c) * 3 * sizeof(double));
    if (!sums)
        return DFP_ERR_OUT_OF_MEMORY;
    dfp_bn_plane_sums_par(x, n * c, hw, sums);
    st = dfp_batch_norm_stats_from_planes_f32(n, c, hw, sums, mean, var);
    free(sums);
    return st;
}

/* y = x * scale + shift per channel, then + residual (when given), then ReLU
 * (when relu); the rounding of the unfused ops: product, then each sum, in float
 * (the file builds with -ffp-contract=off). */
static dfp_status bn_apply_planes(int64_t n, int64_t c, int64_t hw, const float *x,
                                  const float *scale, const float *shift, const float *residual,
                                  int relu, float *y)
{
    dfp_status st = bn_check(n, c, hw);
    if (st != DFP_OK)
        return st;
    if (!x || !scale || !shift || !y)
        return DFP_ERR_NULL_POINTER;
    dfp_work_share ws;
#pragma omp parallel num_threads(eltwise_threads(n * c * hw))
    {
        dfp_work_share_start(&ws, units_of(n * c, BN_UNIT_PLANES)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, n * c, BN_UNIT_PLANES, &i0, &i1);)
            for (int64_t plane = i0; plane < i1; plane++) {
                float a = scale[plane % c], b = shift[plane % c];
                const float *xp = x + plane * hw, *rp = residual ? residual + plane * hw : NULL;
                float *yp = y + plane * hw;
                if (rp)
                    for (int64_t i = 0; i < hw; i++)
                        yp[i] = relu_f32((xp[i] * a + b) + rp[i]);
                else if (relu)
                    for (int64_t i = 0; i < hw; i++)
                        yp[i] = relu_f32(xp[i] * a + b);
                else
                    for (int64_t i = 0; i < hw; i++)
                        yp[i] = xp[i] * a + b;
            }
    }
    return DFP_OK;
}

dfp_status dfp_batch_norm_apply_f32(int64_t n, int64_t c, int64_t hw, const float *x, const float *scale,
                                    const float *shift, int relu, float *y)
{
    return bn_apply_planes(n, c, hw, x, scale, shift, NULL, relu, y);
}

/* dbeta and dgamma of one channel, in double */
static inline void bn_channel_sums(int64_t n, int64_t c, int64_t hw, int64_t ch, const float *dy,
                                   const float *x, float mean, float invstd, double *dbeta, double *dgamma)
{
    double sb = 0, sg = 0, part[2];
    for (int64_t b = 0; b < n; b++) {
        plane_sums(x + (b * c + ch) * hw, dy + (b * c + ch) * hw, hw, mean, part);
        sb += part[0];
        sg += part[1];
    }
    *dbeta = sb;
    *dgamma = sg * invstd; /* sum dy * (x - mean) * invstd */
}

dfp_status dfp_batch_norm_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy, const float *x,
                                       const float *mean, const float *invstd, const float *gamma,
                                       float *dx, float *dgamma, float *dbeta)
{
    dfp_status st = bn_check(n, c, hw);
    if (st != DFP_OK)
        return st;
    if (!dy || !x || !mean || !invstd || !gamma || !dx || !dgamma || !dbeta)
        return DFP_ERR_NULL_POINTER;
    float count = (float)(n * hw);
    dfp_work_share ws;
#pragma omp parallel num_threads(channel_threads(c, n * c * hw))
    {
        dfp_work_share_start(&ws, units_of(c, 1)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, c, 1, &i0, &i1);)
            for (int64_t ch = i0; ch < i1; ch++) {
                double sb, sg;
                bn_channel_sums(n, c, hw, ch, dy, x, mean[ch], invstd[ch], &sb, &sg);
                float db = (float)sb, dg = (float)sg, m = mean[ch], is = invstd[ch];
                float k = gamma[ch] * is / count;
                for (int64_t b = 0; b < n; b++) {
                    const float *dyp = dy + (b * c + ch) * hw, *xp = x + (b * c + ch) * hw;
                    float *dxp = dx + (b * c + ch) * hw;
                    for (int64_t i = 0; i < hw; i++)
                        dxp[i] = k * (count * dyp[i] - db - ((xp[i] - m) * is) * dg);
                }
                dbeta[ch] = db;
                dgamma[ch] = dg;
            }
    }
    return DFP_OK;
}

/* ---- batch norm fused with ReLU (and the residual add before it) ------
 * Forward rounds as the unfused ops do (product, then each sum, in float; the
 * file builds with -ffp-contract=off), so the fused and unfused paths agree
 * bit for bit. Backward needs no mask: relu'(z) = (y > 0). */

dfp_status dfp_batch_norm_relu_forward_f32(int64_t n, int64_t c, int64_t hw, const float *x,
                                           const float *scale, const float *shift,
                                           const float *residual, float *y)
{
    return bn_apply_planes(n, c, hw, x, scale, shift, residual, 1, y);
}

/* dx of one plane (offset off, channel constants) from g (the masked gradient,
 * in place when g == dx), or with g NULL from dy masked by x * za + zb > 0 (the
 * forward's z, recomputed): the kernel table's bn_dx */
static inline void bn_plane_dx(int64_t off, int64_t hw, float count, const float *g, const float *dy,
                               float za, float zb, const float *x, float m, float is, float gamma, float db,
                               float dg, int training, float *dx)
{
    const dfp_bn_dx_coef c = {m, is, count, gamma * is / count, gamma * is, db, dg};
    dfp_kernels()->fp32.bn_dx(g ? g + off : NULL, dy + off, za, zb, x + off, &c, training, hw, dx + off);
}

/* Planes of fewer values than this go through batch-norm + ReLU backward in
 * memory order: each pass over the whole tensor, plane after plane. Larger
 * planes go channel by channel, the second pass over a channel's planes while
 * the first left them in cache. Channel by channel, a small plane (ResNet's
 * 16 x 16 and 8 x 8) is a short jump to the next image's: the prefetchers never
 * get going. Both orders give the same floats (the same per-plane sums, added
 * per channel in image order). */
#define BN_MEMORY_ORDER_MAX_HW 1024

static dfp_status relu_backward_memory_order(int64_t n, int64_t c, int64_t hw, const float *dy,
                                             const float *y, const float *x, const float *scale,
                                             const float *shift, const float *mean, const float *invstd,
                                             const float *gamma, int training, float *g, float *dx,
                                             float *dgamma, float *dbeta)
{
    dfp_relu_sum2_f64_fn sums = dfp_kernels()->fp32.relu_sum2_f64;
    double *part = malloc((size_t)(n * c) * 2 * sizeof(double));
    float *coef = malloc((size_t)c * 2 * sizeof(float));
    if (!part || !coef) {
        free(part), free(coef);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    dfp_work_share ws;
#pragma omp parallel num_threads(eltwise_threads(n * c * hw))
    {
        dfp_work_share_start(&ws, units_of(n * c, BN_UNIT_PLANES)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, n * c, BN_UNIT_PLANES, &i0, &i1);)
            for (int64_t plane = i0; plane < i1; plane++) { /* pass 1 */
                const int64_t ch = plane % c, off = plane * hw;
                sums(x + off, dy + off, y ? y + off : NULL, y ? 0.0f : scale[ch], y ? 0.0f : shift[ch], hw,
                     mean[ch], g ? g + off : NULL, part + 2 * plane);
            }
    }
    for (int64_t ch = 0; ch < c; ch++) {
        double sums[2];
        channel_sums(part, n, c, ch, sums);
        coef[2 * ch] = dbeta[ch] = (float)sums[0];
        coef[2 * ch + 1] = dgamma[ch] = (float)(sums[1] * invstd[ch]); /* as bn_channel_sums rounds */
    }
#pragma omp parallel num_threads(eltwise_threads(n * c * hw))
    {
        dfp_work_share_start(&ws, units_of(n * c, BN_UNIT_PLANES)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, n * c, BN_UNIT_PLANES, &i0, &i1);)
            for (int64_t plane = i0; plane < i1; plane++) { /* pass 2 */
                const int64_t ch = plane % c;
                bn_plane_dx(plane * hw, hw, (float)(n * hw), g, dy, y ? 0.0f : scale[ch], y ? 0.0f : shift[ch],
                            x, mean[ch], invstd[ch], gamma[ch], coef[2 * ch], coef[2 * ch + 1], training, dx);
            }
    }
    free(part), free(coef);
    return DFP_OK;
}

dfp_status dfp_batch_norm_relu_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy,
                                            const float *y, const float *x, const float *scale,
                                            const float *shift, const float *mean, const float *invstd,
                                            const float *gamma, int training, float *dx, float *dresidual,
                                            float *dgamma, float *dbeta)
{
    dfp_status st = bn_check(n, c, hw);
    if (st != DFP_OK)
        return st;
    if (!dy || !x || !mean || !invstd || !gamma || !dx || !dgamma || !dbeta || (!y && (!scale || !shift)))
        return DFP_ERR_NULL_POINTER;
    /* the masked gradient lives here between the passes; with z recomputed from x
     * (no y) and no residual gradient to return, it is not stored at all */
    float *g = dresidual ? dresidual : y ? dx : NULL;
    if (hw < BN_MEMORY_ORDER_MAX_HW)
        return relu_backward_memory_order(n, c, hw, dy, y, x, scale, shift, mean, invstd, gamma, training, g,
                                          dx, dgamma, dbeta);
    dfp_relu_sum2_f64_fn sums = dfp_kernels()->fp32.relu_sum2_f64;
    dfp_work_share ws;
#pragma omp parallel num_threads(channel_threads(c, n * c * hw))
    {
        dfp_work_share_start(&ws, units_of(c, 1)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, c, 1, &i0, &i1);)
            for (int64_t ch = i0; ch < i1; ch++) {
                double sb = 0, sg = 0, part[2];
                const float za = y ? 0.0f : scale[ch], zb = y ? 0.0f : shift[ch];
                for (int64_t b = 0; b < n; b++) { /* pass 1: g, sum g, sum g * (x - mean) */
                    int64_t off = (b * c + ch) * hw;
                    sums(x + off, dy + off, y ? y + off : NULL, za, zb, hw, mean[ch], g ? g + off : NULL, part);
                    sb += part[0];
                    sg += part[1];
                }
                float db = (float)sb, dg = (float)(sg * invstd[ch]); /* as bn_channel_sums rounds */
                for (int64_t b = 0; b < n; b++)
                    bn_plane_dx((b * c + ch) * hw, hw, (float)(n * hw), g, dy, za, zb, x, mean[ch], invstd[ch], gamma[ch],
                                db, dg, training, dx);
                dbeta[ch] = db;
                dgamma[ch] = dg;
            }
    }
    return DFP_OK;
}
