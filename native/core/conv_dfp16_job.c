#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
/* The DFP16 convolution's job (shape, quantised operands) and its quantisers
 * into plane-pair layouts, shared by FPROP/BPROP (conv_dfp16.c) and WTGRAD
 * (conv_dfp16_wtgrad.c). */
#include "conv_batch.h"
#include "conv_dfp16_job.h"
#include "conv_s16_pack.h"
#include "igemm.h"
#include "scratch.h"

#include <string.h>
#include <time.h>

int64_t dfp_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dfp_conv_add_quant_stats(const conv_job *j, dfp_gemm_stats *stats)
{
    if (!stats)
        return;
    stats->quantize_ns += j->x.ns + j->w.ns + j->dy.ns;
    stats->quantized += j->x.count + j->w.count + j->dy.count;
}

int dfp_conv_params_valid(const dfp_dfp16_params *p)
{
    return p->shift >= 0 && p->shift <= 3 && p->rounding >= DFP_ROUND_NEAREST &&
           p->rounding <= DFP_ROUND_BIASED;
}

dfp_status dfp_conv_weight_chunking(const int16_t *wp, int mr, int64_t kp, int64_t rows, int32_t wmax,
                                    int32_t other_max, int64_t *chunk, int64_t *kc)
{
    dfp_l1_groups g;
    if (dfp_l1_groups_init(&g, rows, (kp + DFP_L1_GROUP - 1) / DFP_L1_GROUP, 0) != DFP_OK)
        return DFP_ERR_OUT_OF_MEMORY;
    dfp_l1_groups_from_panels(wp, mr, kp, &g);
    dfp_igemm_chunking_l1(&g, other_max, wmax, other_max, chunk, kc);
    dfp_l1_groups_free(&g);
    return DFP_OK;
}

dfp_status dfp_conv_quantize_tensor(const float *x, int64_t n, const dfp_dfp16_params *p, qtensor *t,
                                    int64_t *sat)
{
    if (!dfp_conv_params_valid(p))
        return DFP_ERR_INVALID_ARGUMENT;
    const int64_t t0 = dfp_clock_ns();
    t->q = dfp_scratch_take((size_t)(n > 0 ? n : 1) * sizeof(int16_t));
    if (!t->q)
        return DFP_ERR_OUT_OF_MEMORY;
    int bad = 0;
    *sat += dfp_dfp16_quantize_tensor_par(x, n, p, t->q, &t->e, &bad, &t->max_abs);
    t->ns += dfp_clock_ns() - t0;
    t->count += n;
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}

int64_t dfp_conv_pairs_size(int64_t batch, int64_t channels, int64_t h, int64_t w, int64_t pad_h,
                            int64_t pad_w, int pair_images)
{
    int64_t planes = pair_images ? (batch + 1) / 2 * channels : batch * ((channels + 1) / 2);
    return planes * (h + 2 * pad_h) * (w + 2 * pad_w) * 2 + 2 * PAIRS_SLACK;
}

/* One pass of the plane-pair quantiser; with imgpairs (channel pairs without bn
 * only) the quad kernel writes that layout too where it applies, and
 * *imgpairs_done says whether it did. */
static int64_t quantize_pass(const float *x, int64_t batch, int64_t channels, int64_t h, int64_t w,
                             int64_t pad_h, int64_t pad_w, int pair_images, const dfp_bn_relu_input *bn,
                             const dfp_quant_run *run, int16_t *q, int16_t *imgpairs, int *imgpairs_done,
                             int32_t *qmax, uint32_t *xmax)
{
    if (imgpairs && !pair_images && !bn) {
        int64_t n = dfp_quantize_plane_quads(x, batch, channels, h, w, pad_h, pad_w, run, q, imgpairs, qmax, xmax);
        if (n != DFP_QUADS_NOT_APPLICABLE) {
            *imgpairs_done = 1;
            return n;
        }
    }
    return dfp_quantize_plane_pairs(x, batch, channels, h, w, pad_h, pad_w, pair_images, bn, run,
                                    q, qmax, xmax);
}

dfp_status dfp_conv_quantize_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                   int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                   const dfp_bn_relu_input *bn, const dfp_dfp16_params *p,
                                   qtensor *t, int64_t *sat, int16_t *into)
{
    return dfp_conv_quantize_both_layouts(x, batch, channels, h, w, pad_h, pad_w, pair_images, bn,
                                        p, t, sat, into, NULL, NULL);
}

dfp_status dfp_conv_quantize_both_layouts(const float *x, int64_t batch, int64_t channels, int64_t h,
                                        int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                        const dfp_bn_relu_input *bn,
                                        const dfp_dfp16_params *p, qtensor *t, int64_t *sat, int16_t *into,
                                        int16_t *imgpairs, int *imgpairs_done)
{
    int done = 0;
    if (!dfp_conv_params_valid(p) || (bn && (!bn->scale || !bn->shift)))
        return DFP_ERR_INVALID_ARGUMENT;
    const int64_t t0 = dfp_clock_ns();
    const int64_t size = dfp_conv_pairs_size(batch, channels, h, w, pad_h, pad_w, pair_images);
    int16_t *q = into ? into : dfp_scratch_take((size_t)size * sizeof(int16_t));
    if (!q)
        return DFP_ERR_OUT_OF_MEMORY;
    memset(q + size - 2 * PAIRS_SLACK, 0, 2 * PAIRS_SLACK * sizeof(int16_t));
    t->q = into ? NULL : q; /* owned only when allocated here */
    int64_t n_sat = -1;
    const int expected = p->use_expected_exponent && p->expected_exponent >= -126 && p->expected_exponent <= 127;
    if (expected || bn) {
        /* one pass: quantise with the expected exponent, taking the maximum on the
         * way (batch norm's values exist only inside the pass: without a guess,
         * exponent 0 stands in, and a second pass follows) */
        uint32_t xmax = 0;
        const int32_t guess = expected ? p->expected_exponent : 0;
        dfp_quant_run run = dfp_dfp16_run(guess, p, 0);
        n_sat = quantize_pass(x, batch, channels, h, w, pad_h, pad_w, pair_images, bn, &run, q,
                              imgpairs, &done, &t->max_abs, &xmax);
        if (n_sat < 0)
            return DFP_ERR_OUT_OF_MEMORY;
        if (xmax >= 0x7f800000U)
            return DFP_ERR_NOT_FINITE;
        t->e = dfp_dfp16_exponent(xmax, p->shift);
        if (t->e != guess)
            n_sat = -1; /* another exponent: its codes, from a second pass */
    } else {
        int bad = 0;
        t->e = dfp_dfp16_tensor_exponent(x, batch * channels * h * w, p->shift, &bad);
        if (bad)
            return DFP_ERR_NOT_FINITE;
    }
    if (n_sat < 0) {
        dfp_quant_run run = dfp_dfp16_run(t->e, p, 0);
        n_sat = quantize_pass(x, batch, channels, h, w, pad_h, pad_w, pair_images, bn, &run, q,
                              imgpairs, &done, &t->max_abs, NULL);
        if (n_sat < 0)
            return DFP_ERR_OUT_OF_MEMORY;
    }
    *sat += n_sat;
    t->ns += dfp_clock_ns() - t0;
    t->count += batch * channels * h * w;
    if (imgpairs_done)
        *imgpairs_done = done;
    return DFP_OK;
}

dfp_status dfp_conv_make_job(const dfp_conv2d_shape *s, conv_job *j)
{
    dfp_conv_batch cb;
    dfp_status st = dfp_conv_batch_of(s, &cb);
    if (st != DFP_OK)
        return st;
    memset(j, 0, sizeof(*j));
    j->g = cb.g;
    j->batch = cb.batch;
    j->out_ch = cb.out_ch;
    j->ckk = cb.taps;
    j->pixels = cb.pixels;
    j->in_pixels = s->in_h * s->in_w;
    return DFP_OK;
}

void dfp_conv_free_job(conv_job *j)
{
    dfp_scratch_give(j->x.q), dfp_scratch_give(j->w.q), dfp_scratch_give(j->dy.q);
}
