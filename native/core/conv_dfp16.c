/* DFP16 convolution: the operands are quantised once per tensor (per-tensor
 * exponent, chosen rounding; threaded over fixed blocks), then every product
 * goes through the integer micro-kernels on VNNI panels packed straight from
 * the INT16 tensors (im2col fused into packing, see conv_s16_pack.h):
 *   FPROP  y[n][:, tile]  = 2^(ew+ex)  Wq (O x K) . panels of xp[n]   (direct)
 *   BPROP  stride 1: the direct conv of dyq with the flipped, transposed Wq;
 *          other strides: dcol = 2^(ew+edy) Wq^T . dyq[n][:, tile], col2im
 *   WTGRAD dW = 2^(edy+ex) sum over slices of dyq . taps^T, K = images*pixels
 * The weight panels are packed once per call. Chunk lengths come from the
 * whole quantised tensors' maxima. Threads take (image, tile) items or WTGRAD
 * K slices; slices are a fixed split of K (by shape only) whose FP32 partials
 * are added in slice order, so results do not depend on the thread count, and
 * the INT32 sums being exact, not on the ISA either. */
#include "scratch.h"
#include "dfpengine.h"
#include "igemm.h"
#include "im2col.h"
#include "kernel_table.h"
#include "conv_s16_pack.h"
#include "conv_wtgrad_inplace.h"
#include "scratch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


#define TILE_PANELS 8       /* B panels (of NR output pixels) per direct-conv tile */
#define COL2IM_TILE 256     /* strided BPROP: output pixels per col2im tile */
#define WG_SLICE_PAIRS 1024 /* WTGRAD: K pairs per slice, at least one image */

typedef struct qtensor {
    int16_t *q;
    int32_t e;
    int32_t max_abs; /* largest |q|: sets the chunk length */
} qtensor;

typedef struct conv_job {
    dfp_conv_geom g;
    int64_t batch, out_ch, ckk, pixels, in_pixels;
    qtensor x, w, dy;
    int x_chanlast; /* WTGRAD: x.q is the channel-last layout xc, not xi */
} conv_job;

static int params_valid(const dfp_dfp16_params *p)
{
    return p->shift >= 0 && p->shift <= 3 && p->rounding >= DFP_ROUND_NEAREST &&
           p->rounding <= DFP_ROUND_BIASED;
}

static dfp_status quantize_tensor(const float *x, int64_t n, const dfp_dfp16_params *p,
                                  qtensor *t, int64_t *sat)
{
    if (!params_valid(p))
        return DFP_ERR_INVALID_ARGUMENT;
    t->q = dfp_scratch_take((size_t)(n > 0 ? n : 1) * sizeof(int16_t));
    if (!t->q)
        return DFP_ERR_OUT_OF_MEMORY;
    int bad = 0;
    *sat += dfp_dfp16_quantize_tensor_par(x, n, p, t->q, &t->e, &bad, &t->max_abs);
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}

/* int16 elements of a plane-pair layout (conv_s16_pack.h) of batch x channels
 * planes of h x w with a border of pad_h, pad_w. */
/* Pairs past the end of a layout that the direct conv or the in-place WTGRAD
 * may read (never use): rows padded to a multiple of 16 output pixels, or a
 * kernel row's last block of 32 taps, run on past the last row. */
#define PAIRS_SLACK 32

static int64_t pairs_size(int64_t batch, int64_t channels, int64_t h, int64_t w, int64_t pad_h,
                          int64_t pad_w, int pair_images)
{
    int64_t planes = pair_images ? (batch + 1) / 2 * channels : batch * ((channels + 1) / 2);
    return planes * (h + 2 * pad_h) * (w + 2 * pad_w) * 2 + 2 * PAIRS_SLACK;
}

/* x (batch x channels x h x w) quantised per tensor straight into a plane-pair
 * layout with a zero border: channel pairs for the direct conv, image pairs for
 * WTGRAD; into `into` when given, else into a new buffer owned by t. */
static dfp_status quantize_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                 int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                 const dfp_dfp16_params *p, qtensor *t, int64_t *sat, int16_t *into)
{
    if (!params_valid(p))
        return DFP_ERR_INVALID_ARGUMENT;
    const int64_t size = pairs_size(batch, channels, h, w, pad_h, pad_w, pair_images);
    int16_t *q = into ? into : dfp_scratch_take((size_t)size * sizeof(int16_t));
    if (!q)
        return DFP_ERR_OUT_OF_MEMORY;
    memset(q + size - 2 * PAIRS_SLACK, 0, 2 * PAIRS_SLACK * sizeof(int16_t));
    t->q = into ? NULL : q; /* owned only when allocated here */
    int bad = 0;
    t->e = dfp_dfp16_tensor_exponent(x, batch * channels * h * w, p->shift, &bad);
    if (bad)
        return DFP_ERR_NOT_FINITE;
    dfp_quant_run run = dfp_dfp16_run(t->e, p, 0);
    int64_t n_sat = dfp_quantize_plane_pairs(x, batch, channels, h, w, pad_h, pad_w, pair_images,
                                             &run, q, &t->max_abs);
    if (n_sat < 0)
        return DFP_ERR_OUT_OF_MEMORY;
    *sat += n_sat;
    return DFP_OK;
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
    return DFP_OK;
}

static void free_job(conv_job *j)
{
    dfp_scratch_give(j->x.q), dfp_scratch_give(j->w.q), dfp_scratch_give(j->dy.q);
}

static dfp_s16_source s16(const int16_t *data, int64_t ld, int k_contig, int64_t rows, int64_t k)
{
    dfp_s16_source s = {.pack = dfp_pack_s16_from_s16, .data = data, .ld = ld,
                        .k_contiguous = k_contig, .rows = rows, .k = k};
    return s;
}

/* 2^e for a DFP16 exponent (always a normal float: e in [-126, 127]). */
static inline float pow2(int32_t e) { return ldexpf(1.0f, e); }


static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One tile of the direct conv with B read in place (see direct_conv): output
 * pixels [p0, p0 + np) of one image, all mpan weight panels, K blocks of kc
 * pairs in order as dfp_igemm_panels does (same sums, same flushes). */
static void conv_tile_inplace(const dfp_conv_geom *g, const dfp_pairs_layout *l, int64_t vw,
                              dfp_igemm_s16_inplace_fn ukr, int64_t mpan, int mr, int64_t kp,
                              int64_t chunk, int64_t kc, const int16_t *wp, const int16_t *xpn,
                              const int64_t *off, int64_t p0, int64_t np, float *buf, int64_t ldb)
{
    const int64_t npan = (np + 31) / 32;
    const int run = vw % 16 == 0 ? 16 : 8; /* output pixels per run, along one row */
    for (int64_t q0 = 0; q0 < kp; q0 += kc) {
        const int64_t kcb = min64(kc, kp - q0);
        for (int64_t jp = 0; jp < npan; jp++) {
            const int16_t *runs[4];
            for (int r = 0; r < 32 / run; r++) {
                /* a run past np (np is a multiple of run) repeats the first: its
                 * columns are never read back, and it stays inside xp */
                int64_t p = p0 + jp * 32 + (jp * 32 + run * r < np ? run * r : 0);
                int64_t oh = p / vw, ow = p % vw;
                runs[r] = xpn + (oh * g->stride_h * l->wp + ow) * 2;
            }
            for (int64_t ip = 0; ip < mpan; ip++)
                ukr(kcb, chunk, wp + (ip * kp + q0) * mr * 2, runs, run, off + q0,
                    buf + ip * mr * ldb + jp * 32, ldb, q0 > 0);
        }
    }
}

/* Width the in-place path computes output rows at: out_w when runs of 16 or 8
 * pixels tile it, else out_w rounded up (the extra columns are computed from
 * the next pairs of xp and dropped by the epilogue: at LeNet's widths 28 and 10,
 * 12% and 38% more products instead of packing every pixel's taps). */
static int64_t virtual_width(int64_t out_w)
{
    if (out_w % 8 == 0)
        return out_w;
    return out_w < 8 ? 8 : (out_w + 15) / 16 * 16;
}

/* y rows from the sums of virtual pixels [p0, p0 + np) (width vw >= out_w). */
static void epilogue_virtual(const dfp_conv_geom *g, int64_t vw, int64_t out_ch, int64_t pixels,
                             const float *buf, int64_t ldb, float sw, float sx, int64_t p0, int64_t np,
                             float *yn)
{
    for (int64_t p = p0; p < p0 + np;) {
        int64_t oh = p / vw, ow = p % vw, row_end = (oh + 1) * vw;
        int64_t end = p0 + np < row_end ? p0 + np : row_end;
        if (ow < g->out_w) {
            int64_t n = (end - p < g->out_w - ow) ? end - p : g->out_w - ow;
            dfp_igemm_epilogue(out_ch, n, buf + (p - p0), ldb, sw, sx, yn + oh * g->out_w + ow, pixels, 0);
        }
        p = end;
    }
}

/* Direct conv on INT16 data: y[n][o][p] = scale * sum_q Wp[o][q] * xp-panels[q][p]
 * (+ bias[o]); g describes x (C x H x W) -> y (out_ch x OH x OW), xp is x in the
 * channel-pair layout of g (largest |value| xmax), w is OIHW. */
static dfp_status direct_conv(const dfp_conv_geom *g, int64_t batch, int64_t out_ch,
                              const int16_t *xp, int32_t xmax, const int16_t *w, float sw,
                              float sx, const float *bias, float *y, dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int mr = ik->mr, nr = ik->nr;
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t kp = l.cp * g->kernel_h * g->kernel_w, pixels = g->out_h * g->out_w;
    int64_t mpan = (out_ch + mr - 1) / mr;
    /* B read in place from xp when each run of 16 (or 8) output pixels lies in
     * one output row, contiguous in xp at stride 1: no pixel packing. Rows are
     * computed vw wide (see virtual_width); tiles run over those virtual pixels. */
    const dfp_igemm_s16_inplace_fn inplace = ik->igemm_s16_inplace;
    const int use_inplace = inplace && nr == 32 && g->stride_w == 1;
    const int64_t vw = use_inplace ? virtual_width(g->out_w) : g->out_w, vpixels = g->out_h * vw;
    int64_t tile = min64(vpixels, (int64_t)TILE_PANELS * nr), tiles = (vpixels + tile - 1) / tile;
    int64_t npan = (tile + nr - 1) / nr, ldb = npan * nr, items = batch * tiles;
    int16_t *wp = aligned_alloc(64, (size_t)((mpan * kp * mr * 4 + 63) / 64 * 64));
    if (!wp)
        return DFP_ERR_OUT_OF_MEMORY;
    int32_t wmax = dfp_pack_conv_weights(g, out_ch, w, mr, wp);
    int64_t chunk, kc;
    dfp_igemm_chunking(wmax, xmax, &chunk, &kc);
    int64_t *off = use_inplace ? malloc((size_t)kp * sizeof(int64_t)) : NULL;
    if (use_inplace && !off) {
        free(wp);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t q = 0; use_inplace && q < kp; q++) {
        int64_t kk = g->kernel_h * g->kernel_w, cp = q / kk, kh = (q % kk) / g->kernel_w,
                kw = q % g->kernel_w;
        off[q] = ((cp * l.hp + kh * g->dilation_h) * l.wp + kw * g->dilation_w) * 2;
    }
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(items)) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (size_t)((mpan * mr * ldb * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kp * nr * 4 + 63) / 64 * 64));
        failed |= !buf || !bp;
#pragma omp for schedule(static)
        for (int64_t it = 0; it < items; it++) {
            if (!buf || !bp)
                continue;
            int64_t n = it / tiles, p0 = (it % tiles) * tile, np = min64(tile, vpixels - p0);
            const int16_t *xpn = xp + n * l.cp * l.hp * l.wp * 2;
            float *yn = y + n * out_ch * pixels;
            if (use_inplace)
                conv_tile_inplace(g, &l, vw, inplace, mpan, mr, kp, chunk, kc, wp, xpn, off, p0, np,
                                  buf, ldb);
            else {
                dfp_pack_conv_pixels(g, xpn, p0, np, nr, bp);
                dfp_igemm_panels(mpan, (np + nr - 1) / nr, kp, chunk, kc, wp, bp, buf, ldb, 0);
            }
            if (vw == g->out_w)
                dfp_igemm_epilogue(out_ch, np, buf, ldb, sw, sx, yn + p0, pixels, 0);
            else
                epilogue_virtual(g, vw, out_ch, pixels, buf, ldb, sw, sx, p0, np, yn);
        }
        free(buf), free(bp);
    }
    if (bias && !failed)
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(batch * out_ch / 8))
        for (int64_t i = 0; i < batch * out_ch; i++)
            for (int64_t p = 0; p < pixels; p++)
                y[i * pixels + p] += bias[i % out_ch];
    free(wp), free(off);
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    if (stats) {
        stats->flushes += batch * out_ch * pixels * dfp_igemm_flushes_per_element(kp, kc, chunk);
        stats->chunk_len = 2 * min64(chunk, kp);
    }
    return DFP_OK;
}

/* BPROP for other strides: dcol = Wq^T . dyq[n][:, tile] on weight panels packed
 * once (rows c,kh,kw; K = o), then col2im into dx[n]; threads take images. */
static dfp_status bprop_col2im(const conv_job *j, float *dx, dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int mr = ik->mr, nr = ik->nr;
    int64_t o = j->out_ch, kp = (o + 1) / 2, pixels = j->pixels;
    dfp_s16_source a = s16(j->w.q, j->ckk, 0, j->ckk, o);
    dfp_s16_packed pa;
    dfp_status st = dfp_s16_pack_operand(&a, mr, kp, &pa);
    if (st != DFP_OK)
        return st;
    int64_t chunk, kc;
    dfp_igemm_chunking(pa.max_abs, j->dy.max_abs, &chunk, &kc);
    /* col2im adds tiles into dx in tile order: the tile must not depend on the ISA */
    int64_t tile = min64(pixels, COL2IM_TILE), npan = (tile + nr - 1) / nr;
    int64_t ldb = npan * nr, mpan = pa.npanels;
    float sa = pow2(j->w.e), sb = pow2(j->dy.e);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(j->batch)) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (size_t)((mpan * mr * ldb * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kp * nr * 4 + 63) / 64 * 64));
        failed |= !buf || !bp;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < j->batch; n++) {
            if (!buf || !bp)
                continue;
            const int16_t *dyn = j->dy.q + n * o * pixels;
            float *dxn = dx + n * j->g.channels * j->in_pixels;
            memset(dxn, 0, sizeof(float) * (size_t)(j->g.channels * j->in_pixels));
            for (int64_t p0 = 0; p0 < pixels; p0 += tile) {
                int64_t np = min64(tile, pixels - p0), nb = (np + nr - 1) / nr, sat = 0;
                dfp_s16_source b = s16(dyn + p0, pixels, 0, np, o);
                for (int64_t jp = 0; jp < nb; jp++)
                    b.pack(&b, jp * nr, min64(nr, np - jp * nr), nr, kp, bp + jp * kp * nr * 2, &sat);
                dfp_igemm_panels(mpan, nb, kp, chunk, kc, pa.panels, bp, buf, ldb, 0);
                dfp_igemm_epilogue(j->ckk, np, buf, ldb, sa, sb, buf, ldb, 0);
                dfp_col2im_tile_f32(&j->g, buf, ldb, p0, np, dxn);
            }
        }
        free(buf), free(bp);
    }
    dfp_scratch_give(pa.panels);
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    if (stats) {
        stats->flushes += j->batch * j->ckk * pixels * dfp_igemm_flushes_per_element(kp, kc, chunk);
        stats->chunk_len = 2 * min64(chunk, kp);
    }
    return DFP_OK;
}

int64_t dfp_conv2d_dfp16_input_size(const dfp_conv2d_shape *shape)
{
    conv_job j;
    if (!shape || make_job(shape, &j) != DFP_OK)
        return -1;
    return pairs_size(j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 0);
}

dfp_status dfp_conv2d_forward_dfp16_keep(const dfp_conv2d_shape *shape, const float *x,
                                         const float *w, const float *bias, float *y,
                                         const dfp_dfp16_params *px, const dfp_dfp16_params *pw,
                                         dfp_gemm_stats *stats, dfp_dfp16_input *kept)
{
    conv_job j;
    if (!shape || !x || !w || !y || !px || !pw || (kept && !kept->pairs))
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = quantize_pairs(x, j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 0,
                            px, &j.x, &sat, kept ? kept->pairs : NULL);
    if (st == DFP_OK)
        st = quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = direct_conv(&j.g, j.batch, j.out_ch, kept ? kept->pairs : j.x.q, j.x.max_abs, j.w.q,
                         pow2(j.w.e), pow2(j.x.e), bias, y, stats);
    if (st == DFP_OK && kept) {
        kept->exponent = j.x.e;
        kept->max_abs = j.x.max_abs;
    }
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(&j);
    return st;
}

dfp_status dfp_conv2d_forward_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                    const float *bias, float *y, const dfp_dfp16_params *px,
                                    const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    return dfp_conv2d_forward_dfp16_keep(shape, x, w, bias, y, px, pw, stats, NULL);
}

/* BPROP: for stride 1 (and pad <= dilation * (kernel - 1)) dx is the direct
 * conv of dy with w[o][c][kh][kw] -> wt[c][o][KH-1-kh][KW-1-kw] and padding
 * dilation * (kernel - 1) - pad; otherwise GEMM + col2im per image. */
static void bprop_padding(const dfp_conv_geom *g, int64_t *ph, int64_t *pw)
{
    *ph = g->dilation_h * (g->kernel_h - 1) - g->pad_h;
    *pw = g->dilation_w * (g->kernel_w - 1) - g->pad_w;
}

/* The direct BPROP runs every tap over dx's pixels, reading dy through a border
 * of ph, pw zeros: when dx has many more pixels than dy (an unpadded conv with a
 * large kernel) most of its products are with that border, and GEMM + col2im
 * over dy's pixels does less work. Up to 2.5 times dy's pixels the direct conv
 * wins on VNNI, where it reads dy in place (LeNet's 5x5 on 14x14: 196 vs 100
 * pixels, 1.8 -> 1.5 ms); the choice depends on the shape only, so every ISA
 * takes the same path and gets the same bits. */
static int bprop_is_direct(const dfp_conv_geom *g)
{
    int64_t ph, pw;
    bprop_padding(g, &ph, &pw);
    if (g->stride_h != 1 || g->stride_w != 1 || ph < 0 || pw < 0)
        return 0;
    return 2 * g->in_h * g->in_w <= 5 * g->out_h * g->out_w;
}

/* Direct BPROP; j->dy holds dy in the channel-pair layout of gt (padding ph, pw). */
static dfp_status bprop_direct(const conv_job *j, float *dx, dfp_gemm_stats *stats)
{
    const dfp_conv_geom *g = &j->g;
    int64_t ph, pw;
    bprop_padding(g, &ph, &pw);
    dfp_conv_geom gt = {j->out_ch, g->out_h, g->out_w, g->kernel_h, g->kernel_w, 1, 1, ph, pw,
                        g->dilation_h, g->dilation_w, g->in_h, g->in_w};
    int64_t kk = g->kernel_h * g->kernel_w, c = g->channels, o = j->out_ch;
    int16_t *wt = malloc((size_t)(c * o * kk + 1) * sizeof(int16_t));
    if (!wt)
        return DFP_ERR_OUT_OF_MEMORY;
    for (int64_t oo = 0; oo < o; oo++)
        for (int64_t cc = 0; cc < c; cc++)
            for (int64_t t = 0; t < kk; t++)
                wt[(cc * o + oo) * kk + (kk - 1 - t)] = j->w.q[(oo * c + cc) * kk + t];
    dfp_status st = direct_conv(&gt, j->batch, c, j->dy.q, j->dy.max_abs, wt, pow2(j->w.e),
                                pow2(j->dy.e), NULL, dx, stats);
    free(wt);
    return st;
}

int64_t dfp_conv2d_dfp16_grad_size(const dfp_conv2d_shape *shape)
{
    conv_job j;
    if (!shape || make_job(shape, &j) != DFP_OK)
        return -1;
    return pairs_size(j.batch, j.out_ch, j.g.out_h, j.g.out_w, 0, 0, 1);
}

dfp_status dfp_conv2d_backward_data_dfp16(const dfp_conv2d_shape *shape, const float *dy,
                                          const float *w, float *dx, const dfp_dfp16_params *pdy,
                                          const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    return dfp_conv2d_backward_data_dfp16_keep(shape, dy, w, dx, pdy, pw, stats, NULL);
}

dfp_status dfp_conv2d_backward_data_dfp16_keep(const dfp_conv2d_shape *shape, const float *dy,
                                               const float *w, float *dx,
                                               const dfp_dfp16_params *pdy,
                                               const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                               dfp_dfp16_input *kept_dy)
{
    conv_job j;
    if (!shape || !dy || !w || !dx || !pdy || !pw || (kept_dy && !kept_dy->pairs))
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    int64_t sat = 0;
    const int direct = st == DFP_OK && bprop_is_direct(&j.g);
    if (st == DFP_OK && direct) {
        int64_t ph, pwd;
        bprop_padding(&j.g, &ph, &pwd);
        st = quantize_pairs(dy, j.batch, j.out_ch, j.g.out_h, j.g.out_w, ph, pwd, 0, pdy, &j.dy,
                            &sat, NULL);
    } else if (st == DFP_OK) {
        st = quantize_tensor(dy, j.batch * j.out_ch * j.pixels, pdy, &j.dy, &sat);
    }
    if (st == DFP_OK)
        st = quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = direct ? bprop_direct(&j, dx, stats) : bprop_col2im(&j, dx, stats);
    if (st == DFP_OK && kept_dy) { /* dy's codes in WTGRAD's image-pair layout */
        if (direct) {
            int64_t ph, pwd;
            bprop_padding(&j.g, &ph, &pwd);
            dfp_imgpairs_from_chanpairs(j.batch, j.out_ch, j.g.out_h, j.g.out_w, ph, pwd, 0, 0,
                                        j.dy.q, kept_dy->pairs);
        } else {
            dfp_imgpairs_from_nchw(j.batch, j.out_ch, j.pixels, j.dy.q, kept_dy->pairs);
        }
        kept_dy->exponent = j.dy.e;
        kept_dy->max_abs = j.dy.max_abs;
    }
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(&j);
    return st;
}

/* WTGRAD as one reduction over K = image pairs x output pixels (a K pair
 * holds two images at one pixel, see conv_s16_pack.h), cut into fixed slices of
 * whole image pairs; each slice's FP32 partial dW is one blocked GEMM on panels
 * packed from dyi (rows o) and the taps of xi (rows c,kh,kw); the partials are
 * then added in slice order. */
static dfp_status wtgrad(const conv_job *j, float *dw, dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const dfp_conv_geom *g = &j->g;
    const int mr = ik->mr, nr = ik->nr;
    int64_t o = j->out_ch, ckk = j->ckk, pixels = j->pixels, pairs = (j->batch + 1) / 2;
    int64_t mpan = (o + mr - 1) / mr, npan = (ckk + nr - 1) / nr, ldb = npan * nr;
    int64_t per = WG_SLICE_PAIRS / pixels > 1 ? WG_SLICE_PAIRS / pixels : 1;
    int64_t nslices = (pairs + per - 1) / per, part_len = mpan * mr * ldb;
    int64_t hp = g->in_h + 2 * g->pad_h, wp = g->in_w + 2 * g->pad_w;
    int64_t chunk, kc, flushes = 0;
    dfp_igemm_chunking(j->dy.max_abs, j->x.max_abs, &chunk, &kc);
    if (dfp_wtgrad_inplace_applies(g)) {
        int16_t *xc = j->x.q;
        if (!j->x_chanlast) {
            const int64_t size = pairs_size(j->batch, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w, 1);
            xc = dfp_scratch_take((size_t)size * sizeof(int16_t));
            if (!xc)
                return DFP_ERR_OUT_OF_MEMORY;
            dfp_chanlast_from_imgpairs(pairs, g->channels, hp * wp, j->x.q, xc);
            memset(xc + size - 2 * PAIRS_SLACK, 0, 2 * PAIRS_SLACK * sizeof(int16_t));
        }
        dfp_status st = dfp_wtgrad_inplace(g, j->batch, o, xc, j->dy.q, chunk, kc, per,
                                           pow2(j->dy.e), pow2(j->x.e), dw, &flushes);
        if (xc != j->x.q)
            dfp_scratch_give(xc);
        if (st == DFP_OK && stats) {
            stats->flushes += o * ckk * flushes;
            stats->chunk_len = 2 * min64(chunk, pairs * pixels);
        }
        return st;
    }
    float *part = dfp_scratch_take((size_t)(nslices * part_len) * sizeof(float));
    const int16_t *xi = j->x.q, *dyi = j->dy.q; /* image-pair layouts */
    int failed = !part;
#pragma omp parallel num_threads(dfp_threads_for_work(nslices)) reduction(| : failed) \
    reduction(+ : flushes) if (!failed)
    {
        int16_t *ap = aligned_alloc(64, (size_t)((mpan * kc * mr * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kc * nr * 4 + 63) / 64 * 64));
        failed |= !ap || !bp;
#pragma omp for schedule(static)
        for (int64_t s = 0; s < nslices; s++) {
            if (failed)
                continue;
            int64_t m0 = s * per, kps = min64(per, pairs - m0) * pixels;
            const int16_t *dys = dyi + m0 * o * pixels * 2;
            const int16_t *xs = xi + m0 * g->channels * hp * wp * 2;
            float *ps = part + s * part_len;
            for (int64_t q0 = 0; q0 < kps; q0 += kc) {
                int64_t kpb = min64(kc, kps - q0);
                for (int64_t ip = 0; ip < mpan; ip++)
                    dfp_pack_imgpairs_dy(dys, o, pixels, ip * mr, min64(mr, o - ip * mr), mr, q0,
                                         kpb, ap + ip * kpb * mr * 2);
                for (int64_t jp = 0; jp < npan; jp++)
                    dfp_pack_imgpairs_taps(g, xs, jp * nr, min64(nr, ckk - jp * nr), nr, q0, kpb,
                                           bp + jp * kpb * nr * 2);
                dfp_igemm_panels(mpan, npan, kpb, chunk, kc, ap, bp, ps, ldb, q0 > 0);
                flushes += (kpb + chunk - 1) / chunk;
            }
        }
        free(ap), free(bp);
    }
    if (!failed) {
        float sa = pow2(j->dy.e), sb = pow2(j->x.e);
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(o))
        for (int64_t r = 0; r < o; r++)
            for (int64_t c = 0; c < ckk; c++) {
                float acc = nslices ? part[r * ldb + c] : 0.0f;
                for (int64_t s = 1; s < nslices; s++)
                    acc += part[s * part_len + r * ldb + c];
                dw[r * ckk + c] = acc * sa * sb;
            }
        if (stats) {
            stats->flushes += o * ckk * flushes;
            stats->chunk_len = 2 * min64(chunk, pairs * pixels);
        }
    }
    dfp_scratch_give(part);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

/* WTGRAD once j->x holds x in the image-pair layout: dy quantised the same way, then
 * the reduction; frees the job. */
static dfp_status wtgrad_from_x(conv_job *j, const float *dy, float *dw,
                                const dfp_dfp16_params *pdy, int64_t sat, dfp_gemm_stats *stats)
{
    dfp_status st = quantize_pairs(dy, j->batch, j->out_ch, j->g.out_h, j->g.out_w, 0, 0, 1, pdy,
                                   &j->dy, &sat, NULL);
    if (st == DFP_OK)
        st = wtgrad(j, dw, stats);
    if (st == DFP_OK && stats)
        stats->saturations += sat;
    free_job(j);
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
        st = quantize_pairs(x, j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 1,
                            px, &j.x, &sat, NULL);
    if (st != DFP_OK) {
        free_job(&j);
        return st;
    }
    return wtgrad_from_x(&j, dy, dw, pdy, sat, stats);
}

/* j->x from FPROP's kept channel pairs (an int16 shuffle, no FP32 read) into
 * the channel-last layout of the in-place WTGRAD or the image pairs. */
static dfp_status x_from_kept(conv_job *j, const dfp_dfp16_input *kept)
{
    const dfp_conv_geom *g = &j->g;
    const int64_t size = pairs_size(j->batch, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w, 1);
    j->x.q = dfp_scratch_take((size_t)size * sizeof(int16_t));
    if (!j->x.q)
        return DFP_ERR_OUT_OF_MEMORY;
    /* the in-place WTGRAD's last column block may read up to 31 pairs past the end */
    memset(j->x.q + size - 2 * PAIRS_SLACK, 0, 2 * PAIRS_SLACK * sizeof(int16_t));
    j->x_chanlast = dfp_wtgrad_inplace_applies(g);
    if (j->x_chanlast)
        dfp_chanlast_from_chanpairs(j->batch, g->channels,
                                    (g->in_h + 2 * g->pad_h) * (g->in_w + 2 * g->pad_w), kept->pairs,
                                    j->x.q);
    else
        dfp_imgpairs_from_chanpairs(j->batch, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w,
                                    g->pad_h, g->pad_w, kept->pairs, j->x.q);
    j->x.e = kept->exponent;
    j->x.max_abs = kept->max_abs;
    return DFP_OK;
}

dfp_status dfp_conv2d_backward_weight_dfp16_codes(const dfp_conv2d_shape *shape,
                                                  const dfp_dfp16_input *kept_x,
                                                  const dfp_dfp16_input *kept_dy, float *dw,
                                                  dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !kept_x || !kept_x->pairs || !kept_dy || !kept_dy->pairs || !dw)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    if (st == DFP_OK)
        st = x_from_kept(&j, kept_x);
    if (st == DFP_OK) {
        j.dy.q = kept_dy->pairs; /* borrowed: not freed with the job */
        j.dy.e = kept_dy->exponent;
        j.dy.max_abs = kept_dy->max_abs;
        st = wtgrad(&j, dw, stats);
        j.dy.q = NULL;
    }
    free_job(&j);
    return st;
}

dfp_status dfp_conv2d_backward_weight_dfp16_kept(const dfp_conv2d_shape *shape,
                                                 const dfp_dfp16_input *kept, const float *dy,
                                                 float *dw, const dfp_dfp16_params *pdy,
                                                 dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !kept || !kept->pairs || !dy || !dw || !pdy)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = make_job(shape, &j);
    if (st != DFP_OK)
        return st;
    if (x_from_kept(&j, kept) != DFP_OK) {
        free_job(&j);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    return wtgrad_from_x(&j, dy, dw, pdy, 0, stats);
}
