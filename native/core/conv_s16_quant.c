/* FP32 -> DFP16 quantisation straight into the convolution's interleaved
 * layouts (conv_s16_pack.h): both source planes of a plane pair are quantised
 * whole into a small buffer and interleaved into the pair at once, so the FP32
 * tensor is read once and no NCHW int16 copy is written and re-read. Each plane
 * keeps its flat NCHW index for stochastic rounding: the codes equal those of
 * dfp_dfp16_quantize_tensor_par on the whole tensor, then the layout copy. */
#include "conv_s16_pack.h"
#include "igemm.h"
#include "kernel_table.h"

#include <stdlib.h>
#include <string.h>

int64_t dfp_quantize_plane_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                 int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                 const dfp_quant_run *run, int16_t *dst, int32_t *qmax)
{
    const dfp_int_kernels *ik = &dfp_kernels()->integer;
    const int64_t hp = h + 2 * pad_h, wp = w + 2 * pad_w, hw = h * w, plane = hp * wp * 2;
    const int64_t planes = pair_images ? (batch + 1) / 2 * channels : batch * ((channels + 1) / 2);
    int64_t sat = 0;
    int32_t qm = 0;
    int failed = 0;
#pragma omp parallel num_threads(dfp_threads_for_work(planes / 8)) reduction(+ : sat) \
    reduction(max : qm) reduction(| : failed)
    {
        /* both source planes quantised whole (one kernel call each), then interleaved */
        int16_t *q = malloc((size_t)(2 * hw + 1) * sizeof(int16_t));
        failed = !q;
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < planes; pl++) {
            if (!q)
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
            for (int t = 0; t < 2; t++) {
                int16_t *qt = q + t * hw;
                if (src[t] < 0) {
                    memset(qt, 0, (size_t)hw * sizeof(int16_t));
                    continue;
                }
                dfp_quant_run r = *run;
                r.index0 = (uint64_t)(src[t] * hw);
                sat += ik->quantize_s16(x + src[t] * hw, hw, &r, qt);
                qm = dfp_kernels()->integer.absmax_s16(qt, hw, qm);
            }
            int16_t *d = dst + pl * plane;
            /* zero the border only: the interior is written below */
            memset(d, 0, (size_t)(pad_h * wp * 2) * sizeof(int16_t));
            memset(d + (pad_h + h) * wp * 2, 0, (size_t)(pad_h * wp * 2) * sizeof(int16_t));
            for (int64_t ih = 0; ih < h; ih++) {
                int16_t *row = d + (ih + pad_h) * wp * 2;
                const int16_t *e = q + ih * w, *o = q + hw + ih * w;
                memset(row, 0, (size_t)(pad_w * 2) * sizeof(int16_t));
                memset(row + (pad_w + w) * 2, 0, (size_t)(pad_w * 2) * sizeof(int16_t));
                int16_t *in = row + pad_w * 2;
                for (int64_t iw = 0; iw < w; iw++)
                    in[2 * iw] = e[iw], in[2 * iw + 1] = o[iw];
            }
        }
        free(q);
    }
    *qmax = qm;
    return failed ? -1 : sat;
}

void dfp_imgpairs_from_chanpairs(int64_t batch, int64_t channels, int64_t hp, int64_t wp,
                                 const int16_t *xp, int16_t *xi)
{
    const int64_t cpn = (channels + 1) / 2, pix = hp * wp, planes = (batch + 1) / 2 * channels;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes / 8))
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t m = pl / channels, c = pl % channels;
        int16_t *d = xi + pl * pix * 2;
        for (int t = 0; t < 2; t++) {
            int64_t n = 2 * m + t;
            if (n >= batch) {
                for (int64_t i = 0; i < pix; i++)
                    d[2 * i + t] = 0;
                continue;
            }
            const int16_t *s = xp + ((n * cpn + c / 2) * pix) * 2 + (c & 1);
            for (int64_t i = 0; i < pix; i++)
                d[2 * i + t] = s[2 * i];
        }
    }
}
