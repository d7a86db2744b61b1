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
 * block in K order (wtgrad, whose K = pixels advances one image at a time, an
 * image being a whole number of blocks), so every result equals the
 * whole-batch GEMM bit for bit. FPROP and BPROP: threads take images;
 * WTGRAD: images in order, threads take input channels.
 * Contract: dfpengine.h, dfp_conv2d_bfp_*. */
#include "bfp_gemm.h"
#include "im2col.h"
#include "kernel_table.h"
#include "scratch.h"

#include <stdlib.h>
#include <string.h>

#define WTGRAD_K 1024 /* pixels per WTGRAD product (several small images) */

typedef struct bfp_conv {
    dfp_conv_geom g;
    int64_t batch, out_ch, taps, pixels, image; /* pixels per output image, floats per input image */
} bfp_conv;

static dfp_status conv_of(const dfp_conv2d_shape *s, const void *p, const void *q, const void *r,
                          const dfp_bfp_format *f1, const dfp_bfp_format *f2, bfp_conv *cv)
{
    if (!s || !p || !q || !r || !f1 || !f2)
        return DFP_ERR_NULL_POINTER;
    int64_t oh, ow;
    dfp_status st = dfp_conv2d_output_size(s, &oh, &ow);
    if (st != DFP_OK)
        return st;
    if (f1->block != f2->block || !dfp_gemm_bfp_on_integers(f1->block, f1->mag_bits, f2->mag_bits))
        return DFP_ERR_INVALID_ARGUMENT;
    cv->g = (dfp_conv_geom){s->in_channels, s->in_h, s->in_w, s->kernel_h, s->kernel_w, s->stride_h,
                            s->stride_w, s->pad_h, s->pad_w, s->dilation_h, s->dilation_w, oh, ow};
    cv->batch = s->batch;
    cv->out_ch = s->out_channels;
    cv->taps = s->in_channels * s->kernel_h * s->kernel_w;
    cv->pixels = oh * ow;
    cv->image = s->in_channels * s->in_h * s->in_w;
    return DFP_OK;
}

static dfp_bfp_operand operand(const dfp_bfp_format *f, const float *x, int64_t row_stride,
                               int64_t k_stride)
{
    return (dfp_bfp_operand){x, row_stride, k_stride, f->block, f->mag_bits, f->floor_exponent,
                             f->rounding, f->seed, f->stream};
}

/* The image's im2col tile (taps x pixels), its pixel range split over the
 * threads when called outside a team. */
static void im2col_image(const bfp_conv *cv, const float *xn, float *tile)
{
    const int64_t px = cv->pixels;
    const int parts = dfp_threads_for_work(cv->taps * px / 65536);
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int part = 0; part < parts; part++) {
        const int64_t p0 = px * part / parts, p1 = px * (part + 1) / parts;
        dfp_im2col_tile(&cv->g, xn, sizeof(float), p0, p1 - p0, tile + p0, px);
    }
}

/* The weight operand, packed once as A (mr-wide panels) for every image. */
typedef struct packed_weight {
    dfp_s16_packed p;
    int32_t *exps;
} packed_weight;

static dfp_status pack_weight(const dfp_bfp_operand *op, int64_t rows, int64_t k, packed_weight *pw)
{
    const int64_t nb = (k + op->block - 1) / op->block;
    pw->p.panels = NULL;
    pw->exps = malloc((size_t)(rows * nb) * sizeof(int32_t));
    if (!pw->exps)
        return DFP_ERR_OUT_OF_MEMORY;
    return dfp_bfp_pack_operand(op, NULL, rows, k, dfp_kernels()->integer.mr, &pw->p, pw->exps);
}

static void free_weight(packed_weight *pw)
{
    dfp_scratch_give(pw->p.panels);
    free(pw->exps);
}

/* C (rows x cols, ldc) = A @ B^T for the packed weight A and B (cols x k) of
 * one image, quantised as `at` places it; bexps: scratch for cols x nb. */
static dfp_status image_product(const packed_weight *pw, int64_t rows, int64_t cols, int64_t k,
                                const dfp_bfp_operand *b, const dfp_bfp_origin *at,
                                int32_t *bexps, float *c, int64_t ldc)
{
    dfp_s16_packed pb = {0};
    dfp_status st = dfp_bfp_pack_operand(b, at, cols, k, dfp_kernels()->integer.nr, &pb, bexps);
    if (st == DFP_OK)
        st = dfp_gemm_bfp_packed(rows, cols, k, b->block, &pw->p, pw->exps, &pb, bexps, c, ldc, 0);
    dfp_scratch_give(pb.panels);
    return st;
}

dfp_status dfp_conv2d_bfp_forward(const dfp_conv2d_shape *shape, const float *x,
                                  const dfp_bfp_format *fx, const float *w,
                                  const dfp_bfp_format *fw, float *y)
{
    bfp_conv cv;
    dfp_status st = conv_of(shape, x, w, y, fx, fw, &cv);
    if (st != DFP_OK)
        return st;
    const int64_t px = cv.pixels, taps = cv.taps, nb = (taps + fx->block - 1) / fx->block;
    const dfp_bfp_operand ow = operand(fw, w, taps, 1);
    packed_weight pw;
    st = pack_weight(&ow, cv.out_ch, taps, &pw);
    dfp_status failed = st;
#pragma omp parallel num_threads(dfp_threads_for_work(cv.batch * px * taps * cv.out_ch / 262144))
    {
        float *tile = dfp_scratch_take((size_t)(taps * px) * sizeof(float));
        int32_t *exps = malloc((size_t)(px * nb) * sizeof(int32_t));
        dfp_status mine = st != DFP_OK ? st : tile && exps ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < cv.batch; n++) {
            if (mine != DFP_OK)
                continue;
            im2col_image(&cv, x + n * cv.image, tile);
            /* y[n] (O x pixels) = W @ (the image's rows of cols^T)^T */
            const dfp_bfp_operand ox = operand(fx, tile, 1, px);
            const dfp_bfp_origin at = {n * px, 0, taps};
            mine = image_product(&pw, cv.out_ch, px, taps, &ox, &at, exps, y + n * cv.out_ch * px, px);
        }
        dfp_scratch_give(tile);
        free(exps);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    free_weight(&pw);
    return failed;
}

dfp_status dfp_conv2d_bfp_backward_data(const dfp_conv2d_shape *shape, const float *dy,
                                        const dfp_bfp_format *fdy, const float *w,
                                        const dfp_bfp_format *fw, float *dx)
{
    bfp_conv cv;
    dfp_status st = conv_of(shape, dy, w, dx, fdy, fw, &cv);
    if (st != DFP_OK)
        return st;
    const int64_t px = cv.pixels, taps = cv.taps, o = cv.out_ch, nb = (o + fdy->block - 1) / fdy->block;
    const dfp_bfp_operand owt = operand(fw, w, 1, taps); /* W^T: taps x O */
    packed_weight pw;
    st = pack_weight(&owt, taps, o, &pw);
    dfp_status failed = st;
#pragma omp parallel num_threads(dfp_threads_for_work(cv.batch * px * taps * o / 262144))
    {
        float *dcols = dfp_scratch_take((size_t)(taps * px) * sizeof(float));
        int32_t *exps = malloc((size_t)(px * nb) * sizeof(int32_t));
        dfp_status mine = st != DFP_OK ? st : dcols && exps ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < cv.batch; n++) {
            if (mine != DFP_OK)
                continue;
            /* the image's rows of dY^T (pixels x O), read in place from NCHW */
            const dfp_bfp_operand ody = operand(fdy, dy + n * o * px, 1, px);
            const dfp_bfp_origin at = {n * px, 0, o};
            mine = image_product(&pw, taps, px, o, &ody, &at, exps, dcols, px);
            if (mine != DFP_OK)
                continue;
            float *dxn = dx + n * cv.image;
            memset(dxn, 0, (size_t)cv.image * sizeof(float));
            dfp_col2im_tile_f32(&cv.g, dcols, px, 0, px, dxn);
        }
        dfp_scratch_give(dcols);
        free(exps);
#pragma omp critical
        if (mine != DFP_OK)
            failed = mine;
    }
    free_weight(&pw);
    return failed;
}

dfp_status dfp_conv2d_bfp_backward_weight(const dfp_conv2d_shape *shape, const float *x,
                                          const dfp_bfp_format *fx, const float *dy,
                                          const dfp_bfp_format *fdy, float *dw)
{
    bfp_conv cv;
    dfp_status st = conv_of(shape, x, dy, dw, fx, fdy, &cv);
    if (st != DFP_OK)
        return st;
    const int64_t px = cv.pixels, o = cv.out_ch, all = cv.batch * px;
    const int64_t kk = cv.g.kernel_h * cv.g.kernel_w, plane = cv.g.in_h * cv.g.in_w;
    /* an image must start a block of K = pixels for its slice to continue the sum */
    if (cv.batch > 1 && px % fx->block)
        return DFP_ERR_INVALID_ARGUMENT;
    /* K runs image after image, so threads split the output instead: each takes
     * a range of input channels, i.e. of dW's columns (taps), through every
     * image, with no synchronisation. dY, the small operand, is quantised and
     * packed once beforehand, a group of images (K of about WTGRAD_K pixels per
     * product) at a time, its rows copied side by side. */
    const int teams = dfp_threads_for_work(cv.batch * px * cv.taps * o / 262144);
    const int parts = teams < cv.g.channels ? teams : (int)cv.g.channels;
    int64_t group = WTGRAD_K / px;
    group = group < 1 ? 1 : group > cv.batch ? cv.batch : group;
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
                for (int64_t r = 0; r < o; r++)
                    for (int64_t i = 0; i < imgs; i++)
                        memcpy(dyg + r * ld + i * px, dyk + (i * o + r) * px, (size_t)px * sizeof(float));
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
#pragma omp parallel for schedule(static) num_threads(parts)
    for (int part = 0; part < parts; part++) {
        if (packed != DFP_OK)
            continue;
        const int64_t c0 = cv.g.channels * part / parts, c1 = cv.g.channels * (part + 1) / parts;
        dfp_conv_geom g = cv.g;
        g.channels = c1 - c0;
        const int64_t taps = g.channels * kk;
        float *tile = dfp_scratch_take((size_t)(taps * ld) * sizeof(float));
        int32_t *ecols = malloc((size_t)(taps * nbg) * sizeof(int32_t));
        dfp_status mine = tile && ecols ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
        for (int64_t gi = 0; gi < ngroups && mine == DFP_OK; gi++) {
            const int64_t n0 = gi * group, imgs = cv.batch - n0 < group ? cv.batch - n0 : group, k = imgs * px;
            for (int64_t i = 0; i < imgs; i++)
                dfp_im2col_tile(&g, x + (n0 + i) * cv.image + c0 * plane, sizeof(float), 0, px,
                                tile + i * px, ld);
            /* dW[:, own taps] (+)= dY @ tile^T */
            const dfp_bfp_operand ocols = operand(fx, tile, ld, 1); /* taps x k */
            const dfp_bfp_origin at = {c0 * kk, n0 * px, all};
            dfp_s16_packed pcols = {0};
            mine = dfp_bfp_pack_operand(&ocols, &at, taps, k, dfp_kernels()->integer.nr, &pcols, ecols);
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
