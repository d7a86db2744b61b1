/* DFP16 convolution: the operands are quantised once per tensor (per-tensor
 * exponent, chosen rounding), then blocked im2col over tiles of output pixels
 * runs on the INT16 data and every product goes through the integer GEMM:
 *   FPROP  y[n][:, tile]  = 2^(ew+ex)  Wq (O x CKK) . colq (CKK x P)
 *   BPROP  dcol           = 2^(ew+edy) Wq^T . dyq[n][:, tile], col2im into dx[n]
 *   WTGRAD dW            += 2^(edy+ex) dyq[n] (O x P) . colq^T   (images in order)
 * Threads: FPROP and BPROP spread images over threads (each GEMM then runs on
 * one); WTGRAD runs images in order on a threaded GEMM, so dW's summation order
 * is fixed. Results do not depend on the thread count. */
#include "dfpengine.h"
#include "igemm.h"
#include "im2col.h"
#include "kernel_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE_ELEMS (128 * 1024) /* int16 column tile budget (256 KiB) */

typedef struct qtensor {
    int16_t *q;
    int32_t e;
} qtensor;

typedef struct conv_job {
    dfp_conv_geom g;
    int64_t batch, out_ch, ckk, pixels, in_pixels, tile;
    qtensor x, w, dy;
} conv_job;

static dfp_status quantize_tensor(const float *x, int64_t n, const dfp_dfp16_params *p,
                                  qtensor *t, int64_t *sat)
{
    t->q = malloc((size_t)(n > 0 ? n : 1) * sizeof(int16_t));
    if (!t->q)
        return DFP_ERR_OUT_OF_MEMORY;
    int64_t s = 0;
    dfp_status st = dfp_dfp16_quantize(x, 1, n, DFP_GRAN_TENSOR, 0, p, t->q, &t->e, &s);
    *sat += s;
    return st;
}

static dfp_status make_job(const dfp_conv2d_shape *s, conv_job *j)
{
    int64_t oh, ow;
    dfp_status st = dfp_conv2d_output_size(s, &oh, &ow);
    if (st != DFP_OK)
        return st;
    memset(j, 0, sizeof(*j));
    j->g = (dfp_conv_geom){s->in_channels, s->in_h, s->in_w, s->kernel_h, s->kernel_w, s->stride_h,
                           s->stride_w, s->pad_h, s->pad_w, s->dilation_h, s->dilation_w, oh, ow};
    j->batch = s->batch;
    j->out_ch = s->out_channels;
    j->ckk = s->in_channels * s->kernel_h * s->kernel_w;
    j->pixels = oh * ow;
    j->in_pixels = s->in_h * s->in_w;
    j->tile = TILE_ELEMS / j->ckk > 16 ? TILE_ELEMS / j->ckk : 16;
    j->tile = j->tile < j->pixels ? j->tile : j->pixels;
    return DFP_OK;
}

static void free_job(conv_job *j)
{
    free(j->x.q), free(j->w.q), free(j->dy.q);
}

static dfp_s16_source s16(const int16_t *data, int64_t ld, int k_contig, int64_t rows, int64_t k)
{
    dfp_s16_source s = {.pack = dfp_pack_s16_from_s16, .data = data, .ld = ld,
                        .k_contiguous = k_contig, .rows = rows, .k = k};
    return s;
}

/* 2^e for a DFP16 exponent (always a normal float: e in [-126, 127]). */
static inline float pow2(int32_t e) { return ldexpf(1.0f, e); }

static inline void add_stats(dfp_gemm_stats *to, const dfp_gemm_stats *from)
{
    to->flushes += from->flushes;
    to->saturations += from->saturations;
    to->chunk_len = from->chunk_len;
}

/* FPROP of image n: tiles of output pixels. */
static dfp_status fprop_image(const conv_job *j, int64_t n, int16_t *col, const float *bias,
                              float *y, dfp_gemm_stats *st)
{
    const int16_t *xn = j->x.q + n * j->g.channels * j->in_pixels;
    float *yn = y + n * j->out_ch * j->pixels;
    dfp_s16_source a = s16(j->w.q, j->ckk, 1, j->out_ch, j->ckk);
    for (int64_t p0 = 0; p0 < j->pixels; p0 += j->tile) {
        int64_t np = j->pixels - p0 < j->tile ? j->pixels - p0 : j->tile;
        dfp_im2col_tile(&j->g, xn, sizeof(int16_t), p0, np, col, np);
        dfp_s16_source b = s16(col, np, 0, np, j->ckk);
        dfp_status s = dfp_igemm_run(&a, &b, pow2(j->w.e), pow2(j->x.e), yn + p0, j->pixels, 0, st);
        if (s != DFP_OK)
            return s;
    }
    for (int64_t o = 0; bias && o < j->out_ch; o++)
        for (int64_t p = 0; p < j->pixels; p++)
            yn[o * j->pixels + p] += bias[o];
    return DFP_OK;
}

/* BPROP of image n: dcol per tile, scattered into dx[n]. */
static dfp_status bprop_image(const conv_job *j, int64_t n, float *dcol, float *dx,
                              dfp_gemm_stats *st)
{
    const int16_t *dyn = j->dy.q + n * j->out_ch * j->pixels;
    float *dxn = dx + n * j->g.channels * j->in_pixels;
    memset(dxn, 0, sizeof(float) * (size_t)(j->g.channels * j->in_pixels));
    dfp_s16_source a = s16(j->w.q, j->ckk, 0, j->ckk, j->out_ch);
    for (int64_t p0 = 0; p0 < j->pixels; p0 += j->tile) {
        int64_t np = j->pixels - p0 < j->tile ? j->pixels - p0 : j->tile;
        dfp_s16_source b = s16(dyn + p0, j->pixels, 0, np, j->out_ch);
        dfp_status s = dfp_igemm_run(&a, &b, pow2(j->w.e), pow2(j->dy.e), dcol, np, 0, st);
        if (s != DFP_OK)
            return s;
        dfp_col2im_tile_f32(&j->g, dcol, np, p0, np, dxn);
    }
    return DFP_OK;
}

/* Images spread over threads; each GEMM inside runs on its thread. */
static dfp_status per_image(const conv_job *j, size_t ws_bytes, int fprop, const float *bias,
                            float *out, dfp_gemm_stats *stats)
{
    int failed = 0;
    dfp_gemm_stats total = {0};
#pragma omp parallel num_threads(dfp_threads_for_work(j->batch)) reduction(| : failed)
    {
        void *ws = malloc(ws_bytes);
        dfp_gemm_stats st = {0};
        failed |= !ws;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < j->batch; n++)
            if (ws)
                failed |= (fprop ? fprop_image(j, n, ws, bias, out, &st)
                                 : bprop_image(j, n, ws, out, &st)) != DFP_OK;
        free(ws);
#pragma omp critical
        add_stats(&total, &st);
    }
    if (stats)
        add_stats(stats, &total), stats->chunk_len = total.chunk_len;
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

dfp_status dfp_conv2d_forward_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                    const float *bias, float *y, const dfp_dfp16_params *px,
                                    const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !x || !w || !y || !px || !pw)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = quantize_tensor(x, j.batch * j.g.channels * j.in_pixels, px, &j.x, &sat);
    if (st == DFP_OK)
        st = quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = per_image(&j, sizeof(int16_t) * (size_t)(j.ckk * j.tile), 1, bias, y, stats);
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(&j);
    return st;
}

dfp_status dfp_conv2d_backward_data_dfp16(const dfp_conv2d_shape *shape, const float *dy,
                                          const float *w, float *dx, const dfp_dfp16_params *pdy,
                                          const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !dy || !w || !dx || !pdy || !pw)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = quantize_tensor(dy, j.batch * j.out_ch * j.pixels, pdy, &j.dy, &sat);
    if (st == DFP_OK)
        st = quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = per_image(&j, sizeof(float) * (size_t)(j.ckk * j.tile), 0, NULL, dx, stats);
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(&j);
    return st;
}

static dfp_status wtgrad_images(const conv_job *j, float *dw, dfp_gemm_stats *stats)
{
    int16_t *col = malloc(sizeof(int16_t) * (size_t)(j->ckk * j->tile));
    if (!col)
        return DFP_ERR_OUT_OF_MEMORY;
    dfp_status st = DFP_OK;
    int first = 1;
    for (int64_t n = 0; n < j->batch && st == DFP_OK; n++) {
        const int16_t *xn = j->x.q + n * j->g.channels * j->in_pixels;
        const int16_t *dyn = j->dy.q + n * j->out_ch * j->pixels;
        for (int64_t p0 = 0; p0 < j->pixels && st == DFP_OK; p0 += j->tile, first = 0) {
            int64_t np = j->pixels - p0 < j->tile ? j->pixels - p0 : j->tile;
            dfp_im2col_tile(&j->g, xn, sizeof(int16_t), p0, np, col, np);
            dfp_s16_source a = s16(dyn + p0, j->pixels, 1, j->out_ch, np);
            dfp_s16_source b = s16(col, np, 1, j->ckk, np);
            st = dfp_igemm_run(&a, &b, pow2(j->dy.e), pow2(j->x.e), dw, j->ckk, !first, stats);
        }
    }
    free(col);
    return st;
}

dfp_status dfp_conv2d_backward_weight_dfp16(const dfp_conv2d_shape *shape, const float *x,
                                            const float *dy, float *dw, const dfp_dfp16_params *px,
                                            const dfp_dfp16_params *pdy, dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !x || !dy || !dw || !px || !pdy)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = quantize_tensor(x, j.batch * j.g.channels * j.in_pixels, px, &j.x, &sat);
    if (st == DFP_OK)
        st = quantize_tensor(dy, j.batch * j.out_ch * j.pixels, pdy, &j.dy, &sat);
    if (st == DFP_OK && j.batch == 0)
        memset(dw, 0, sizeof(float) * (size_t)(j.out_ch * j.ckk));
    if (st == DFP_OK)
        st = wtgrad_images(&j, dw, stats);
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(&j);
    return st;
}
