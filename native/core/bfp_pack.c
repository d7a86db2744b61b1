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
static int quantize_lanes(const dfp_bfp_args *qa, const float *x, int64_t ldx, int64_t row, int rows,
                          int64_t b, int64_t c0, int64_t len, int64_t nb, int w, int16_t *panel,
                          int64_t g0, int32_t *exps)
{
    const dfp_emu_kernels *kern = &dfp_kernels()->emu;
    dfp_bfp_lanes lanes = {.rows = rows, .kmax = (float)((1 << qa->mag_bits) - 1),
                           .stochastic = qa->stochastic, .key = qa->key};
    uint32_t amax[DFP_BFP_LANES];
    int bad = 0;
    kern->absmax_kmajor(x, ldx, rows, len, amax);
    for (int r = 0; r < rows; r++) {
        bad |= amax[r] >= DFP_F32_INF_BITS;
        lanes.scale_exp[r] = exps[(row + r) * nb + b] = dfp_bfp_scale_exp(amax[r], qa);
        lanes.index0[r] = dfp_bfp_index(qa, row + r, c0);
    }
    if (!bad) /* NaN would have no code (the result is an error anyway) */
        kern->bfp_block_kmajor(&lanes, x, ldx, len, (int32_t *)(void *)panel + (c0 / 2) * w + g0, w);
    return bad;
}

/* K blocks [b0, b1) of the panel of rows [r0, r0 + rows) (rows <= w) of an
 * operand with contiguous rows: DFP_BFP_LANES rows at a time, each block
 * turned k-major in buf (block x 16 floats) and quantised as a k-major
 * operand would be (quantize_lanes): per row and block one call and a
 * scatter of single pairs cost more than the codes. Returns 1 on NaN/inf. */
static int pack_panel(const dfp_bfp_operand *op, const dfp_bfp_args *qa, int64_t k, int64_t r0,
                      int64_t rows, int64_t b0, int64_t b1, int w, int16_t *panel, int32_t *exps,
                      float *buf)
{
    const int64_t block = op->block, nb = (k + block - 1) / block;
    int bad = 0;
    for (int64_t g0 = 0; g0 < rows; g0 += DFP_BFP_LANES) {
        const int n = (int)(rows - g0 < DFP_BFP_LANES ? rows - g0 : DFP_BFP_LANES);
        for (int64_t b = b0; b < b1; b++) {
            const int64_t c0 = b * block, len = k - c0 < block ? k - c0 : block;
            dfp_kernels()->emu.rows_to_lanes(op->x + (r0 + g0) * op->row_stride + c0, op->row_stride, n,
                                             len, buf);
            bad |= quantize_lanes(qa, buf, DFP_BFP_LANES, r0 + g0, n, b, c0, len, nb, w, panel, g0, exps);
        }
    }
    return bad;
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
            bad |= quantize_lanes(qa, op->x + c0 * op->k_stride + r0 + g0, op->k_stride, r0 + g0, n, b,
                                  c0, len, nb, w, panel, g0, exps);
        }
    }
    return bad;
}

dfp_status dfp_bfp_pack_operand(const dfp_bfp_operand *op, const dfp_bfp_origin *origin,
                                int64_t rows, int64_t k, int w, dfp_s16_packed *out, int32_t *exps)
{
    dfp_bfp_args qa = dfp_bfp_args_of(op->block, op->mag_bits, op->floor_exponent, op->rounding,
                                      op->seed, op->stream, k);
    if (origin)
        qa.row0 = origin->row0, qa.col0 = origin->col0, qa.cols = origin->cols;
    out->w = w;
    out->kp = (k + 1) / 2;
    out->npanels = (rows + w - 1) / w;
    out->max_abs = (1 << op->mag_bits) - 1;
    out->sat = 0;
    out->panels = dfp_scratch_take((size_t)(out->npanels * out->kp * w * 2) * sizeof(int16_t));
    if (!out->panels)
        return DFP_ERR_OUT_OF_MEMORY;
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
        failed = !buf;
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
                bad |= pack_panel(op, &qa, k, r0, n, b0, b1, w, panel, exps, buf);
        }
        free(buf);
    }
    if (failed)
        return DFP_ERR_OUT_OF_MEMORY;
    return bad ? DFP_ERR_NOT_FINITE : DFP_OK;
}
