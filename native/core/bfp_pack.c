/* Packing of FP32 GEMM operands into VNNI pair-interleaved int16 panels with
 * block floating point quantisation on the way: 16 rows and one K block at a
 * time, the k-major kernels write the codes straight into the panel and the
 * block's scale exponents into a rows x nblocks array. Operands stored
 * transposed (k-major) are read in place; row-major ones go through a small
 * k-major copy of the block. The codes are dfp_bfp_quantize's (same arithmetic, same element
 * indices for stochastic rounding); only where they are stored differs. */
#include "scratch.h"
#include "bfp_pack.h"
#include "bfp_quantize.h"
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

/* One K block [c0, c0 + len) (block b) of `rows` <= DFP_BFP_LANES operand rows
 * from row `row` on, given k-major (element (row + r, c0 + t) at x[t * ldx + r]):
 * the exponents from the kernel table's vertical max, the codes written
 * straight into the panel's VNNI pairs from lane g0 on (blocks are even, so a
 * block starts a pair); one kernel call serves 16 rows. Returns 1 when the
 * block holds NaN/inf. */
static int quantize_lanes(const dfp_bfp_args *qa, const float *x, int64_t ldx, const int64_t *toff,
                          int64_t row, int rows,
                          int64_t b, int64_t c0, int64_t len, int64_t nb, int w, int16_t *panel,
                          int64_t g0, int32_t *exps, const uint32_t *known_amax)
{
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    dfp_bfp_lanes lanes = {.rows = rows, .kmax = (float)((1 << qa->mag_bits) - 1),
                           .stochastic = qa->stochastic, .key = qa->key};
    uint32_t amax[DFP_BFP_LANES];
    int bad = 0;
    if (known_amax)
        memcpy(amax, known_amax, (size_t)rows * sizeof(uint32_t));
    else
        kern->absmax_kmajor(x, ldx, toff, rows, len, amax);
    for (int r = 0; r < rows; r++) {
        bad |= amax[r] >= DFP_F32_INF_BITS;
        lanes.scale_exp[r] = exps[(row + r) * nb + b] = dfp_bfp_scale_exp(amax[r], qa);
        lanes.index0[r] = dfp_bfp_index(qa, row + r, c0);
    }
    if (!bad) /* NaN would have no code (the result is an error anyway) */
        kern->bfp_block_kmajor(&lanes, x, ldx, toff, len, (int32_t *)(void *)panel + (c0 / 2) * w + g0, w);
    return bad;
}

/* K blocks [b0, b1) of a panel whose rows [r0, r0 + rows) (rows <= w) are
 * row pointers rowp (element t of row r at rowp[r][off[t / 16] + t % 16]; off
 * in runs from K = 0): DFP_BFP_LANES rows at a time, each block gathered
 * k-major into buf (block x 16 floats) with its rows' maxima, and quantised
 * as a k-major operand would be (quantize_lanes): per row and block one call
 * and a scatter of single pairs cost more than the codes. Returns 1 on
 * NaN/inf. */
static int pack_panel_runs(const dfp_bfp_args *qa, int64_t block, int64_t k, const float *const *rowp,
                           const int64_t *off, int64_t r0, int64_t rows, int64_t b0, int64_t b1,
                           int w, int16_t *panel, int32_t *exps, float *buf)
{
    const int64_t nb = (k + block - 1) / block;
    int bad = 0;
    for (int64_t g0 = 0; g0 < rows; g0 += DFP_BFP_LANES) {
        const int n = (int)(rows - g0 < DFP_BFP_LANES ? rows - g0 : DFP_BFP_LANES);
        for (int64_t b = b0; b < b1; b++) {
            const int64_t c0 = b * block, len = k - c0 < block ? k - c0 : block;
            const float *at[DFP_BFP_LANES];
            uint32_t amax[DFP_BFP_LANES];
            for (int r = 0; r < n; r++)
                at[r] = rowp[g0 + r] + c0 % DFP_BFP_RUN;
            /* blocks that start inside a run (block not a multiple of 16: plain rows only) */
            dfp_kernels()->emu.runs_to_lanes(at, off + c0 / DFP_BFP_RUN, n, len, buf, amax);
            bad |= quantize_lanes(qa, buf, DFP_BFP_LANES, NULL, r0 + g0, n, b, c0, len, nb, w, panel, g0,
                                  exps, amax);
        }
    }
    return bad;
}

/* pack_panel_runs for an operand with contiguous rows (off: runs 16 floats
 * apart); rows <= w <= DFP_IGEMM_MAX_W. */
static int pack_panel(const dfp_bfp_operand *op, const dfp_bfp_args *qa, int64_t k, int64_t r0,
                      int64_t rows, int64_t b0, int64_t b1, int w, int16_t *panel, int32_t *exps,
                      float *buf, const int64_t *off)
{
    const float *rowp[DFP_IGEMM_MAX_W];
    for (int64_t r = 0; r < rows; r++)
        rowp[r] = op->x + (r0 + r) * op->row_stride;
    return pack_panel_runs(qa, op->block, k, rowp, off, r0, rows, b0, b1, w, panel, exps, buf);
}

/* K blocks [b0, b1) of the panel of rows [r0, r0 + rows) of a k-major
 * operand (element (r, t) at x[t * k_stride + r]): DFP_BFP_LANES rows at a
 * time, read in place. Returns 1 when a block holds NaN/inf. */
static int pack_panel_kmajor(const dfp_bfp_operand *op, const dfp_bfp_args *qa, int64_t k,
                             int64_t r0, int64_t rows, int64_t b0, int64_t b1, int w,
                             int16_t *panel, int32_t *exps)
{
    const int64_t block = op->block, nb = (k + block - 1) / block;
    int bad = 0;
    for (int64_t g0 = 0; g0 < rows; g0 += DFP_BFP_LANES) {
        const int n = (int)(rows - g0 < DFP_BFP_LANES ? rows - g0 : DFP_BFP_LANES);
        for (int64_t b = b0; b < b1; b++) {
            const int64_t c0 = b * block, len = k - c0 < block ? k - c0 : block;
            bad |= quantize_lanes(qa, op->x + c0 * op->k_stride + r0 + g0, op->k_stride, NULL, r0 + g0, n, b,
                                  c0, len, nb, w, panel, g0, exps, NULL);
        }
    }
    return bad;
}

/* The quantiser's arguments for a rows x k operand placed by origin, and out's
 * panels (w wide, all (k+1)/2 pairs) taken from the scratch cache. */
static dfp_status start_pack(const dfp_bfp_operand *op, const dfp_bfp_origin *origin, int64_t rows,
                             int64_t k, int w, dfp_bfp_args *qa, dfp_s16_packed *out)
{
    *qa = dfp_bfp_args_of(op->block, op->mag_bits, op->floor_exponent, op->rounding, op->seed,
                          op->stream, k);
    if (origin)
        qa->row0 = origin->row0, qa->col0 = origin->col0, qa->cols = origin->cols;
    out->w = w;
    out->kp = (k + 1) / 2;
    out->npanels = (rows + w - 1) / w;
    out->max_abs = (1 << op->mag_bits) - 1;
    out->sat = 0;
    out->panels = dfp_scratch_take((size_t)(out->npanels * out->kp * w * 2) * sizeof(int16_t));
    return out->panels ? DFP_OK : DFP_ERR_OUT_OF_MEMORY;
}

dfp_status dfp_bfp_pack_operand(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                                int64_t rows, int64_t k, int w, dfp_s16_packed *out, int32_t *exps)
{
    dfp_bfp_args qa;
    dfp_status st = start_pack(op, origin, rows, k, w, &qa, out);
    if (st != DFP_OK)
        return st;
    /* work items: a panel's K blocks in `split` ranges, so operands with few
     * panels (wtgrad's im2col rows: 144 rows, 5 panels) still share out evenly */
    const int64_t nb = (k + op->block - 1) / op->block;
    const int64_t threads = dfp_threads_for_work(out->npanels * nb);
    int64_t split = out->npanels > 0 ? (4 * threads + out->npanels - 1) / out->npanels : 1;
    split = split < nb ? split : nb;
    /* every code is written (an odd k's last pair with a zero upper half), so
     * only rows past the edge need zeros */
    int bad = 0, failed = 0;
#pragma omp parallel num_threads(threads) reduction(| : bad) reduction(| : failed)
    {
        float *buf = malloc((size_t)op->block * DFP_BFP_LANES * sizeof(float));
        const int64_t nruns = k / DFP_BFP_RUN + 2;
        int64_t *off = malloc((size_t)nruns * sizeof(int64_t)); /* runs of contiguous rows */
        failed = !buf || !off;
        for (int64_t t = 0; off && t < nruns; t++)
            off[t] = t * DFP_BFP_RUN;
#pragma omp for schedule(static)
        for (int64_t p = 0; p < out->npanels; p++)
            if (rows - p * w < w)
                memset(out->panels + p * out->kp * w * 2, 0, (size_t)(out->kp * w * 2) * sizeof(int16_t));
#pragma omp for schedule(static)
        for (int64_t item = 0; item < out->npanels * split; item++) {
            if (failed)
                continue;
            const int64_t p = item / split, part = item % split;
            const int64_t b0 = nb * part / split, b1 = nb * (part + 1) / split;
            const int64_t r0 = p * w, n = rows - r0 < w ? rows - r0 : w;
            int16_t *panel = out->panels + p * out->kp * w * 2;
            if (op->k_stride != 1)
                bad |= pack_panel_kmajor(op, &qa, k, r0, n, b0, b1, w, panel, exps);
            else
                bad |= pack_panel(op, &qa, k, r0, n, b0, b1, w, panel, exps, buf, off);
        }
        free(buf);
        free(off);
    }
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}

dfp_status dfp_bfp_pack_taps(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                             const dfp_bfp_taps *src, int w, dfp_s16_packed *out, int32_t *exps)
{
    const dfp_conv_geom *g = src->g;
    const int64_t rows = g->out_h * g->out_w, k = g->channels * g->kernel_h * g->kernel_w;
    dfp_bfp_args qa;
    dfp_status st = start_pack(op, origin, rows, k, w, &qa, out);
    int64_t *toff = st == DFP_OK ? malloc((size_t)(k > 0 ? k : 1) * sizeof(int64_t)) : NULL;
    if (!toff)
        return st != DFP_OK ? st : DFP_ERR_OUT_OF_MEMORY;
    /* tap (c, kh, kw) of output pixel (oh, ow) is xpad at (c, oh * sh + kh * dh, ow + kw * dw) */
    for (int64_t c = 0, t = 0; c < g->channels; c++)
        for (int64_t kh = 0; kh < g->kernel_h; kh++)
            for (int64_t kw = 0; kw < g->kernel_w; kw++, t++)
                toff[t] = (c * src->hp + kh * g->dilation_h) * src->wp + kw * g->dilation_w;
    const int64_t nb = (k + op->block - 1) / op->block;
    /* a lane group stays within a panel: 16 pixels, or the panel's w when narrower */
    const int lanes = w < DFP_BFP_LANES ? w : DFP_BFP_LANES;
    int bad = 0;
    for (int64_t p = 0; p < out->npanels; p++) {
        int16_t *panel = out->panels + p * out->kp * w * 2;
        if (rows - p * w < w)
            memset(panel, 0, (size_t)(out->kp * w * 2) * sizeof(int16_t));
        for (int64_t g0 = 0; g0 < w && p * w + g0 < rows; g0 += lanes) {
            /* `lanes` pixels of one output row (they divide out_w) */
            const int64_t p0 = p * w + g0, oh = p0 / g->out_w, ow0 = p0 % g->out_w;
            const float *base = src->xpad + oh * g->stride_h * src->wp + ow0;
            for (int64_t b = 0; b < nb; b++) {
                const int64_t c0 = b * op->block, len = k - c0 < op->block ? k - c0 : op->block;
                bad |= quantize_lanes(&qa, base, 0, toff + c0, p0, lanes, b, c0, len, nb, w, panel,
                                      g0, exps, NULL);
            }
        }
    }
    free(toff);
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}

dfp_status dfp_bfp_pack_tap_rows(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                                 const dfp_bfp_taps *src, int64_t imgs, int w, dfp_s16_packed *out,
                                 int32_t *exps)
{
    const dfp_conv_geom *g = src->g;
    const int64_t px = g->out_h * g->out_w, kk = g->kernel_h * g->kernel_w;
    const int64_t rows = g->channels * kk, k = imgs * px, image = g->channels * src->hp * src->wp;
    dfp_bfp_args qa;
    dfp_status st = start_pack(op, origin, rows, k, w, &qa, out);
    const float **rowp = st == DFP_OK ? malloc((size_t)(rows > 0 ? rows : 1) * sizeof *rowp) : NULL;
    int64_t *off = rowp ? malloc((size_t)(k / DFP_BFP_RUN + 1) * sizeof(int64_t)) : NULL;
    float *buf = off ? malloc((size_t)op->block * DFP_BFP_LANES * sizeof(float)) : NULL;
    if (!buf) {
        free(rowp), free(off);
        return st != DFP_OK ? st : DFP_ERR_OUT_OF_MEMORY;
    }
    /* tap (c, kh, kw) of image i's output pixel (oh, ow) is xpad at
     * (i, c, oh * sh + kh * dh, ow + kw * dw): a row start per tap, a run start
     * per 16 pixels (of one output row: 16 divides out_w) */
    for (int64_t c = 0, r = 0; c < g->channels; c++)
        for (int64_t kh = 0; kh < g->kernel_h; kh++)
            for (int64_t kw = 0; kw < g->kernel_w; kw++, r++)
                rowp[r] = src->xpad + (c * src->hp + kh * g->dilation_h) * src->wp + kw * g->dilation_w;
    for (int64_t j = 0; j * DFP_BFP_RUN < k; j++) {
        const int64_t t = j * DFP_BFP_RUN, i = t / px, p = t % px;
        off[j] = i * image + p / g->out_w * g->stride_h * src->wp + p % g->out_w;
    }
    int bad = 0;
    for (int64_t p = 0; p < out->npanels; p++) {
        const int64_t r0 = p * w, n = rows - r0 < w ? rows - r0 : w;
        int16_t *panel = out->panels + p * out->kp * w * 2;
        if (n < w)
            memset(panel, 0, (size_t)(out->kp * w * 2) * sizeof(int16_t));
        bad |= pack_panel_runs(&qa, op->block, k, rowp + r0, off, r0, n, 0, (k + op->block - 1) / op->block,
                               w, panel, exps, buf);
    }
    free(rowp), free(off), free(buf);
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}
