/* The FP32 convolution's direct paths (AVX2, AVX-512): the input read in place by
 * the B-in-place SGEMM micro-kernel (sgemm_inplace) instead of im2col tiles.
 *
 * FPROP (and stride-1 BPROP, which is the FPROP of dy): each image is copied
 * once into zero-bordered planes (with stride 2 along rows, split into even and
 * odd columns); the K row (c, kh, kw) of 32 output pixels (two runs of 16, or
 * four of 8, along output rows) is runs of that copy at a fixed offset. The
 * weights are packed once; the sums run over K in the im2col GEMM's order.
 *
 * WTGRAD, dW (O x C*KH*KW) = dy (O x P) * taps^T: each image is copied once
 * channel-last with a zero border, xc[ih][iw][c], so for one output pixel and
 * one kernel row kh the KW*C taps (kw, c) are consecutive floats; B row p
 * (pixel p) is read in place at ((oh*sh + kh*dh)*wp + ow*sw)*C, 32 taps per
 * call, and dy is packed as A once per image. Per-thread partial sums are
 * added in thread order. */
#include "bn_plane_sums.h"
#include "conv2d_f32.h"
#include "kernel_table.h"
#include "layout32.h"
#include "pack_f32.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

int dfp_conv_f32_fprop_inplace_applies(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    const dfp_conv_geom *g = &pl->g;
    return uk->fn && (uk->nr == 16 || uk->nr == 32) && uk->mr <= 8 && !pl->direct &&
           (g->stride_w == 1 || (g->stride_w == 2 && g->dilation_w == 1 && g->out_w % 8 == 0));
}

/* Width of one column phase of the padded image: with stride 2 along rows the
 * copy splits even and odd padded columns into two planes, so the taps of
 * consecutive output pixels (columns 2ow + kw) are consecutive again, in phase
 * kw % 2 at column ow + kw / 2. */
static inline int64_t phase_width(const dfp_conv_geom *g)
{
    int64_t wp = g->in_w + 2 * g->pad_w;
    return (wp + g->stride_w - 1) / g->stride_w;
}

/* Where the 48-wide tiles end (dfp_conv_wide_calls_end): 0 without the wide
 * kernel, or with runs of 8. */
static int64_t wide_tiles_end(const dfp_sgemm_ukernel_bo *uk, const dfp_sgemm_ukernel_bo *wide, int run,
                              int64_t vpixels)
{
    if (!wide->fn || run != 16 || wide->nr != 48 || wide->mr != uk->mr)
        return 0;
    return dfp_conv_wide_calls_end(vpixels);
}

static void fprop_image_inplace(const conv_plan *pl, const dfp_sgemm_ukernel_bo *uk,
                                const dfp_sgemm_ukernel_bo *wide, const float *wpack, const int64_t *off,
                                int64_t n, float *xp, float *tile)
{
    const dfp_conv_geom *g = &pl->g;
    const int64_t hp = g->in_h + 2 * g->pad_h, wq = phase_width(g), mr = uk->mr, c_n = g->channels;
    const float *x = pl->x + n * c_n * pl->in_pixels;
    float *y = pl->y + n * pl->out_ch * pl->pixels;
    for (int64_t c = 0; c < c_n; c++) /* interior only: the border stays zero */
        for (int64_t h = 0; h < g->in_h; h++) {
            const float *src = x + (c * g->in_h + h) * g->in_w;
            if (g->stride_w == 1) {
                memcpy(xp + (c * hp + h + g->pad_h) * wq + g->pad_w, src, (size_t)g->in_w * sizeof(float));
                continue;
            }
            /* padded column j = w + pad_w goes to phase j % 2, column j / 2: source
             * columns 2i and 2i + 1 to columns i + (pad_w + t) / 2 of phases
             * (pad_w + t) % 2, t = 0, 1 */
            float *row[2];
            for (int t = 0; t < 2; t++)
                row[t] = xp + (((g->pad_w + t) % 2 * c_n + c) * hp + h + g->pad_h) * wq + (g->pad_w + t) / 2;
            dfp_split_columns32(src, g->in_w, row[0], row[1]);
        }
    /* runs of 16 output pixels, or of 8 where output rows are 8 wide (multiples of 8),
     * along rows computed vw wide (dfp_conv_virtual_width; stride 2 only at out_w % 8 == 0) */
    const int64_t vw = dfp_conv_virtual_width(g->out_w), vpixels = g->out_h * vw;
    const int run = vw % 16 == 0 ? 16 : 8;
    const int64_t wide_end = wide_tiles_end(uk, wide, run, vpixels);
    for (int64_t q0 = 0; q0 < vpixels;) {
        const dfp_sgemm_ukernel_bo *k = q0 < wide_end ? wide : uk;
        const int64_t nr = k->nr, cols = vpixels - q0 < nr ? vpixels - q0 : nr;
        const float *runs[6];
        for (int r = 0; r < nr / run; r++) { /* runs past the last pixel repeat the first */
            int64_t q = r * run < cols ? q0 + r * run : q0;
            runs[r] = xp + q / vw * g->stride_h * wq + q % vw;
        }
        for (int64_t o0 = 0; o0 < pl->out_ch; o0 += mr) {
            int64_t rows = pl->out_ch - o0 < mr ? pl->out_ch - o0 : mr;
            const float *a = wpack + o0 * pl->ckk;
            if (rows == mr && cols == nr && vw == g->out_w) {
                k->fn(pl->ckk, a, runs, run, off, y + o0 * pl->pixels + q0, pl->pixels, 0.0f);
                continue;
            }
            k->fn(pl->ckk, a, runs, run, off, tile, nr, 0.0f);
            for (int64_t q = q0; q < q0 + cols;) { /* the columns of real output pixels */
                const int64_t oh = q / vw, ow = q % vw;
                const int64_t end = q0 + cols < (oh + 1) * vw ? q0 + cols : (oh + 1) * vw;
                if (ow < g->out_w) {
                    const int64_t len = end - q < g->out_w - ow ? end - q : g->out_w - ow;
                    for (int64_t r = 0; r < rows; r++)
                        memcpy(y + (o0 + r) * pl->pixels + oh * g->out_w + ow, tile + r * nr + (q - q0),
                               (size_t)len * sizeof(float));
                }
                q = end;
            }
        }
        q0 += nr;
    }
    if (pl->bias)
        for (int64_t o = 0; o < pl->out_ch; o++)
            for (int64_t q = 0; q < pl->pixels; q++)
                y[o * pl->pixels + q] += pl->bias[o];
    if (pl->y_sums) /* while the image's output is in cache: no pass over y later */
        dfp_bn_plane_sums(y, pl->out_ch, pl->pixels, pl->y_sums + n * pl->out_ch * 3);
}

dfp_status dfp_conv_f32_fprop_inplace(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    const dfp_conv_geom *g = &pl->g;
    const int64_t hp = g->in_h + 2 * g->pad_h, wq = phase_width(g), s = g->stride_w;
    /* virtual columns read up to vw - out_w floats past the last row: zero slack */
    const int64_t vw_extra = dfp_conv_virtual_width(g->out_w) - g->out_w;
    const int64_t planes = s * g->channels * hp * wq + vw_extra + 32;
    const int64_t kk = g->kernel_h * g->kernel_w;
    const int64_t mpan = (pl->out_ch + uk->mr - 1) / uk->mr;
    float *wpack = malloc((size_t)(mpan * uk->mr * pl->ckk) * sizeof(float));
    int64_t *off = malloc((size_t)pl->ckk * sizeof(int64_t));
    int failed = !wpack || !off;
    if (!failed) {
        dfp_pack_a_f32(uk->mr, pl->out_ch, pl->ckk, pl->w, pl->ckk, 1, wpack);
        for (int64_t r = 0; r < pl->ckk; r++) { /* K row r = (c, kh, kw), the OIHW order */
            int64_t c = r / kk, kh = r % kk / g->kernel_w, kw = r % g->kernel_w * g->dilation_w;
            off[r] = ((kw % s * g->channels + c) * hp + kh * g->dilation_h) * wq + kw / s;
        }
    }
    double macs = (double)pl->batch * pl->pixels * pl->out_ch * pl->ckk;
    double per = macs / DFP_CONV_MIN_MACS_PER_THREAD;
    int nt = dfp_threads_for_work(per < (double)pl->batch ? (int64_t)per : pl->batch);
    dfp_work_share ws;
    if (!failed) /* (the reduction's private copies start at 0: test the buffers here) */
#pragma omp parallel num_threads(nt) reduction(| : failed) if (nt > 1)
    {
        float *xp = calloc((size_t)planes, sizeof(float));
        float tile[8 * 48];
        failed |= !xp;
        dfp_work_share_start(&ws, pl->batch); /* images (work_share.h); a thread without xp takes none */
        dfp_work_cursor cur = {0};
        for (int64_t n; xp && (n = dfp_work_next(&ws, &cur)) >= 0;)
            fprop_image_inplace(pl, uk, &dfp_kernels()->fp32.sgemm_inplace_wide, wpack, off, n, xp, tile);
        free(xp);
    }
    free(wpack), free(off);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}

/* ---- WTGRAD ---- */

#define WTGRAD_GROUPS 16 /* images' partial dW: enough groups for two threads to share out */

int dfp_conv_f32_wtgrad_inplace_applies(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    /* a kernel row of fewer than 16 taps would leave most of a run idle: im2col is
     * cheaper there (LeNet's first conv: 5 taps) */
    return uk->fn && (uk->nr == 16 || uk->nr == 32) && uk->mr <= 8 && !pl->direct &&
           pl->g.kernel_w * pl->g.channels >= 16 && pl->g.dilation_w == 1;
}

/* Image x (C x H x W) into the interior of xc[hp][wp][C] (the border stays zero). */
static void chanlast_image(const dfp_conv_geom *g, const float *x, float *xc)
{
    const int64_t wp = g->in_w + 2 * g->pad_w, c = g->channels, plane = g->in_h * g->in_w;
    for (int64_t h = 0; h < g->in_h; h++)
        dfp_to_channel_last32(x + h * g->in_w, plane, g->in_w, c, xc + ((h + g->pad_h) * wp + g->pad_w) * c);
}

/* dy[n] (O x P) as the kernel's A panels: with 8-row panels through the 8-row
 * transpose of the integer packer (32-bit elements: a float is moved as is). */
static void pack_dy(const conv_plan *pl, const dfp_sgemm_ukernel_bo *uk, int64_t n, float *ap)
{
    const int64_t p_n = pl->pixels, mr = uk->mr;
    const float *dy = pl->dy + n * pl->out_ch * p_n;
    if (mr != 8) {
        dfp_pack_a_f32((int)mr, pl->out_ch, p_n, dy, p_n, 1, ap);
        return;
    }
    const dfp_pack_pairs8_fn pack = dfp_kernels()->integer.pack_pairs8;
    for (int64_t o0 = 0; o0 < pl->out_ch; o0 += 8) {
        float *panel = ap + o0 * p_n;
        const int16_t *rows[8] = {NULL};
        for (int64_t i = 0; i < 8 && o0 + i < pl->out_ch; i++)
            rows[i] = (const int16_t *)(const void *)(dy + (o0 + i) * p_n);
        if (pl->out_ch - o0 < 8) /* rows past O stay zero */
            memset(panel, 0, (size_t)(8 * p_n) * sizeof(float));
        pack(rows, p_n, 8, (int32_t *)(void *)panel);
    }
}

dfp_status dfp_conv_f32_wtgrad_inplace(const conv_plan *pl)
{
    const dfp_sgemm_ukernel_bo *uk = &dfp_kernels()->fp32.sgemm_inplace;
    const dfp_conv_geom *g = &pl->g;
    const int64_t c = g->channels, hp = g->in_h + 2 * g->pad_h, wp = g->in_w + 2 * g->pad_w;
    const int64_t mr = uk->mr, mpan = (pl->out_ch + mr - 1) / mr, p_n = pl->pixels;
    /* the taps come in runs of 16 consecutive floats of a kernel row's KW * C (kw, ci); a
     * row's last run may be partial, its extra columns (the next pixel's taps, or zero slack
     * after the copy) computed and dropped; a call takes any `per_call` runs as its columns (three
     * with the 48-wide kernel, else two), so rows of 48 taps (C = 16, KW = 3) waste no run:
     * 9 runs in 3 calls (in 5 of two runs, one run computed twice) */
    const dfp_sgemm_ukernel_bo *wide = &dfp_kernels()->fp32.sgemm_inplace_wide;
    const dfp_sgemm_ukernel_bo *k = wide->fn && wide->mr == mr ? wide : uk;
    const int64_t per_call = k->nr / 16;
    const int64_t row_cols = g->kernel_w * c, row_runs = (row_cols + 15) / 16;
    const int64_t runs_n = g->kernel_h * row_runs;
    const int64_t nb = (runs_n + per_call - 1) / per_call, ldt = nb * k->nr;
    const int64_t acc_floats = mpan * mr * ldt;
    int64_t *off = malloc((size_t)p_n * sizeof(int64_t));
    if (!off)
        return DFP_ERR_OUT_OF_MEMORY;
    for (int64_t p = 0; p < p_n; p++)
        off[p] = (p / g->out_w * g->stride_h * wp + p % g->out_w * g->stride_w) * c;
    double macs = (double)pl->batch * p_n * pl->out_ch * pl->ckk;
    double per = macs / DFP_CONV_MIN_MACS_PER_THREAD;
    int nt = dfp_threads_for_work(per < (double)pl->batch ? (int64_t)per : pl->batch);
    /* a partial dW per fixed group of images, handed out to threads as they come
     * free (a thread slowed by another process takes fewer), added in group order:
     * the result depends on neither the thread count nor who took what */
    const int64_t groups = pl->batch < WTGRAD_GROUPS ? pl->batch : WTGRAD_GROUPS;
    float *part = calloc((size_t)(groups * acc_floats), sizeof(float));
    int failed = !part;
    dfp_work_share ws;
    if (!failed) /* (the reduction's private copies start at 0: test the buffer here) */
#pragma omp parallel num_threads(nt) reduction(| : failed) if (nt > 1)
    {
        float *xc = calloc((size_t)(hp * wp * c + 16), sizeof(float)); /* + a partial run's slack */
        float *ap = aligned_alloc(64, (size_t)((mpan * mr * p_n * 4 + 63) / 64 * 64));
        failed |= !xc || !ap;
        dfp_work_share_start(&ws, groups); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        if (xc && ap) {
            for (int64_t gi; (gi = dfp_work_next(&ws, &cur)) >= 0;) {
                float *acc = part + gi * acc_floats;
                for (int64_t n = pl->batch * gi / groups; n < pl->batch * (gi + 1) / groups; n++) {
                    chanlast_image(g, pl->x + n * c * pl->in_pixels, xc);
                    pack_dy(pl, uk, n, ap);
                    for (int64_t b = 0; b < nb; b++) {
                        const float *runs[3];
                        for (int t = 0; t < per_call; t++) { /* a short last call reads its first run again */
                            const int64_t r = per_call * b + t < runs_n ? per_call * b + t : per_call * b;
                            runs[t] = xc + r / row_runs * g->dilation_h * wp * c + r % row_runs * 16;
                        }
                        for (int64_t ip = 0; ip < mpan; ip++)
                            k->fn(p_n, ap + ip * p_n * mr, runs, 16, off, acc + ip * mr * ldt + b * k->nr,
                                  ldt, 1.0f);
                    }
                }
            }
        }
        free(xc), free(ap);
    }
    if (!failed) {
        /* dw[o][(ci*KH + kh)*KW + kw] = sum over groups, in order, of their acc[o][column of
         * tap t = kw*C + ci of row kh]: element t % 16 of run kh * row_runs + t / 16 */
        for (int64_t o = 0; o < pl->out_ch; o++)
            for (int64_t ci = 0; ci < c; ci++)
                for (int64_t kh = 0; kh < g->kernel_h; kh++)
                    for (int64_t kw = 0; kw < g->kernel_w; kw++) {
                        int64_t t = kw * c + ci, at = o * ldt + (kh * row_runs + t / 16) * 16 + t % 16;
                        float v = part[at];
                        for (int64_t gi = 1; gi < groups; gi++)
                            v += part[gi * acc_floats + at];
                        pl->dw[(o * c + ci) * g->kernel_h * g->kernel_w + kh * g->kernel_w + kw] = v;
                    }
    }
    free(part), free(off);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}
