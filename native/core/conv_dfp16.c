/* DFP16 convolution: the operands are quantised once per tensor (per-tensor
 * exponent, chosen rounding; threaded over fixed blocks), then every product
 * goes through the integer micro-kernels on VNNI panels packed straight from
 * the INT16 tensors (im2col fused into packing, see conv_s16_pack.h):
 *   FPROP  y[n][:, tile]  = 2^(ew+ex)  Wq (O x K) . panels of xp[n]   (direct)
 *   BPROP  stride 1: the direct conv of dyq with the flipped, transposed Wq;
 *          strides up to 4 with rows a multiple of 8 * stride wide: stride-1
 *          phase convs of dyq (conv_dfp16_bprop_phases.c);
 *          others: dcol = 2^(ew+edy) Wq^T . dyq[n][:, tile], col2im
 *   WTGRAD dW = 2^(edy+ex) sum over slices of dyq . taps^T, K = images*pixels
 * The weight panels are packed once per call. Chunk lengths come from the
 * weights' row sums (dy's in WTGRAD) and the other operand's maximum
 * (igemm_chunk.c). Threads take (image, tile) items or WTGRAD
 * K slices; slices are a fixed split of K (by shape only) whose FP32 partials
 * are added in slice order, so results do not depend on the thread count, and
 * the INT32 sums being exact, not on the ISA either. This file: FPROP and
 * BPROP; WTGRAD in conv_dfp16_wtgrad.c, the shared job and quantisers in
 * conv_dfp16_job.c. */
#include "bn_plane_sums.h"
#include "conv_dfp16_job.h"
#include "conv_dfp16_phases.h"
#include "conv_s16_pack.h"
#include "igemm.h"
#include "kernel_table.h"
#include "layout32.h"
#include "scratch.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

#define TILE_PANELS 8       /* B panels (of NR output pixels) per direct-conv tile */
#define COL2IM_TILE 256     /* strided BPROP: output pixels per col2im tile */

static dfp_s16_source s16(const int16_t *data, int64_t ld, int k_contig, int64_t rows, int64_t k)
{
    dfp_s16_source s = {.pack = dfp_pack_s16_from_s16, .data = data, .ld = ld,
                        .k_contiguous = k_contig, .rows = rows, .k = k};
    return s;
}

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* One tile of the direct conv with B read in place (see direct_conv): output
 * pixels [p0, p0 + np) of one image, all mpan weight panels, K blocks of kc
 * pairs in order as dfp_igemm_panels does (same sums, same flushes); columns in
 * calls of 48 (the wide kernel) then nr (16 or 32). */
static void conv_tile_inplace(const dfp_conv_geom *g, int64_t row_pairs, int64_t vw,
                              dfp_igemm_s16_inplace_fn ukr, dfp_igemm_s16_inplace_fn wide, int64_t mpan,
                              int mr, int nr, int64_t kp, int64_t chunk, int64_t kc, const int16_t *wp,
                              const int16_t *xpn, const int64_t *off, int64_t p0, int64_t np, float *buf,
                              int64_t ldb)
{
    const int run = vw % 16 == 0 ? 16 : 8; /* output pixels per run, along one row */
    /* columns [0, wide_end) in calls of 48 */
    const int64_t wide_end = wide && run == 16 ? dfp_conv_wide_calls_end(np) : 0;
    for (int64_t q0 = 0; q0 < kp; q0 += kc) {
        const int64_t kcb = min64(kc, kp - q0);
        for (int64_t c0 = 0; c0 < np;) {
            const int64_t cols = c0 < wide_end ? 48 : nr;
            const dfp_igemm_s16_inplace_fn k = c0 < wide_end ? wide : ukr;
            const int16_t *runs[4];
            for (int r = 0; r < cols / run; r++) {
                /* a run past np (np is a multiple of run) repeats the first: its
                 * columns are never read back, and it stays inside xp */
                int64_t p = p0 + c0 + (c0 + run * r < np ? run * r : 0);
                int64_t oh = p / vw, ow = p % vw;
                runs[r] = xpn + (oh * g->stride_h * row_pairs + ow) * 2;
            }
            for (int64_t ip = 0; ip < mpan; ip++)
                k(kcb, chunk, wp + (ip * kp + q0) * mr * 2, runs, run, off + q0, buf + ip * mr * ldb + c0, ldb,
                  q0 > 0);
            c0 += cols;
        }
    }
}

/* y rows from the sums of virtual pixels [p0, p0 + np) (width vw >= out_w). */
static void epilogue_virtual(const dfp_conv_geom *g, int64_t vw, int64_t out_ch, int64_t pixels,
                             const float *buf, int64_t ldb, float sw, float sx, int64_t p0, int64_t np,
                             float *yn, int accumulate)
{
    for (int64_t p = p0; p < p0 + np;) {
        int64_t oh = p / vw, ow = p % vw, row_end = (oh + 1) * vw;
        int64_t end = p0 + np < row_end ? p0 + np : row_end;
        if (ow < g->out_w) {
            int64_t n = (end - p < g->out_w - ow) ? end - p : g->out_w - ow;
            dfp_igemm_epilogue(out_ch, n, buf + (p - p0), ldb, sw, sx, yn + oh * g->out_w + ow, pixels,
                               accumulate);
        }
        p = end;
    }
}

/* xp's pairs (32-bit) split by padded column parity: pair (row, j) of plane cp
 * of image n to plane (n * 2 + j % 2) * cp + cp, column j / 2 of rows wq wide. */
static void split_column_phases(const dfp_pairs_layout *l, int64_t batch, const int16_t *xp, int64_t wq,
                                int16_t *xq)
{
    const int64_t planes = batch * l->cp;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes / 8))
    for (int64_t pl = 0; pl < planes; pl++) {
        const int64_t n = pl / l->cp, cp = pl % l->cp;
        const int32_t *src = (const int32_t *)(const void *)xp + pl * l->hp * l->wp;
        int32_t *even = (int32_t *)(void *)xq + ((n * 2) * l->cp + cp) * l->hp * wq;
        int32_t *odd = even + l->cp * l->hp * wq;
        for (int64_t r = 0; r < l->hp; r++) {
            dfp_split_columns32(src + r * l->wp, l->wp, even + r * wq, odd + r * wq);
            if (l->wp % 2) /* the last even column's odd partner: never read, kept defined */
                odd[r * wq + l->wp / 2] = 0;
        }
    }
}

/* Direct conv on INT16 data: y[n][o][p] = scale * sum_q Wp[o][q] * xp-panels[q][p]
 * (+ bias[o]; accumulate: y[n][o][p] += that, without bias); g describes x
 * (C x H x W) -> y (out_ch x OH x OW), xp is x in the channel-pair layout of g
 * (largest |value| xmax), w is OIHW. */
static dfp_status direct_conv(const dfp_conv_geom *g, int64_t batch, int64_t out_ch,
                              const int16_t *xp, int32_t xmax, const int16_t *w, float sw,
                              float sx, const float *bias, float *y, int accumulate, double *y_sums,
                              dfp_gemm_stats *stats)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int mr = ik->mr, nr = ik->nr;
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t kp = l.cp * g->kernel_h * g->kernel_w, pixels = g->out_h * g->out_w;
    int64_t mpan = (out_ch + mr - 1) / mr;
    /* B read in place from xp when each run of 16 (or 8) output pixels lies in
     * one output row, contiguous in xp at stride 1: no pixel packing. Rows are
     * computed vw wide (dfp_conv_virtual_width); tiles run over those virtual pixels.
     * With stride 2 along rows, from a copy of xp split into even and odd
     * columns (column phases), where the taps of consecutive output pixels are
     * consecutive again; output rows then a multiple of 8 wide. The in-place
     * kernels are 16 (AVX2) or 32 (AVX-512) columns wide: whole runs. */
    const dfp_igemm_s16_inplace_fn inplace = nr % 16 == 0 ? ik->igemm_s16_inplace : NULL;
    const int col_phases = inplace && g->stride_w == 2 && g->dilation_w == 1 && g->out_w % 8 == 0;
    const int use_inplace = (inplace && g->stride_w == 1) || col_phases;
    const int64_t wq = col_phases ? (l.wp + 1) / 2 : l.wp, image = l.cp * l.hp * l.wp * 2;
    const int64_t vw = use_inplace ? dfp_conv_virtual_width(g->out_w) : g->out_w;
    const int64_t vpixels = g->out_h * vw;
    int64_t tile = min64(vpixels, (int64_t)TILE_PANELS * nr), tiles = (vpixels + tile - 1) / tile;
    int64_t npan = (tile + nr - 1) / nr, ldb = npan * nr, items = batch * tiles;
    int16_t *wp = aligned_alloc(64, (size_t)((mpan * kp * mr * 4 + 63) / 64 * 64));
    if (!wp)
        return DFP_ERR_OUT_OF_MEMORY;
    int32_t wmax = dfp_pack_conv_weights(g, out_ch, w, mr, wp);
    int64_t chunk, kc;
    if (dfp_conv_weight_chunking(wp, mr, kp, out_ch, wmax, xmax, &chunk, &kc) != DFP_OK) {
        free(wp);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    int64_t *off = use_inplace ? malloc((size_t)kp * sizeof(int64_t)) : NULL;
    if (use_inplace && !off) {
        free(wp);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    for (int64_t q = 0; use_inplace && q < kp; q++) {
        int64_t kk = g->kernel_h * g->kernel_w, cp = q / kk, kh = (q % kk) / g->kernel_w,
                kw = q % g->kernel_w;
        off[q] = col_phases ? ((((kw % 2) * l.cp + cp) * l.hp + kh * g->dilation_h) * wq + kw / 2) * 2
                            : ((cp * l.hp + kh * g->dilation_h) * l.wp + kw * g->dilation_w) * 2;
    }
    int16_t *xq = NULL; /* the column phases: plane (t, cp) of image n at ((n * 2 + t) * cp + cp) */
    if (col_phases) {
        xq = dfp_scratch_take((size_t)(batch * 2 * l.cp * l.hp * wq * 2) * sizeof(int16_t));
        if (!xq) {
            free(wp), free(off);
            return DFP_ERR_OUT_OF_MEMORY;
        }
        split_column_phases(&l, batch, xp, wq, xq);
    }
    /* Threads take whole images (work_share.h: their static shares, then the
     * others' tails), or single tiles where there are few images for the threads.
     * An image's y_sums are taken right after its last tile (its output still in
     * cache; tiles: after the loop). Results never depend on who took what. */
    const int nt = dfp_threads_for_work(items);
    const int per_image = batch >= 4 * nt;
    const int64_t units = per_image ? batch : items, unit_items = per_image ? tiles : 1;
    double *sums_now = bias || !per_image ? NULL : y_sums;
    int failed = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        float *buf = aligned_alloc(64, (size_t)((mpan * mr * ldb * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kp * nr * 4 + 63) / 64 * 64));
        failed |= !buf || !bp;
        dfp_work_share_start(&ws, units);
        dfp_work_cursor cur = {0};
        for (int64_t u; (u = dfp_work_next(&ws, &cur)) >= 0;) {
            for (int64_t it = u * unit_items; buf && bp && it < (u + 1) * unit_items; it++) {
                int64_t n = it / tiles, p0 = (it % tiles) * tile, np = min64(tile, vpixels - p0);
                const int16_t *xpn = xp + n * image;
                float *yn = y + n * out_ch * pixels;
                if (use_inplace) { /* B from the column phases at stride 2, else xp itself */
                    const int16_t *bn = col_phases ? xq + n * 2 * l.cp * l.hp * wq * 2 : xpn;
                    conv_tile_inplace(g, wq, vw, inplace, ik->igemm_s16_inplace_wide, mpan, mr, nr, kp, chunk, kc,
                                      wp, bn, off, p0, np, buf, ldb);
                } else {
                    dfp_pack_conv_pixels(g, xpn, p0, np, nr, bp);
                    dfp_igemm_panels(mpan, (np + nr - 1) / nr, kp, chunk, kc, wp, bp, buf, ldb, 0);
                }
                if (vw == g->out_w)
                    dfp_igemm_epilogue(out_ch, np, buf, ldb, sw, sx, yn + p0, pixels, accumulate);
                else
                    epilogue_virtual(g, vw, out_ch, pixels, buf, ldb, sw, sx, p0, np, yn, accumulate);
            }
            if (sums_now && buf && bp)
                dfp_bn_plane_sums(y + u * out_ch * pixels, out_ch, pixels, sums_now + u * out_ch * 3);
        }
        free(buf), free(bp);
    }
    if (bias && !failed)
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(batch * out_ch / 8))
        for (int64_t i = 0; i < batch * out_ch; i++)
            for (int64_t p = 0; p < pixels; p++)
                y[i * pixels + p] += bias[i % out_ch];
    if (y_sums && !sums_now && !failed)
        dfp_bn_plane_sums_par(y, batch * out_ch, pixels, y_sums);
    free(wp), free(off);
    dfp_scratch_give(xq);
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    if (stats) {
        stats->flushes += batch * out_ch * pixels * dfp_igemm_flushes_per_element(kp, kc, chunk);
        stats->chunk_len = 2 * min64(chunk, kp);
    }
    return DFP_OK;
}

/* BPROP for other strides: dcol = Wq^T . dyq[n][:, tile] on weight panels packed
 * once (rows c,kh,kw; K = o), then col2im into dx[n] (accumulate: into a
 * per-thread image, then added to dx[n]); threads take images. */
static dfp_status bprop_col2im(const conv_job *j, float *dx, int accumulate, dfp_gemm_stats *stats)
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
    st = dfp_conv_weight_chunking(pa.panels, mr, kp, j->ckk, pa.max_abs, j->dy.max_abs, &chunk, &kc);
    if (st != DFP_OK) {
        dfp_scratch_give(pa.panels);
        return st;
    }
    /* col2im adds tiles into dx in tile order: the tile must not depend on the ISA */
    int64_t tile = min64(pixels, COL2IM_TILE), npan = (tile + nr - 1) / nr;
    int64_t ldb = npan * nr, mpan = pa.npanels;
    float sa = dfp_pow2f(j->w.e), sb = dfp_pow2f(j->dy.e);
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(j->batch)) reduction(| : failed)
    {
        const int64_t image = j->g.channels * j->in_pixels;
        float *buf = aligned_alloc(64, (size_t)((mpan * mr * ldb * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kp * nr * 4 + 63) / 64 * 64));
        float *own = accumulate ? malloc((size_t)image * sizeof(float)) : NULL;
        failed |= !buf || !bp || (accumulate && !own);
#pragma omp for schedule(static)
        for (int64_t n = 0; n < j->batch; n++) {
            if (!buf || !bp || (accumulate && !own))
                continue;
            const int16_t *dyn = j->dy.q + n * o * pixels;
            float *dxn = accumulate ? own : dx + n * image;
            memset(dxn, 0, sizeof(float) * (size_t)image);
            for (int64_t p0 = 0; p0 < pixels; p0 += tile) {
                int64_t np = min64(tile, pixels - p0), nb = (np + nr - 1) / nr, sat = 0;
                dfp_s16_source b = s16(dyn + p0, pixels, 0, np, o);
                for (int64_t jp = 0; jp < nb; jp++)
                    b.pack(&b, jp * nr, min64(nr, np - jp * nr), nr, kp, bp + jp * kp * nr * 2, &sat);
                dfp_igemm_panels(mpan, nb, kp, chunk, kc, pa.panels, bp, buf, ldb, 0);
                dfp_igemm_epilogue(j->ckk, np, buf, ldb, sa, sb, buf, ldb, 0);
                dfp_col2im_tile_f32(&j->g, buf, ldb, p0, np, dxn);
            }
            for (int64_t i = 0; accumulate && i < image; i++)
                dx[n * image + i] += own[i];
        }
        free(buf), free(bp), free(own);
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
    if (!shape || dfp_conv_make_job(shape, &j) != DFP_OK)
        return -1;
    return dfp_conv_pairs_size(j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 0);
}

/* FPROP; bn (nullable): x passes batch norm's apply (and residual) and ReLU
 * inside the quantiser. */
static dfp_status forward(const dfp_conv2d_shape *shape, const float *x, const dfp_bn_relu_input *bn,
                          const float *w, const float *bias, float *y,
                          const dfp_dfp16_params *px, const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                          dfp_dfp16_input *kept, double *y_sums)
{
    conv_job j;
    if (!shape || !x || !w || !y || !px || !pw || (kept && !kept->pairs))
        return DFP_ERR_NULL_POINTER;
    dfp_status st = dfp_conv_make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = dfp_conv_quantize_pairs(x, j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 0,
                                     bn, px, &j.x, &sat, kept ? kept->pairs : NULL);
    if (st == DFP_OK)
        st = dfp_conv_quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = direct_conv(&j.g, j.batch, j.out_ch, kept ? kept->pairs : j.x.q, j.x.max_abs, j.w.q,
                         dfp_pow2f(j.w.e), dfp_pow2f(j.x.e), bias, y, 0, y_sums, stats);
    if (st == DFP_OK && kept) {
        kept->exponent = j.x.e;
        kept->max_abs = j.x.max_abs;
    }
    if (st == DFP_OK && stats) {
        stats->saturations += sat;
        dfp_conv_add_quant_stats(&j, stats);
    }
    dfp_conv_free_job(&j);
    return st;
}

dfp_status dfp_conv2d_forward_dfp16_keep(const dfp_conv2d_shape *shape, const float *x,
                                         const float *w, const float *bias, float *y,
                                         const dfp_dfp16_params *px, const dfp_dfp16_params *pw,
                                         dfp_gemm_stats *stats, dfp_dfp16_input *kept, double *y_sums)
{
    return forward(shape, x, NULL, w, bias, y, px, pw, stats, kept, y_sums);
}

dfp_status dfp_conv2d_forward_dfp16_bn_relu(const dfp_conv2d_shape *shape, const float *x,
                                            const dfp_bn_relu_input *bn, const float *w,
                                            const float *bias, float *y, const dfp_dfp16_params *px,
                                            const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                            dfp_dfp16_input *kept, double *y_sums)
{
    if (!bn || !bn->scale || !bn->shift)
        return DFP_ERR_NULL_POINTER;
    return forward(shape, x, bn, w, bias, y, px, pw, stats, kept, y_sums);
}

dfp_status dfp_conv2d_forward_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                    const float *bias, float *y, const dfp_dfp16_params *px,
                                    const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    return dfp_conv2d_forward_dfp16_keep(shape, x, w, bias, y, px, pw, stats, NULL, NULL);
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
static dfp_status bprop_direct(const conv_job *j, float *dx, int accumulate, dfp_gemm_stats *stats)
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
    dfp_status st = direct_conv(&gt, j->batch, c, j->dy.q, j->dy.max_abs, wt, dfp_pow2f(j->w.e),
                                dfp_pow2f(j->dy.e), NULL, dx, accumulate, NULL, stats);
    free(wt);
    return st;
}

int64_t dfp_conv2d_dfp16_grad_size(const dfp_conv2d_shape *shape)
{
    conv_job j;
    if (!shape || dfp_conv_make_job(shape, &j) != DFP_OK)
        return -1;
    return dfp_conv_pairs_size(j.batch, j.out_ch, j.g.out_h, j.g.out_w, 0, 0, 1);
}

dfp_status dfp_conv2d_backward_data_dfp16(const dfp_conv2d_shape *shape, const float *dy,
                                          const float *w, float *dx, const dfp_dfp16_params *pdy,
                                          const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
{
    return dfp_conv2d_backward_data_dfp16_keep(shape, dy, w, dx, pdy, pw, stats, NULL);
}

/* BPROP, writing (accumulate 0) or adding into dx. */
static dfp_status backward_data(const dfp_conv2d_shape *shape, const float *dy, const float *w,
                                float *dx, int accumulate, const dfp_dfp16_params *pdy,
                                const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                dfp_dfp16_input *kept_dy);

dfp_status dfp_conv2d_backward_data_dfp16_keep(const dfp_conv2d_shape *shape, const float *dy,
                                               const float *w, float *dx,
                                               const dfp_dfp16_params *pdy,
                                               const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                               dfp_dfp16_input *kept_dy)
{
    return backward_data(shape, dy, w, dx, 0, pdy, pw, stats, kept_dy);
}

dfp_status dfp_conv2d_backward_data_dfp16_add(const dfp_conv2d_shape *shape, const float *dy,
                                              const float *w, float *dx,
                                              const dfp_dfp16_params *pdy,
                                              const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                              dfp_dfp16_input *kept_dy)
{
    return backward_data(shape, dy, w, dx, 1, pdy, pw, stats, kept_dy);
}

static dfp_status backward_data(const dfp_conv2d_shape *shape, const float *dy, const float *w,
                                float *dx, int accumulate, const dfp_dfp16_params *pdy,
                                const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                dfp_dfp16_input *kept_dy)
{
    conv_job j;
    if (!shape || !dy || !w || !dx || !pdy || !pw || (kept_dy && !kept_dy->pairs))
        return DFP_ERR_NULL_POINTER;
    dfp_status st = dfp_conv_make_job(shape, &j);
    int64_t sat = 0;
    const int direct = st == DFP_OK && bprop_is_direct(&j.g);
    const int phases = st == DFP_OK && !direct && dfp_conv_dfp16_bprop_phases_applies(&j.g);
    int64_t ph = 0, pwd = 0; /* dy's border in its channel-pair layout */
    if (direct)
        bprop_padding(&j.g, &ph, &pwd);
    else if (phases)
        dfp_conv_dfp16_bprop_phase_border(&j.g, &ph, &pwd);
    int kept_done = 0; /* dy's image pairs for WTGRAD written by the quantiser's pass */
    if (st == DFP_OK && (direct || phases)) {
        st = dfp_conv_quantize_both_layouts(dy, j.batch, j.out_ch, j.g.out_h, j.g.out_w, ph, pwd, 0, NULL, pdy,
                                          &j.dy, &sat, NULL, kept_dy ? kept_dy->pairs : NULL, &kept_done);
    } else if (st == DFP_OK) {
        st = dfp_conv_quantize_tensor(dy, j.batch * j.out_ch * j.pixels, pdy, &j.dy, &sat);
    }
    if (st == DFP_OK)
        st = dfp_conv_quantize_tensor(w, j.out_ch * j.ckk, pw, &j.w, &sat);
    if (st == DFP_OK)
        st = direct ? bprop_direct(&j, dx, accumulate, stats)
             : phases ? dfp_conv_dfp16_bprop_phases(&j, dx, accumulate, stats)
                      : bprop_col2im(&j, dx, accumulate, stats);
    if (st == DFP_OK && kept_dy) { /* dy's codes in WTGRAD's image-pair layout */
        const int64_t t0 = dfp_clock_ns();
        if (!kept_done && (direct || phases)) /* (else the quantiser wrote them already) */
            dfp_imgpairs_from_chanpairs(j.batch, j.out_ch, j.g.out_h, j.g.out_w, ph, pwd, 0, 0, j.dy.q,
                                        kept_dy->pairs);
        else if (!kept_done)
            dfp_imgpairs_from_nchw(j.batch, j.out_ch, j.pixels, j.dy.q, kept_dy->pairs);
        kept_dy->exponent = j.dy.e;
        kept_dy->max_abs = j.dy.max_abs;
        j.dy.ns += dfp_clock_ns() - t0;
    }
    if (st == DFP_OK && stats) {
        stats->saturations += sat;
        dfp_conv_add_quant_stats(&j, stats);
    }
    dfp_conv_free_job(&j);
    return st;
}

