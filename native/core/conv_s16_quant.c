/* FP32 -> DFP16 quantisation straight into the convolution's interleaved
 * layouts (conv_s16_pack.h): both source planes of a plane pair are quantised
 * and stored as pairs in one pass where the ISA has the kernel, else whole
 * into a small buffer and interleaved into the pair at once; either way the FP32
 * tensor is read once and no NCHW int16 copy is written and re-read. Each plane
 * keeps its flat NCHW index for stochastic rounding: the codes equal those of
 * dfp_dfp16_quantize_tensor_par on the whole tensor, then the layout copy. */
#include "conv_s16_pack.h"
#include "igemm.h"
#include "kernel_table.h"
#include "work_share.h"

#include <stdlib.h>

/* Planes (plane pairs) a unit of work; quads take half as many. */
#define QUANT_UNIT 16
#include <string.h>

/* Whether the flat indices [i0, i0 + n] share their high 32 bits (i0 < 0: a
 * missing plane, nothing drawn): the SIMD generators compute the high half's
 * lane key once per plane. */
static int high_half_shared(int64_t i0, int64_t n)
{
    return i0 < 0 || (uint64_t)i0 >> 32 == (uint64_t)(i0 + n) >> 32;
}

/* Batch norm's output of one plane of n values into v (and bn.out where set):
 * its own forward kernel on a one-channel, one-image tensor, so the values are
 * those batch norm writes by definition. */
static void bn_relu_plane(const float *x, int64_t n, dfp_plane_bn_relu bn, float *v)
{
    dfp_batch_norm_relu_forward_f32(1, 1, n, x, &bn.scale, &bn.shift, bn.residual, v);
    if (bn.out)
        memcpy(bn.out, v, (size_t)n * sizeof(float));
}

/* The portable plane pair: both source planes (src[t] < 0: zeros; bn nullable:
 * first through bn_relu_plane into vbuf, hw floats) quantised whole into q
 * (2 h w int16, one kernel call each), maxima in separate passes, then
 * interleaved row by row into d (rows ld int16 apart). */
static int64_t plane_pair_by_planes(const float *x, const int64_t src[2], int64_t h, int64_t w,
                                    const dfp_quant_run *run, const dfp_plane_bn_relu *bn, float *vbuf,
                                    int16_t *q, int16_t *d, int64_t ld, int32_t *qmax, uint32_t *xmax)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int64_t hw = h * w;
    int64_t sat = 0;
    for (int t = 0; t < 2; t++) {
        int16_t *qt = q + t * hw;
        if (src[t] < 0) {
            memset(qt, 0, (size_t)hw * sizeof(int16_t));
            continue;
        }
        dfp_quant_run r = *run;
        r.index0 = (uint64_t)(src[t] * hw);
        const float *v = x + src[t] * hw;
        if (bn) {
            bn_relu_plane(v, hw, bn[t], vbuf);
            v = vbuf;
        }
        if (xmax) { /* the plane's maximum, read just before it is quantised (from cache) */
            uint32_t m = ik->absmax_bits(v, hw);
            *xmax = m > *xmax ? m : *xmax;
        }
        sat += ik->quantize_s16(v, hw, &r, qt);
    }
    *qmax = ik->absmax_s16(q, 2 * hw, *qmax);
    for (int64_t ih = 0; ih < h; ih++) {
        int16_t *row = d + ih * ld;
        const int16_t *e = q + ih * w, *o = q + hw + ih * w;
        if (w >= 32) {
            ik->interleave_s16(e, o, w, row);
            continue;
        }
        /* short rows (ResNet's 8 and 16 wide planes): a call per row cost
         * more than the row; the same int16 moves inline */
        for (int64_t i = 0; i < w; i++)
            row[2 * i] = e[i], row[2 * i + 1] = o[i];
    }
    return sat;
}

int64_t dfp_quantize_plane_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                 int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                 const dfp_bn_relu_input *bnin, const dfp_quant_run *run, int16_t *dst,
                                 int32_t *qmax, uint32_t *xmax_bits)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const dfp_quantize_plane_pair_fn one_pass = ik->quantize_plane_pair;
    const int64_t hp = h + 2 * pad_h, wp = w + 2 * pad_w, hw = h * w, plane = hp * wp * 2;
    const int64_t planes = pair_images ? (batch + 1) / 2 * channels : batch * ((channels + 1) / 2);
    int64_t sat = 0;
    int32_t qm = 0;
    uint32_t xm = 0;
    int failed = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(planes / 8)) reduction(+ : sat) \
    reduction(max : qm) reduction(max : xm) reduction(| : failed)
    {
        int16_t *q = malloc((size_t)(2 * hw + 1) * sizeof(int16_t));
        float *vbuf = bnin ? malloc((size_t)hw * sizeof(float)) : NULL;
        failed = !q || (bnin && !vbuf);
        dfp_work_share_start(&ws, units_of(planes, QUANT_UNIT)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, planes, QUANT_UNIT, &i0, &i1);) {
            for (int64_t pl = i0; pl < i1; pl++) {
                if (failed)
                    continue;
                int64_t src[2]; /* source plane of each lane, -1 where it is missing (zero) */
                if (pair_images) {
                    int64_t m = pl / channels, c = pl % channels;
                    src[0] = 2 * m * channels + c;
                    src[1] = 2 * m + 1 < batch ? (2 * m + 1) * channels + c : -1;
                } else {
                    int64_t cpn = (channels + 1) / 2, n = pl / cpn, cp = pl % cpn;
                    src[0] = n * channels + 2 * cp;
                    src[1] = 2 * cp + 1 < channels ? src[0] + 1 : -1;
                }
                dfp_plane_bn_relu bn[2] = {{0.0f, 0.0f, NULL, NULL}, {0.0f, 0.0f, NULL, NULL}};
                for (int t = 0; bnin && t < 2; t++)
                    if (src[t] >= 0)
                        bn[t] = (dfp_plane_bn_relu){bnin->scale[src[t] % channels], bnin->shift[src[t] % channels],
                                                    bnin->residual ? bnin->residual + src[t] * hw : NULL,
                                                    bnin->out ? bnin->out + src[t] * hw : NULL};
                const dfp_plane_bn_relu *pbn = bnin ? bn : NULL;
                int16_t *d = dst + pl * plane;
                if (pad_h || pad_w) /* the border: one pass over the small plane, interior rewritten below */
                    memset(d, 0, (size_t)plane * sizeof(int16_t));
                if (one_pass && (run->rounding != DFP_ROUND_STOCHASTIC ||
                                 (high_half_shared(src[0] * hw, hw) && high_half_shared(src[1] * hw, hw)))) {
                    dfp_quant_run ra = *run, rb = *run;
                    ra.index0 = (uint64_t)(src[0] * hw);
                    rb.index0 = (uint64_t)(src[1] >= 0 ? src[1] * hw : 0);
                    sat += one_pass(x + src[0] * hw, src[1] >= 0 ? x + src[1] * hw : NULL, h, w, &ra, &rb, pbn,
                                    d + (pad_h * wp + pad_w) * 2, wp * 2, &qm, xmax_bits ? &xm : NULL);
                    continue;
                }
                sat += plane_pair_by_planes(x, src, h, w, run, pbn, vbuf, q, d + (pad_h * wp + pad_w) * 2, wp * 2,
                                            &qm, xmax_bits ? &xm : NULL);
            }
        }
        free(q), free(vbuf);
    }
    *qmax = qm;
    if (xmax_bits)
        *xmax_bits = xm;
    return failed ? -1 : sat;
}

int64_t dfp_quantize_plane_quads(const float *x, int64_t batch, int64_t channels, int64_t h, int64_t w,
                                 int64_t pad_h, int64_t pad_w, const dfp_quant_run *run, int16_t *xp,
                                 int16_t *xi, int32_t *qmax, uint32_t *xmax_bits)
{
    const dfp_quantize_plane_quad_fn quad = dfp_kernels()->integer.quantize_plane_quad;
    const int64_t hw = h * w, hp = h + 2 * pad_h, wp = w + 2 * pad_w, cpn = channels / 2;
    const int64_t quads = batch / 2 * cpn;
    if (!quad || batch % 2 || channels % 2)
        return DFP_QUADS_NOT_APPLICABLE;
    for (int64_t pl = 0; run->rounding == DFP_ROUND_STOCHASTIC && pl < batch * channels; pl++)
        if (!high_half_shared(pl * hw, hw))
            return DFP_QUADS_NOT_APPLICABLE;
    int64_t sat = 0;
    int32_t qm = 0;
    uint32_t xm = 0;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(quads / 4)) reduction(+ : sat) reduction(max : qm) \
    reduction(max : xm)
    {
        dfp_work_share_start(&ws, units_of(quads, QUANT_UNIT / 2)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, quads, QUANT_UNIT / 2, &i0, &i1);) {
            for (int64_t k = i0; k < i1; k++) {
                const int64_t m = k / cpn, cp = k % cpn;
                const float *planes[4];
                dfp_quant_run r[4];
                for (int t = 0; t < 4; t++) { /* image 2m + t / 2, channel 2cp + t % 2 */
                    const int64_t src = (2 * m + t / 2) * channels + 2 * cp + t % 2;
                    planes[t] = x + src * hw;
                    r[t] = *run;
                    r[t].index0 = (uint64_t)(src * hw);
                }
                int16_t *dc[2], *di[2];
                for (int t = 0; t < 2; t++) {
                    int16_t *plane = xp + ((2 * m + t) * cpn + cp) * hp * wp * 2;
                    if (pad_h || pad_w) /* the border: one pass over the small plane, interior rewritten */
                        memset(plane, 0, (size_t)(hp * wp * 2) * sizeof(int16_t));
                    dc[t] = plane + (pad_h * wp + pad_w) * 2;
                    di[t] = xi + (m * channels + 2 * cp + t) * hw * 2;
                }
                sat += quad(planes, h, w, r, dc, wp * 2, di, w * 2, &qm, xmax_bits ? &xm : NULL);
            }
        }
    }
    *qmax = qm;
    if (xmax_bits)
        *xmax_bits = xm;
    return sat;
}

/* One channel's pixels run: d[i] = (a[i] half `odd`, b[i] half `odd`), b NULL: 0. */
static void repair_run(const int16_t *a, const int16_t *b, int odd, int64_t n, int16_t *d)
{
    int64_t i = 0;
    const dfp_repair_run_fn run = dfp_kernels()->move.repair_run;
    if (run)
        i = run((const int32_t *)(const void *)a, b ? (const int32_t *)(const void *)b : NULL, odd, n,
                (int32_t *)(void *)d);
    for (; i < n; i++) {
        d[2 * i] = a[2 * i + odd];
        d[2 * i + 1] = b ? b[2 * i + odd] : 0;
    }
}

void dfp_imgpairs_from_chanpairs(int64_t batch, int64_t channels, int64_t h, int64_t w,
                                 int64_t src_ph, int64_t src_pw, int64_t dst_ph, int64_t dst_pw,
                                 const int16_t *xp, int16_t *xi)
{
    const int64_t cpn = (channels + 1) / 2, planes = (batch + 1) / 2 * channels;
    const int64_t shp = h + 2 * src_ph, swp = w + 2 * src_pw, dhp = h + 2 * dst_ph, dwp = w + 2 * dst_pw;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes / 8))
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t m = pl / channels, c = pl % channels;
        const int16_t *a = xp + (2 * m * cpn + c / 2) * shp * swp * 2;
        const int16_t *b = 2 * m + 1 < batch ? a + cpn * shp * swp * 2 : NULL;
        int16_t *d = xi + pl * dhp * dwp * 2;
        /* the destination's border lies inside the source's: rows at a fixed shift */
        for (int64_t r = 0; r < dhp; r++) {
            int64_t at = ((r - dst_ph + src_ph) * swp + src_pw - dst_pw) * 2;
            repair_run(a + at, b ? b + at : NULL, (int)(c & 1), dwp, d + r * dwp * 2);
        }
    }
}

void dfp_imgpairs_from_nchw(int64_t batch, int64_t channels, int64_t pixels, const int16_t *q,
                            int16_t *xi)
{
    const int64_t planes = (batch + 1) / 2 * channels;
    const dfp_interleave_s16_fn interleave = dfp_kernels()->integer.interleave_s16;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes / 8))
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t m = pl / channels, c = pl % channels;
        const int16_t *a = q + (2 * m * channels + c) * pixels;
        interleave(a, 2 * m + 1 < batch ? a + channels * pixels : NULL, pixels, xi + pl * pixels * 2);
    }
}
