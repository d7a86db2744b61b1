/* Convolutions in block floating point (HBFP, MXINT-like integer blocks), one
 * image at a time.
 *
 * Each pass is by definition one dfp_gemm_bfp_f32 on the batch's im2col
 * matrix cols (rows: taps (c, kh, kw); columns: pixels (n, oh, ow)), the
 * formulation of dfpengine/_native/_im2col_conv.py:
 *   fprop   y^T   = cols^T (pixels x taps) @ W^T       blocks along taps
 *   bprop   dcols = W^T (taps x O) @ dY (O x pixels)   blocks along O; dx = col2im(dcols)
 *   wtgrad  dW    = dY (O x pixels) @ cols^T           blocks along pixels
 * Here each image's share of that GEMM is computed on its own: the image's
 * im2col tile (taps x OH*OW: in cache, where the batch's matrix is 9x the
 * activations in memory), its dY read in place from NCHW (no NHWC copy), its
 * output written straight into NCHW y or scattered into dx. The slices keep
 * the stochastic indices of the whole matrices (dfp_bfp_origin) and either
 * split only the output (fprop, bprop) or continue the FP32 totals block by
 * block in K order (wtgrad, whose K = pixels advances a group of images at a
 * time, each group starting a block), so every result equals the whole-batch
 * GEMM bit for bit. FPROP and BPROP: threads take images; WTGRAD: groups in
 * order, threads take input channels.
 * Contract: dfpengine.h, dfp_conv2d_bfp_*. */
#include "bfp_gemm.h"
#include "conv_batch.h"
#include "kernel_table.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

#define WTGRAD_K 1024 /* pixels per WTGRAD product (several small images) */

static dfp_status conv_of(const dfp_conv2d_shape *s, const void *p, const void *q, const void *r,
                          const dfp_bfp_format *f1, const dfp_bfp_format *f2, dfp_conv_batch *cv)
{
    if (!s || !p || !q || !r || !f1 || !f2)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = dfp_conv_batch_of(s, cv);
    if (st == DFP_OK &&
        (f1->block != f2->block || !dfp_gemm_bfp_on_integers(f1->block, f1->mag_bits, f2->mag_bits)))
        st = DFP_ERR_INVALID_ARGUMENT;
    return st;
}

static dfp_bfp_operand operand(const dfp_bfp_format *f, const float *x, int64_t row_stride,
                               int64_t k_stride)
{
    return (dfp_bfp_operand){x, row_stride, k_stride, f->block, f->mag_bits, f->floor_exponent,
                             f->rounding, f->seed, f->stream};
}

/* Copy `planes` h x w planes into the interiors of zero-bordered (h + 2 ph) x
 * (w + 2 pw) planes at dst (whose borders the caller zeroed once). */
static void dfp_pad_planes(const float *src, int64_t planes, int64_t h, int64_t w, int64_t ph,
                           int64_t pw, float *dst)
{
    const int64_t wp = w + 2 * pw, hp = h + 2 * ph;
    for (int64_t c = 0; c < planes; c++)
        for (int64_t ih = 0; ih < h; ih++)
            memcpy(dst + (c * hp + ih + ph) * wp + pw, src + (c * h + ih) * w, (size_t)w * sizeof(float));
}

/* FPROP or BPROP: per image, C (rows x pixels) = W' @ B^T with the weight
 * operand W' (rows x k) packed once as A and B (pixels x k) the image's:
 *   FPROP  W' = W (O x taps),   B = its im2col tile^T, C = y[n] directly
 *   BPROP  W' = W^T (taps x O), B = dY[n]^T read in place, C -> col2im into dx[n]
 * `in` is x or dY, fin its format; threads take images. */
static dfp_status by_image(const dfp_conv_batch *cv, int bprop, const float *in,
                           const dfp_bfp_format *fin, const float *w, const dfp_bfp_format *fw,
                           float *out)
{
    const int64_t px = cv->pixels, rows = bprop ? cv->taps : cv->out_ch;
    const int64_t k = bprop ? cv->out_ch : cv->taps, nb = (k + fin->block - 1) / fin->block;
    const dfp_bfp_operand ow = bprop ? operand(fw, w, 1, cv->taps) : operand(fw, w, cv->taps, 1);
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    dfp_s16_packed pw = {0};
    int32_t *ew = malloc((size_t)(rows * nb) * sizeof(int32_t));
    dfp_status failed = ew ? dfp_bfp_pack_operand(&ow, NULL, rows, k, ik->mr, &pw, ew)
                           : DFP_ERR_OUT_OF_MEMORY;
    const dfp_status packed = failed;
    /* FPROP with stride 1 along rows and rows of 16-pixel runs reads the taps
     * from a zero-padded copy of the image in place: no im2col tile */
    const dfp_conv_geom *g = &cv->g;
    const int in_place = !bprop && g->stride_w == 1 && g->out_w % DFP_BFP_LANES == 0 &&
                         (ik->nr % DFP_BFP_LANES == 0 || DFP_BFP_LANES % ik->nr == 0);
    const int64_t hp = g->in_h + 2 * g->pad_h, wp = g->in_w + 2 * g->pad_w;
    const size_t buf_floats = (size_t)(in_place ? g->channels * hp * wp : cv->taps * px);
#pragma omp parallel num_threads(dfp_threads_for_work(cv->batch * px * cv->taps * cv->out_ch / 262144))
    {
        float *buf = dfp_scratch_take(buf_floats * sizeof(float)); /* padded image, tile or dcols */
        int32_t *eb = malloc((size_t)(px * nb) * sizeof(int32_t));
        dfp_status mine = packed != DFP_OK ? packed : buf && eb ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
        if (mine == DFP_OK && in_place)
            memset(buf, 0, buf_floats * sizeof(float)); /* the borders stay zero */
#pragma omp for schedule(static)
        for (int64_t n = 0; n < cv->batch; n++) {
            if (mine != DFP_OK)
                continue;
            const dfp_bfp_origin at = {n * px, 0, k}; /* the image's rows of the batch's B */
            float *c = bprop ? buf : out + n * cv->out_ch * px;
            dfp_s16_packed pb = {0};
            if (in_place) {
                dfp_pad_planes(in + n * cv->image, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w, buf);
                const dfp_bfp_taps taps = {g, buf, hp, wp};
                const dfp_bfp_operand fmt = operand(fin, NULL, 0, 0);
                mine = dfp_bfp_pack_taps(&fmt, &at, &taps, ik->nr, &pb, eb);
            } else {
                dfp_bfp_operand ob;
                if (bprop) {
                    ob = operand(fin, in + n * cv->out_ch * px, 1, px);
                } else {
                    dfp_im2col_tile(g, in + n * cv->image, sizeof(float), 0, px, buf, px);
                    ob = operand(fin, buf, 1, px);
                }
                mine = dfp_bfp_pack_operand(&ob, &at, px, k, ik->nr, &pb, eb);
            }
            if (mine == DFP_OK)
                mine = dfp_gemm_bfp_packed(rows, px, k, fin->block, &pw, ew, &pb, eb, c, px, 0);
            dfp_scratch_give(pb.panels);
            if (mine == DFP_OK && bprop) {
                float *dxn = out + n * cv->image;
                memset(dxn, 0, (size_t)cv->image * sizeof(float));
                dfp_col2im_tile_f32(&cv->g, buf, px, 0, px, dxn);
            }
        }
        dfp_scratch_give(buf);
        free(eb);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    dfp_scratch_give(pw.panels);
    free(ew);
    return failed;
}

dfp_status dfp_conv2d_bfp_forward(const dfp_conv2d_shape *shape, const float *x,
                                  const dfp_bfp_format *fx, const float *w,
                                  const dfp_bfp_format *fw, float *y)
{
    dfp_conv_batch cv;
    dfp_status st = conv_of(shape, x, w, y, fx, fw, &cv);
    return st != DFP_OK ? st : by_image(&cv, 0, x, fx, w, fw, y);
}

dfp_status dfp_conv2d_bfp_backward_data(const dfp_conv2d_shape *shape, const float *dy,
                                        const dfp_bfp_format *fdy, const float *w,
                                        const dfp_bfp_format *fw, float *dx)
{
    dfp_conv_batch cv;
    dfp_status st = conv_of(shape, dy, w, dx, fdy, fw, &cv);
    return st != DFP_OK ? st : by_image(&cv, 1, dy, fdy, w, fw, dx);
}

dfp_status dfp_conv2d_bfp_backward_weight(const dfp_conv2d_shape *shape, const float *x,
                                          const dfp_bfp_format *fx, const float *dy,
                                          const dfp_bfp_format *fdy, float *dw)
{
    dfp_conv_batch cv;
    dfp_status st = conv_of(shape, x, dy, dw, fx, fdy, &cv);
    if (st != DFP_OK)
        return st;
    const int64_t px = cv.pixels, o = cv.out_ch, all = cv.batch * px;
    const int64_t kk = cv.g.kernel_h * cv.g.kernel_w, plane = cv.g.in_h * cv.g.in_w;
    /* K runs image after image, so threads split the output instead: each takes
     * a range of input channels, i.e. of dW's columns (taps), through every
     * image, with no synchronisation. dY, the small operand, is quantised and
     * packed once beforehand, a group of images (K of about WTGRAD_K pixels per
     * product) at a time, its rows copied side by side. A group starts a block
     * of K = pixels, so its slice continues the whole sum: groups are whole
     * multiples of `unit` images (one unless an image is not whole blocks). */
    const int teams = dfp_threads_for_work(cv.batch * px * cv.taps * o / 262144);
    const int parts = teams < cv.g.channels ? teams : (int)cv.g.channels;
    const int64_t unit = dfp_images_per_block(px, fx->block);
    int64_t group = (WTGRAD_K / px + unit - 1) / unit * unit;
    group = group < unit ? unit : group;
    group = group > cv.batch ? cv.batch : group;
    const int64_t ld = group * px, ngroups = (cv.batch + group - 1) / group;
    const int64_t nbg = (ld + fx->block - 1) / fx->block; /* blocks per group */
    dfp_s16_packed *pdy = calloc((size_t)ngroups, sizeof *pdy);
    int32_t *edy = malloc((size_t)(ngroups * o * nbg) * sizeof(int32_t));
    dfp_status failed = pdy && edy ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp parallel num_threads(dfp_threads_for_work(cv.batch * o * px / 65536))
    {
        float *dyg = group > 1 ? malloc((size_t)(o * ld) * sizeof(float)) : NULL;
        dfp_status mine = failed != DFP_OK ? failed : group == 1 || dyg ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t gi = 0; gi < ngroups; gi++) {
            const int64_t n0 = gi * group, imgs = cv.batch - n0 < group ? cv.batch - n0 : group;
            if (mine != DFP_OK)
                continue;
            const float *dyk = dy + n0 * o * px; /* O x pixels of the group */
            if (group > 1) {
                dfp_images_side_by_side(dyk, imgs, o, px, dyg, ld);
                dyk = dyg;
            }
            const dfp_bfp_operand ody = operand(fdy, dyk, group > 1 ? ld : px, 1);
            const dfp_bfp_origin at = {0, n0 * px, all};
            mine = dfp_bfp_pack_operand(&ody, &at, o, imgs * px, dfp_kernels()->integer.mr, &pdy[gi],
                                        edy + gi * o * nbg);
        }
        free(dyg);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    const dfp_status packed = failed;
    /* Stride 1 along rows and runs of 16 pixels: the im2col rows are read
     * from zero-padded copies of the group's images (1x the input, not the
     * tile's 9x), gathered k-major straight into the quantiser */
    const dfp_conv_geom *g0 = &cv.g;
    const int in_place = g0->stride_w == 1 && g0->out_w % DFP_BFP_RUN == 0 && fx->block % DFP_BFP_RUN == 0;
    const int64_t hp = g0->in_h + 2 * g0->pad_h, wp = g0->in_w + 2 * g0->pad_w;
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int part = 0; part < parts; part++) {
        if (packed != DFP_OK)
            continue;
        const int64_t c0 = cv.g.channels * part / parts, c1 = cv.g.channels * (part + 1) / parts;
        dfp_conv_geom g = cv.g;
        g.channels = c1 - c0;
        const int64_t taps = g.channels * kk, padded = g.channels * hp * wp;
        const size_t buf_floats = (size_t)(in_place ? group * padded : taps * ld);
        float *tile = dfp_scratch_take(buf_floats * sizeof(float)); /* tile or padded images */
        int32_t *ecols = malloc((size_t)(taps * nbg) * sizeof(int32_t));
        dfp_status mine = tile && ecols ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
        if (mine == DFP_OK && in_place)
            memset(tile, 0, buf_floats * sizeof(float)); /* the borders stay zero */
        for (int64_t gi = 0; gi < ngroups && mine == DFP_OK; gi++) {
            const int64_t n0 = gi * group, imgs = cv.batch - n0 < group ? cv.batch - n0 : group, k = imgs * px;
            /* dW[:, own taps] (+)= dY @ cols^T, cols = the group's im2col rows (taps x k) */
            const dfp_bfp_origin at = {c0 * kk, n0 * px, all};
            dfp_s16_packed pcols = {0};
            if (in_place) {
                for (int64_t i = 0; i < imgs; i++)
                    dfp_pad_planes(x + (n0 + i) * cv.image + c0 * plane, g.channels, g.in_h, g.in_w,
                                   g.pad_h, g.pad_w, tile + i * padded);
                const dfp_bfp_taps src = {&g, tile, hp, wp};
                const dfp_bfp_operand fmt = operand(fx, NULL, 0, 0);
                mine = dfp_bfp_pack_tap_rows(&fmt, &at, &src, imgs, dfp_kernels()->integer.nr, &pcols, ecols);
            } else {
                for (int64_t i = 0; i < imgs; i++)
                    dfp_im2col_tile(&g, x + (n0 + i) * cv.image + c0 * plane, sizeof(float), 0, px,
                                    tile + i * px, ld);
                const dfp_bfp_operand ocols = operand(fx, tile, ld, 1);
                mine = dfp_bfp_pack_operand(&ocols, &at, taps, k, dfp_kernels()->integer.nr, &pcols, ecols);
            }
            if (mine == DFP_OK)
                mine = dfp_gemm_bfp_packed(o, taps, k, fx->block, &pdy[gi], edy + gi * o * nbg, &pcols,
                                           ecols, dw + c0 * kk, cv.taps, n0 > 0);
            dfp_scratch_give(pcols.panels);
        }
        dfp_scratch_give(tile);
        free(ecols);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    for (int64_t gi = 0; pdy && gi < ngroups; gi++)
        dfp_scratch_give(pdy[gi].panels);
    free(pdy);
    free(edy);
    return failed;
}
