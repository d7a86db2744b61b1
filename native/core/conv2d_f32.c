/* FP32 convolution as three GEMM shapes over tiles of output pixels:
 *   FPROP  y[n][:, tile]   = W (O x CKK) * col (CKK x P)
 *   BPROP  dcol (CKK x P)  = W^T * dy[n][:, tile], then col2im into dx[n]
 *          (stride 1: a forward conv of dy with transposed, flipped weights)
 *   WTGRAD dW^T (CKK x O) += col * dy[n][:, tile]^T
 * (CKK = C*KH*KW, P = pixels in the tile). A 1x1 stride-1 unpadded conv
 * uses x / dx directly as the column matrix (no im2col).
 *
 * Threads: work items (tiles, or images for BPROP whose tiles overlap in dx)
 * are spread over threads, each with its own column tile and GEMM workspace;
 * with fewer items than threads, items run in turn on a threaded GEMM. */
#include "bn_plane_sums.h"
#include "conv2d_f32.h"
#include "conv_batch.h"
#include "dfpengine.h"
#include "im2col.h"
#include "kernel_table.h"
#include "pack_f32.h"
#include "sgemm.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* One work item; `col` holds ckk*tile floats, `ws` the GEMM workspace, `acc`
 * the thread's WTGRAD accumulator; threaded: use the threaded GEMM. */
typedef int (*conv_item_fn)(const conv_plan *pl, int64_t item, float *col, float *ws, float *acc,
                            int threaded); /* 0 ok, nonzero: out of memory */

dfp_status dfp_conv2d_output_size(const dfp_conv2d_shape *s, int64_t *out_h, int64_t *out_w)
{
    if (!s || !out_h || !out_w)
        return DFP_ERR_NULL_POINTER;
    if (s->batch < 1 || s->in_channels < 1 || s->in_h < 1 || s->in_w < 1 || s->out_channels < 1 ||
        s->kernel_h < 1 || s->kernel_w < 1)
        return DFP_ERR_INVALID_SHAPE;
    if (s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 || s->dilation_h < 1 ||
        s->dilation_w < 1)
        return DFP_ERR_INVALID_ARGUMENT;
    *out_h = (s->in_h + 2 * s->pad_h - s->dilation_h * (s->kernel_h - 1) - 1) / s->stride_h + 1;
    *out_w = (s->in_w + 2 * s->pad_w - s->dilation_w * (s->kernel_w - 1) - 1) / s->stride_w + 1;
    if (s->in_h + 2 * s->pad_h < s->dilation_h * (s->kernel_h - 1) + 1 ||
        s->in_w + 2 * s->pad_w < s->dilation_w * (s->kernel_w - 1) + 1 || *out_h < 1 || *out_w < 1)
        return DFP_ERR_INVALID_SHAPE;
    return DFP_OK;
}

static dfp_status make_plan(const dfp_conv2d_shape *s, conv_plan *pl)
{
    dfp_conv_batch cb;
    dfp_status st = dfp_conv_batch_of(s, &cb);
    if (st != DFP_OK)
        return st;
    memset(pl, 0, sizeof(*pl));
    pl->g = cb.g;
    pl->batch = cb.batch;
    pl->out_ch = cb.out_ch;
    pl->ckk = cb.taps;
    pl->pixels = cb.pixels;
    pl->in_pixels = s->in_h * s->in_w;
    pl->direct = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                 s->pad_h == 0 && s->pad_w == 0;
    int64_t tile = DFP_CONV_TILE_FLOATS / pl->ckk;
    tile = tile < 64 ? 64 : tile / 32 * 32;
    pl->tile = tile < pl->pixels ? tile : pl->pixels;
    pl->tiles = (pl->pixels + pl->tile - 1) / pl->tile;
    return DFP_OK;
}

/* 0 ok, nonzero when the threaded GEMM could not allocate its workspace */
static inline int gemm_run(dfp_sgemm_args g, float *ws, int threaded)
{
    if (threaded)
        return dfp_sgemm_f32_threaded(&g);
    dfp_sgemm_f32_serial(&g, ws);
    return 0;
}

/* Run items 0..items-1; `macs` estimates the total work. Returns DFP_ERR_OUT_OF_MEMORY or DFP_OK. */
static dfp_status conv_run(const conv_plan *pl, int64_t items, double macs, size_t ws_floats,
                           size_t acc_floats, conv_item_fn fn, float ***accs_out, int *nacc)
{
    double per = macs / DFP_CONV_MIN_MACS_PER_THREAD;
    int nt = dfp_threads_for_work(per < (double)items ? (int64_t)per : items);
    int threaded = nt < 2 || items < nt;
    if (threaded)
        nt = 1;
    /* a column tile, or B panels (tile padded to NR) plus one row of scratch */
    size_t col_floats = (size_t)(pl->ckk * (pl->tile + DFP_SGEMM_MAX_NR) + pl->tile) + 32;
    float **accs = calloc((size_t)nt, sizeof(float *));
    int failed = accs == NULL;
#pragma omp parallel num_threads(nt) reduction(| : failed) if (nt > 1)
    {
        int t = omp_get_thread_num();
        float *col = malloc(col_floats * sizeof(float));
        float *ws = malloc((ws_floats + 16) * sizeof(float));
        float *acc = acc_floats ? calloc(acc_floats, sizeof(float)) : NULL;
        if (!col || !ws || (acc_floats && !acc) || !accs) {
            failed = 1;
        } else {
            accs[t] = acc;
#pragma omp for schedule(static)
            for (int64_t item = 0; item < items; item++)
                failed |= fn(pl, item, col, ws, acc, threaded && dfp_num_threads() > 1);
        }
        free(col);
        free(ws);
    }
    *accs_out = accs;
    *nacc = nt;
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

static void free_accs(float **accs, int n)
{
    for (int i = 0; accs && i < n; i++)
        free(accs[i]);
    free(accs);
}

static inline int64_t tile_len(const conv_plan *pl, int64_t t)
{
    int64_t p0 = t * pl->tile;
    return pl->pixels - p0 < pl->tile ? pl->pixels - p0 : pl->tile;
}

/* ---- FPROP ---------------------------------------------------------------- */

static inline float *align64(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static void add_bias(const conv_plan *pl, float *y, int64_t np)
{
    for (int64_t o = 0; o < pl->out_ch; o++)
        for (int64_t q = 0; q < np; q++)
            y[o * pl->pixels + q] += pl->bias[o];
}

static int fprop_item(const conv_plan *pl, int64_t item, float *col, float *ws, float *acc, int threaded)
{
    int64_t n = item / pl->tiles, p0 = item % pl->tiles * pl->tile, np = tile_len(pl, item % pl->tiles);
    const float *x = pl->x + n * pl->g.channels * pl->in_pixels;
    float *y = pl->y + n * pl->out_ch * pl->pixels + p0;
    if (pl->wpack && !threaded) { /* im2col straight into B panels, weights packed once */
        const dfp_sgemm_ukernel *uk = pl->uk;
        float *bp = align64(col);
        float *row = bp + pl->ckk * ((np + uk->nr - 1) / uk->nr * uk->nr);
        dfp_im2col_panels_f32(&pl->g, x, p0, np, uk->nr, row, bp);
        dfp_sgemm_f32_packed(uk, pl->out_ch, np, pl->ckk, pl->wpack, bp, y, pl->pixels, ws);
        if (pl->bias)
            add_bias(pl, y, np);
        return 0;
    }
    const float *b = x + p0;
    int64_t ldb = pl->in_pixels;
    if (!pl->direct) {
        dfp_im2col_tile(&pl->g, x, sizeof(float), p0, np, col, np);
        b = col;
        ldb = np;
    }
    int failed = gemm_run(dfp_sgemm_make_args(0, 0, pl->out_ch, np, pl->ckk, 1.0f, pl->w, pl->ckk, b, ldb,
                                              0.0f, y, pl->pixels), ws, threaded);
    if (pl->bias)
        add_bias(pl, y, np);
    return failed;
}

dfp_status dfp_conv2d_forward_f32(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                  const float *bias, float *y)
{
    return dfp_conv2d_forward_f32_sums(shape, x, w, bias, y, NULL);
}

/* FPROP without y_sums; the in-place path sums each image's planes itself. */
static dfp_status forward(conv_plan *pl)
{
    if (dfp_conv_f32_fprop_inplace_applies(pl))
        return dfp_conv_f32_fprop_inplace(pl);
    float *wpack = NULL;
    if (!pl->direct) { /* pack the weights once for every tile (NULL: each tile packs its own) */
        pl->uk = dfp_sgemm_kernel_for(pl->out_ch, pl->tile);
        int64_t rows = (pl->out_ch + pl->uk->mr - 1) / pl->uk->mr * pl->uk->mr;
        wpack = malloc((size_t)(rows * pl->ckk) * sizeof(float));
        if (wpack)
            dfp_pack_a_f32(pl->uk->mr, pl->out_ch, pl->ckk, pl->w, pl->ckk, 1, wpack);
        pl->wpack = wpack;
    }
    double macs = (double)pl->batch * pl->pixels * pl->out_ch * pl->ckk;
    float **accs;
    int nacc;
    dfp_status st = conv_run(pl, pl->batch * pl->tiles, macs,
                             dfp_sgemm_workspace_floats(pl->out_ch, pl->tile, pl->ckk), 0, fprop_item, &accs, &nacc);
    free_accs(accs, nacc);
    free(wpack);
    return st;
}

dfp_status dfp_conv2d_forward_f32_sums(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                       const float *bias, float *y, double *y_sums)
{
    conv_plan pl;
    dfp_status st = make_plan(shape, &pl);
    if (st != DFP_OK)
        return st;
    if (!x || !w || !y)
        return DFP_ERR_NULL_POINTER;
    pl.x = x, pl.w = w, pl.bias = bias, pl.y = y;
    pl.y_sums = dfp_conv_f32_fprop_inplace_applies(&pl) ? y_sums : NULL;
    st = forward(&pl);
    if (st == DFP_OK && y_sums && !pl.y_sums)
        dfp_bn_plane_sums_par(y, pl.batch * pl.out_ch, pl.pixels, y_sums);
    return st;
}

/* ---- BPROP ---------------------------------------------------------------- */

static int bprop_item(const conv_plan *pl, int64_t n, float *col, float *ws, float *acc, int threaded)
{
    const float *dy = pl->dy + n * pl->out_ch * pl->pixels;
    float *dx = pl->dx + n * pl->g.channels * pl->in_pixels;
    int failed = 0;
    if (!pl->direct)
        memset(dx, 0, (size_t)(pl->g.channels * pl->in_pixels) * sizeof(float));
    for (int64_t t = 0; t < pl->tiles; t++) {
        int64_t p0 = t * pl->tile, np = tile_len(pl, t);
        float *c = pl->direct ? dx + p0 : col;
        int64_t ldc = pl->direct ? pl->in_pixels : np;
        failed |= gemm_run(dfp_sgemm_make_args(1, 0, pl->ckk, np, pl->out_ch, 1.0f, pl->w, pl->ckk,
                                               dy + p0, pl->pixels, 0.0f, c, ldc), ws, threaded);
        if (!pl->direct)
            dfp_col2im_tile_f32(&pl->g, col, np, p0, np, dx);
    }
    return failed;
}

/* Stride 1, "same" padding: dx is the forward convolution of dy with the
 * weights transposed (O <-> C) and flipped, padded by dilation*(k-1) - pad
 * (= pad). That runs the FPROP path (M = C channels, tiled over pixels, no
 * overlapping writes) instead of a column GEMM plus a scatter-add into dx.
 * With less padding the transposed conv would multiply mostly zero padding
 * (LeNet's 5x5 unpadded conv: twice the work), so those keep the scatter. */
static int transposed_conv_applies(const dfp_conv2d_shape *s)
{
    return s->stride_h == 1 && s->stride_w == 1 && 2 * s->pad_h == s->dilation_h * (s->kernel_h - 1) &&
           2 * s->pad_w == s->dilation_w * (s->kernel_w - 1) && s->kernel_h * s->kernel_w > 1;
}

static dfp_status backward_data_transposed(const dfp_conv2d_shape *s, const conv_plan *pl, const float *dy,
                                           const float *w, float *dx)
{
    int64_t o = s->out_channels, c = s->in_channels, kh = s->kernel_h, kw = s->kernel_w;
    float *wt = malloc((size_t)(o * c * kh * kw) * sizeof(float));
    if (!wt)
        return DFP_ERR_OUT_OF_MEMORY;
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < c; j++)
            for (int64_t u = 0; u < kh; u++)
                for (int64_t v = 0; v < kw; v++)
                    wt[((j * o + i) * kh + u) * kw + v] = w[((i * c + j) * kh + kh - 1 - u) * kw + kw - 1 - v];
    dfp_conv2d_shape t = *s;
    t.in_channels = o, t.out_channels = c, t.in_h = pl->g.out_h, t.in_w = pl->g.out_w;
    t.pad_h = s->dilation_h * (kh - 1) - s->pad_h;
    t.pad_w = s->dilation_w * (kw - 1) - s->pad_w;
    dfp_status st = dfp_conv2d_forward_f32(&t, dy, wt, NULL, dx);
    free(wt);
    return st;
}

dfp_status dfp_conv2d_backward_data_f32(const dfp_conv2d_shape *shape, const float *dy, const float *w,
                                        float *dx)
{
    conv_plan pl;
    dfp_status st = make_plan(shape, &pl);
    if (st != DFP_OK)
        return st;
    if (!dy || !w || !dx)
        return DFP_ERR_NULL_POINTER;
    if (transposed_conv_applies(shape))
        return backward_data_transposed(shape, &pl, dy, w, dx);
    pl.dy = dy, pl.w = w, pl.dx = dx;
    if (dfp_conv_f32_bprop_phases_applies(&pl))
        return dfp_conv_f32_bprop_phases(&pl);
    double macs = (double)pl.batch * pl.pixels * pl.out_ch * pl.ckk;
    float **accs;
    int nacc;
    st = conv_run(&pl, pl.batch, macs, dfp_sgemm_workspace_floats(pl.ckk, pl.tile, pl.out_ch), 0,
                  bprop_item, &accs, &nacc);
    free_accs(accs, nacc);
    return st;
}

/* ---- WTGRAD --------------------------------------------------------------- */

/* Computed transposed, dW^T (CKK x O) += col (CKK x P) * dy^T (P x O): the
 * long CKK side is M and the few output channels are N, which fit one narrow
 * register panel (O = 16) or the direct-A kernel (O <= 64) that reads the
 * column tile in place; only the small dy tile is packed. */
static int wtgrad_item(const conv_plan *pl, int64_t item, float *col, float *ws, float *acc, int threaded)
{
    int64_t n = item / pl->tiles, p0 = item % pl->tiles * pl->tile, np = tile_len(pl, item % pl->tiles);
    const float *x = pl->x + n * pl->g.channels * pl->in_pixels;
    const float *dy = pl->dy + n * pl->out_ch * pl->pixels + p0;
    const float *a = x + p0;
    int64_t lda = pl->in_pixels;
    if (!pl->direct) {
        dfp_im2col_tile(&pl->g, x, sizeof(float), p0, np, col, np);
        a = col;
        lda = np;
    }
    return gemm_run(dfp_sgemm_make_args(0, 1, pl->ckk, pl->out_ch, np, 1.0f, a, lda, dy, pl->pixels, 1.0f,
                                        acc, pl->out_ch), ws, threaded);
}

dfp_status dfp_conv2d_backward_weight_f32(const dfp_conv2d_shape *shape, const float *x, const float *dy,
                                          float *dw)
{
    conv_plan pl;
    dfp_status st = make_plan(shape, &pl);
    if (st != DFP_OK)
        return st;
    if (!x || !dy || !dw)
        return DFP_ERR_NULL_POINTER;
    pl.x = x, pl.dy = dy, pl.dw = dw;
    if (dfp_conv_f32_wtgrad_inplace_applies(&pl))
        return dfp_conv_f32_wtgrad_inplace(&pl);
    double macs = (double)pl.batch * pl.pixels * pl.out_ch * pl.ckk;
    size_t wsize = (size_t)(pl.out_ch * pl.ckk);
    float **accs;
    int nacc;
    st = conv_run(&pl, pl.batch * pl.tiles, macs, dfp_sgemm_workspace_floats(pl.ckk, pl.out_ch, pl.tile),
                  wsize, wtgrad_item, &accs, &nacc);
    if (st == DFP_OK) {
        /* fixed-order reduction of the per-thread partial sums, transposed back to O x CKK */
        for (int64_t o = 0; o < pl.out_ch; o++)
            for (int64_t r = 0; r < pl.ckk; r++) {
                float v = accs[0][r * pl.out_ch + o];
                for (int t = 1; t < nacc; t++)
                    v += accs[t][r * pl.out_ch + o];
                dw[o * pl.ckk + r] = v;
            }
    }
    free_accs(accs, nacc);
    return st;
}
