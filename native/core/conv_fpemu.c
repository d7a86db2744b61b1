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
 * place. WTGRAD sums over every image (K = pixels): its groups are K slices
 * continuing each element's chunked sum from the totals so far
 * (dfp_gemm_fpemu_slice; slices start on chunk boundaries), threads taking
 * input channels (dW's columns). Stochastic rounding indexes elements by their
 * place in the whole matrices and is not taken here. Contract: dfpengine.h. */
#include "fpemu_gemm.h"
#include "conv_batch.h"
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

#define GROUP_PIXELS 256 /* output pixels per product: several small images (measured on
                            * ResNet-20 layers against 64, 1024 and 2048) */

typedef struct fpemu_conv {
    dfp_conv_batch b;
    int64_t group, ngroups; /* images per product */
} fpemu_conv;

static dfp_status conv_of(const dfp_conv2d_shape *s, const void *p, const void *q, const void *r,
                          const dfp_fpemu_gemm_params *fp, fpemu_conv *cv)
{
    if (!s || !p || !q || !r || !fp)
        return DFP_ERR_NULL_POINTER;
    if (fp->in_rounding != DFP_ROUND_NEAREST || fp->acc_rounding != DFP_ROUND_NEAREST)
        return DFP_ERR_INVALID_ARGUMENT;
    dfp_status st = dfp_conv_batch_of(s, &cv->b);
    if (st != DFP_OK)
        return st;
    cv->group = GROUP_PIXELS / cv->b.pixels;
    cv->group = cv->group < 1 ? 1 : cv->group > cv->b.batch ? cv->b.batch : cv->group;
    cv->ngroups = cv->b.batch > 0 ? (cv->b.batch + cv->group - 1) / cv->group : 0;
    return DFP_OK;
}

/* FPROP or BPROP over groups of images, W first (its format in_b of p):
 *   FPROP  out (O x pixels) = W @ tile, the group's im2col tile; rows to y
 *   BPROP  dcols (taps x pixels) = W^T @ dY, the group's dY rows; col2im into dx
 * `in` is x or dY; threads take groups. */
static dfp_status by_group(const fpemu_conv *cv, int bprop, const float *in, const float *w,
                           const dfp_fpemu_gemm_params *p, float *out)
{
    const dfp_conv_batch *b = &cv->b;
    dfp_fpemu_gemm_params q = *p;
    q.in_a = p->in_b, q.in_b = p->in_a;
    const int64_t ld = cv->group * b->pixels, px = b->pixels, o = b->out_ch;
    const int64_t rows = bprop ? b->taps : o, k = bprop ? o : b->taps;
    dfp_status failed = DFP_OK;
    const int preround = !bprop && q.in_b.exp_bits != 0;
#pragma omp parallel num_threads(dfp_threads_for_work(cv->ngroups * ld * b->taps * o / 262144))
    {
        float *src = malloc((size_t)(k * ld) * sizeof(float));    /* tile, or dY side by side */
        float *res = malloc((size_t)(rows * ld) * sizeof(float)); /* out, or dcols */
        float *xr = preround ? malloc((size_t)(cv->group * b->image) * sizeof(float)) : NULL;
        dfp_status mine = src && res && (xr || !preround) ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < cv->ngroups; gi++) {
            const int64_t n0 = gi * cv->group, imgs = b->batch - n0 < cv->group ? b->batch - n0 : cv->group;
            if (mine != DFP_OK)
                continue;
            const dfp_fpemu_slice whole = {0, k, 0, 0, preround};
            if (bprop) {
                dfp_images_side_by_side(in + n0 * o * px, imgs, o, px, src, ld);
            } else {
                const float *xg = in + n0 * b->image;
                if (preround) /* x's images rounded once, not their 9x im2col tile */
                    mine = dfp_float_round(&q.in_b, DFP_ROUND_NEAREST, 0, 0, 0, xg, xr, imgs * b->image);
                for (int64_t i = 0; i < imgs; i++)
                    dfp_im2col_tile(&b->g, (preround ? xr : xg) + i * b->image, sizeof(float), 0, px,
                                    src + i * px, ld);
            }
            if (mine == DFP_OK)
                mine = dfp_gemm_fpemu_slice(bprop, 0, rows, imgs * px, k, w, b->taps, src, ld, res, ld, &q,
                                            &whole);
            if (mine == DFP_OK && !bprop)
                dfp_images_from_side_by_side(res, ld, imgs, o, px, out + n0 * o * px);
            for (int64_t i = 0; i < imgs && mine == DFP_OK && bprop; i++) {
                float *dxn = out + (n0 + i) * b->image;
                memset(dxn, 0, (size_t)b->image * sizeof(float));
                dfp_col2im_tile_f32(&b->g, res + i * px, ld, 0, px, dxn);
            }
        }
        free(src);
        free(res);
        free(xr);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    return failed;
}

dfp_status dfp_conv2d_fpemu_forward(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                    const dfp_fpemu_gemm_params *p, float *y)
{
    fpemu_conv cv;
    dfp_status st = conv_of(shape, x, w, y, p, &cv);
    return st != DFP_OK ? st : by_group(&cv, 0, x, w, p, y);
}

dfp_status dfp_conv2d_fpemu_backward_data(const dfp_conv2d_shape *shape, const float *dy,
                                          const float *w, const dfp_fpemu_gemm_params *p, float *dx)
{
    fpemu_conv cv;
    dfp_status st = conv_of(shape, dy, w, dx, p, &cv);
    return st != DFP_OK ? st : by_group(&cv, 1, dy, w, p, dx);
}

/* Bound (FP32 bits) on |x| after nearest rounding to f: the rounding is monotonic. */
static uint32_t rounded_absmax(const dfp_float_format *f, const float *x, int64_t n)
{
    const uint32_t bits = dfp_kernels()->emu.absmax_bits(x, n);
    float v, r;
    memcpy(&v, &bits, sizeof v);
    if (bits >= 0x7f800000u || f->exp_bits == 0 ||
        dfp_float_round(f, DFP_ROUND_NEAREST, 0, 0, 0, &v, &r, 1) != DFP_OK)
        return bits;
    uint32_t out;
    memcpy(&out, &r, sizeof out);
    return out & 0x7fffffffu;
}

dfp_status dfp_conv2d_fpemu_backward_weight(const dfp_conv2d_shape *shape, const float *x,
                                            const float *dy, const dfp_fpemu_gemm_params *p,
                                            float *dw)
{
    fpemu_conv cv;
    dfp_status st = conv_of(shape, x, dy, dw, p, &cv);
    if (st != DFP_OK)
        return st;
    const dfp_conv_batch *b = &cv.b;
    const int64_t px = b->pixels, o = b->out_ch, kk = b->g.kernel_h * b->g.kernel_w;
    const int64_t plane = b->g.in_h * b->g.in_w;
    /* slices start on chunk boundaries of K = N * pixels: whole multiples of `unit` images */
    const int64_t unit = dfp_images_per_block(px, p->chunk);
    int64_t group = (cv.group + unit - 1) / unit * unit;
    group = group > b->batch ? b->batch : group;
    if (group < unit)
        group = b->batch; /* fewer images than one unit: a single slice */
    const int64_t ld = group * px;
    const dfp_fpemu_slice base = {0, b->batch * px, rounded_absmax(&p->in_a, dy, b->batch * o * px),
                                  rounded_absmax(&p->in_b, x, b->batch * b->image), 0};
    const int preround = p->in_b.exp_bits != 0;
    const int teams = dfp_threads_for_work(b->batch * px * b->taps * o / 262144);
    const int parts = teams < b->g.channels ? teams : (int)b->g.channels;
    dfp_status failed = DFP_OK;
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int part = 0; part < parts; part++) {
        const int64_t c0 = b->g.channels * part / parts, c1 = b->g.channels * (part + 1) / parts;
        dfp_conv_geom g = b->g;
        g.channels = c1 - c0;
        const int64_t taps = g.channels * kk;
        float *tile = malloc((size_t)(taps * ld) * sizeof(float));
        float *dyg = group > 1 ? malloc((size_t)(o * ld) * sizeof(float)) : NULL;
        float *xr = preround ? malloc((size_t)(g.channels * plane) * sizeof(float)) : NULL;
        dfp_status mine = tile && (group == 1 || dyg) && (xr || !preround) ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
        for (int64_t n0 = 0; n0 < b->batch && mine == DFP_OK; n0 += group) {
            const int64_t imgs = b->batch - n0 < group ? b->batch - n0 : group, k = imgs * px;
            for (int64_t i = 0; i < imgs && mine == DFP_OK; i++) {
                const float *xc = x + (n0 + i) * b->image + c0 * plane; /* own channels */
                if (preround) { /* rounded once, not as the 9x tile */
                    mine = dfp_float_round(&p->in_b, DFP_ROUND_NEAREST, 0, 0, 0, xc, xr, g.channels * plane);
                    xc = xr;
                }
                dfp_im2col_tile(&g, xc, sizeof(float), 0, px, tile + i * px, ld);
            }
            if (mine != DFP_OK)
                break;
            const float *dyk = dy + n0 * o * px; /* O x k */
            if (group > 1) {
                dfp_images_side_by_side(dyk, imgs, o, px, dyg, ld);
                dyk = dyg;
            }
            dfp_fpemu_slice slice = base;
            slice.accumulate = n0 > 0;
            slice.b_on_grid = preround;
            /* dW[:, own taps] (+)= dY @ tile^T */
            mine = dfp_gemm_fpemu_slice(0, 1, o, taps, k, dyk, group > 1 ? ld : px, tile, ld,
                                        dw + c0 * kk, b->taps, p, &slice);
        }
        free(tile);
        free(dyg);
        free(xr);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    return failed;
}
