/* DFP16 WTGRAD with the taps read in place by the VNNI in-place micro-kernel.
 *
 * The packed WTGRAD (conv_dfp16.c) gathers every tap of every K pair into B
 * panels: at 16 channels that copy, C*KH*KW pairs written and read back per K
 * pair, costs more than the products. Here x is re-laid out once, channel-last
 * with image pairs,
 *   xc[m][ih][iw][c] = 32-bit pair (x[2m][c][ih][iw], x[2m+1][c][ih][iw])
 * (zero border and zero missing image, as the image-pair layout xi), so for one
 * K pair (image pair m, output pixel oh, ow) and one kernel row kh the KW*C taps
 * (kw, c) are consecutive pairs at ((m*hp + oh*sh + kh*dh)*wp + ow*sw)*C: the
 * in-place kernel reads them as B columns (48 per call, three runs of 16, with
 * the wide kernel; else 32, two runs).
 *
 * The callers build xc from the image-pair or the channel-pair layout
 * (conv_s16_pack.h). Same K order, slices, K blocks and chunks as the packed
 * path, and every output element gets the same flushes in the same order, so
 * dW is bit-identical to it. The taps go in runs of 16 (a kernel row's last run
 * may be partial: its extra columns are computed and dropped), and any three
 * (two) runs, of the same kernel row or not, make one call's columns: rows of 48
 * taps (16 channels x 3) take 9 runs in 3 calls (in 5 of two, not 6). */
#include "conv_wtgrad_inplace.h"
#include "conv_dfp16_job.h"
#include "conv_s16_pack.h"
#include "kernel_table.h"
#include "scratch.h"
#include "work_share.h"

#include <stdlib.h>
#include <string.h>

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int dfp_wtgrad_inplace_applies(const dfp_conv_geom *g)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    /* a kernel row of fewer than 16 taps would leave most of the 32 columns idle:
     * packing costs less there (LeNet's first conv: 5 taps of 32) */
    return ik->igemm_s16_inplace && ik->nr == 32 && g->dilation_w == 1 &&
           g->kernel_w * g->channels >= 16;
}

dfp_status dfp_wtgrad_inplace(const dfp_conv_geom *g, int64_t batch, int64_t out_ch,
                              const int16_t *xc, const int16_t *dyi, int64_t chunk, int64_t kc,
                              int64_t per, float sa, float sb, float *dw, int64_t *flushes_per_elem)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int mr = ik->mr;
    const int64_t c = g->channels, kh_n = g->kernel_h, kw_n = g->kernel_w;
    const int64_t pixels = g->out_h * g->out_w, pairs = (batch + 1) / 2;
    const int64_t hp = g->in_h + 2 * g->pad_h, wp = g->in_w + 2 * g->pad_w;
    const int64_t row_cols = kw_n * c, row_runs = (row_cols + 15) / 16, runs_n = kh_n * row_runs;
    /* calls of three runs where the ISA has the wide kernel, else of two */
    const dfp_igemm_s16_inplace_fn ukr = ik->igemm_s16_inplace_wide ? ik->igemm_s16_inplace_wide
                                                                    : ik->igemm_s16_inplace;
    const int64_t per_call = ik->igemm_s16_inplace_wide ? 3 : 2, call_cols = 16 * per_call;
    const int64_t nb = (runs_n + per_call - 1) / per_call;
    const int64_t mpan = (out_ch + mr - 1) / mr, ldt = nb * call_cols, part_len = mpan * mr * ldt;
    const int64_t nslices = (pairs + per - 1) / per;
    float *part = dfp_scratch_take((size_t)(nslices * part_len) * sizeof(float));
    int failed = !part;
    int64_t flushes = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(nslices)) reduction(| : failed) \
    reduction(+ : flushes) if (!failed)
    {
        int16_t *ap = aligned_alloc(64, (size_t)((mpan * kc * mr * 4 + 63) / 64 * 64));
        int64_t *off = malloc((size_t)kc * sizeof(int64_t));
        failed |= !ap || !off;
        dfp_work_share_start(&ws, nslices); /* slices, each its own partial (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t s; (s = dfp_work_next(&ws, &cur)) >= 0;) {
            if (failed)
                continue;
            int64_t m0 = s * per, kps = min64(per, pairs - m0) * pixels;
            const int16_t *dys = dyi + m0 * out_ch * pixels * 2;
            const int16_t *xs = xc + m0 * hp * wp * c * 2;
            float *ps = part + s * part_len;
            for (int64_t q0 = 0; q0 < kps; q0 += kc) {
                int64_t kpb = min64(kc, kps - q0);
                for (int64_t ip = 0; ip < mpan; ip++)
                    dfp_pack_imgpairs_dy(dys, out_ch, pixels, ip * mr, min64(mr, out_ch - ip * mr), mr,
                                         q0, kpb, ap + ip * kpb * mr * 2);
                int64_t m = q0 / pixels, oh = q0 % pixels / g->out_w, ow = q0 % g->out_w;
                for (int64_t q = 0; q < kpb; q++) { /* K pair q0 + q = (m, oh, ow) */
                    off[q] = ((m * hp + oh * g->stride_h) * wp + ow * g->stride_w) * c * 2;
                    if (++ow == g->out_w) {
                        ow = 0;
                        if (++oh == g->out_h)
                            oh = 0, m++;
                    }
                }
                for (int64_t b = 0; b < nb; b++) {
                    /* a short last call reads its first run again; columns past a kernel
                     * row (the next pixels, or the layout's zero slack at the very end)
                     * are computed and dropped */
                    const int16_t *runs[3];
                    for (int t = 0; t < per_call; t++) {
                        const int64_t r = per_call * b + t < runs_n ? per_call * b + t : per_call * b;
                        runs[t] = xs + (r / row_runs * g->dilation_h * wp * c + r % row_runs * 16) * 2;
                    }
                    for (int64_t ip = 0; ip < mpan; ip++)
                        ukr(kpb, chunk, ap + ip * kpb * mr * 2, runs, 16, off, ps + ip * mr * ldt + b * call_cols,
                            ldt, q0 > 0);
                }
                flushes += (kpb + chunk - 1) / chunk;
            }
        }
        free(ap), free(off);
    }
    const int64_t ckk = c * kh_n * kw_n;
    int64_t *col = failed ? NULL : malloc((size_t)ckk * sizeof(int64_t));
    failed |= !col;
    if (!failed) {
        /* dw[o][(ci*KH + kh)*KW + kw] from part[s][o][column of tap kw*C + ci of row kh]:
         * tap t of row kh is element t % 16 of run kh * row_runs + t / 16 */
        for (int64_t r = 0; r < ckk; r++) {
            const int64_t kh = r % (kh_n * kw_n) / kw_n, t = r % kw_n * c + r / (kh_n * kw_n);
            col[r] = (kh * row_runs + t / 16) * 16 + t % 16;
        }
        dfp_wtgrad_sum_slices(part, nslices, part_len, out_ch, ldt, ckk, col, sa, sb, dw);
        *flushes_per_elem = flushes;
    }
    free(col);
    dfp_scratch_give(part);
    return failed ? DFP_ERR_OUT_OF_MEMORY : DFP_OK;
}
