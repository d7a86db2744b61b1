/* DFP16 WTGRAD: dy quantised into the image-pair layout (or its codes kept by
 * BPROP), x from FPROP's kept codes or quantised here, then the reduction over
 * K = image pairs x output pixels, in place on VNNI (conv_wtgrad_inplace.c) or
 * on packed tap panels. */
#include "conv_dfp16_job.h"
#include "conv_s16_pack.h"
#include "conv_wtgrad_inplace.h"
#include "igemm.h"
#include "kernel_table.h"
#include "scratch.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

#define WG_SLICE_PAIRS 1024 /* K pairs per slice, at least one image */

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void dfp_wtgrad_sum_slices(const float *part, int64_t nslices, int64_t part_len, int64_t out_ch,
                           int64_t ldp, int64_t ckk, const int64_t *col, float sa, float sb, float *dw)
{
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(out_ch))
    for (int64_t o = 0; o < out_ch; o++)
        for (int64_t r = 0; r < ckk; r++) {
            const float *src = part + o * ldp + (col ? col[r] : r);
            float acc = nslices ? src[0] : 0.0f;
            for (int64_t s = 1; s < nslices; s++)
                acc += src[s * part_len];
            dw[o * ckk + r] = acc * sa * sb;
        }
}

/* Chunking of WTGRAD (A = dy, rows o, K = image pairs x pixels in slices of
 * `per` image pairs, chunks restarting at each slice): from dy's row sums per
 * slice and x's maximum. */
static dfp_status dy_chunking(const conv_job *j, int64_t per, int64_t nslices, int64_t *chunk,
                              int64_t *kc)
{
    const int64_t o = j->out_ch, pixels = j->pixels, pairs = (j->batch + 1) / 2;
    const int64_t seg = (per * pixels + DFP_L1_GROUP - 1) / DFP_L1_GROUP;
    const int64_t last = ((pairs - (nslices - 1) * per) * pixels + DFP_L1_GROUP - 1) / DFP_L1_GROUP;
    dfp_l1_groups g;
    if (dfp_l1_groups_init(&g, o, (nslices - 1) * seg + last, seg) != DFP_OK)
        return DFP_ERR_OUT_OF_MEMORY;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(o))
    {
        dfp_work_share_start(&ws, o); /* rows, each its own sums (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t r; (r = dfp_work_next(&ws, &cur)) >= 0;)
            for (int64_t m = 0; m < pairs; m++)
                dfp_l1_groups_add_run(j->dy.q + (m * o + r) * pixels * 2, pixels, (m % per) * pixels,
                                      g.sum + r * g.ngroups + (m / per) * seg);
    }
    dfp_igemm_chunking_l1(&g, j->x.max_abs, j->dy.max_abs, j->x.max_abs, chunk, kc);
    dfp_l1_groups_free(&g);
    return DFP_OK;
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
    if (dy_chunking(j, per, nslices, &chunk, &kc) != DFP_OK)
        return DFP_ERR_OUT_OF_MEMORY;
    if (dfp_wtgrad_inplace_applies(g)) {
        int16_t *xc = j->x.q;
        if (!j->x_chanlast) {
            const int64_t t0 = dfp_clock_ns();
            const int64_t size = dfp_conv_pairs_size(j->batch, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w, 1);
            xc = dfp_scratch_take((size_t)size * sizeof(int16_t));
            if (!xc)
                return DFP_ERR_OUT_OF_MEMORY;
            dfp_chanlast_from_imgpairs(pairs, g->channels, hp * wp, j->x.q, xc);
            memset(xc + size - 2 * PAIRS_SLACK, 0, 2 * PAIRS_SLACK * sizeof(int16_t));
            if (stats)
                stats->quantize_ns += dfp_clock_ns() - t0;
        }
        dfp_status st = dfp_wtgrad_inplace(g, j->batch, o, xc, j->dy.q, chunk, kc, per,
                                           dfp_pow2f(j->dy.e), dfp_pow2f(j->x.e), dw, &flushes);
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
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(nslices)) reduction(| : failed) \
    reduction(+ : flushes) if (!failed)
    {
        int16_t *ap = aligned_alloc(64, (size_t)((mpan * kc * mr * 4 + 63) / 64 * 64));
        int16_t *bp = aligned_alloc(64, (size_t)((npan * kc * nr * 4 + 63) / 64 * 64));
        failed |= !ap || !bp;
        dfp_work_share_start(&ws, nslices); /* slices, each its own partial (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t s; (s = dfp_work_next(&ws, &cur)) >= 0;) {
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
        dfp_wtgrad_sum_slices(part, nslices, part_len, o, ldb, ckk, NULL, dfp_pow2f(j->dy.e),
                              dfp_pow2f(j->x.e), dw);
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
    dfp_status st = dfp_conv_quantize_pairs(dy, j->batch, j->out_ch, j->g.out_h, j->g.out_w, 0, 0, 1, NULL, pdy,
                                   &j->dy, &sat, NULL);
    if (st == DFP_OK)
        st = wtgrad(j, dw, stats);
    if (st == DFP_OK && stats) {
        stats->saturations += sat;
        dfp_conv_add_quant_stats(j, stats);
    }
    dfp_conv_free_job(j);
    return st;
}

dfp_status dfp_conv2d_backward_weight_dfp16(const dfp_conv2d_shape *shape, const float *x,
                                            const float *dy, float *dw, const dfp_dfp16_params *px,
                                            const dfp_dfp16_params *pdy, dfp_gemm_stats *stats)
{
    conv_job j;
    if (!shape || !x || !dy || !dw || !px || !pdy)
        return DFP_ERR_NULL_POINTER;
    dfp_status st = dfp_conv_make_job(shape, &j);
    int64_t sat = 0;
    if (st == DFP_OK)
        st = dfp_conv_quantize_pairs(x, j.batch, j.g.channels, j.g.in_h, j.g.in_w, j.g.pad_h, j.g.pad_w, 1, NULL,
                            px, &j.x, &sat, NULL);
    if (st != DFP_OK) {
        dfp_conv_free_job(&j);
        return st;
    }
    return wtgrad_from_x(&j, dy, dw, pdy, sat, stats);
}

/* j->x from FPROP's kept channel pairs (an int16 shuffle, no FP32 read) into
 * the channel-last layout of the in-place WTGRAD or the image pairs. */
static dfp_status x_from_kept(conv_job *j, const dfp_dfp16_input *kept)
{
    const dfp_conv_geom *g = &j->g;
    const int64_t t0 = dfp_clock_ns();
    const int64_t size = dfp_conv_pairs_size(j->batch, g->channels, g->in_h, g->in_w, g->pad_h, g->pad_w, 1);
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
    j->x.ns += dfp_clock_ns() - t0;
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
    dfp_status st = dfp_conv_make_job(shape, &j);
    if (st == DFP_OK)
        st = x_from_kept(&j, kept_x);
    if (st == DFP_OK) {
        j.dy.q = kept_dy->pairs; /* borrowed: not freed with the job */
        j.dy.e = kept_dy->exponent;
        j.dy.max_abs = kept_dy->max_abs;
        st = wtgrad(&j, dw, stats);
        j.dy.q = NULL;
    }
    if (st == DFP_OK)
        dfp_conv_add_quant_stats(&j, stats);
    dfp_conv_free_job(&j);
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
    dfp_status st = dfp_conv_make_job(shape, &j);
    if (st != DFP_OK)
        return st;
    if (x_from_kept(&j, kept) != DFP_OK) {
        dfp_conv_free_job(&j);
        return DFP_ERR_OUT_OF_MEMORY;
    }
    return wtgrad_from_x(&j, dy, dw, pdy, 0, stats);
}
