/* Phase geometry and interleave of the strided BPROP (conv_phases.h). */
#include "conv_phases.h"

dfp_phase_taps dfp_phase_taps_of(int64_t a, int64_t pad, int64_t stride, int64_t kernel)
{
    dfp_phase_taps t = {0};
    for (int64_t k = 0; k < kernel && t.n < DFP_PHASE_MAX_TAPS; k++)
        if (((a + pad - k) % stride + stride) % stride == 0) {
            t.k[t.n] = k;
            t.d[t.n] = (a + pad - k) / stride; /* exact: the division leaves no remainder */
            t.n++;
        }
    return t;
}

void dfp_phase_interleave(const dfp_conv_geom *g, const dfp_phase_plane *phases, const float *planes,
                          float *dx, int accumulate)
{
    const int64_t sh = g->stride_h, sw = g->stride_w, in_pixels = g->in_h * g->in_w;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t a = 0; a < sh; a++) {
            const dfp_phase_plane *row = &phases[a * sw];
            const float *src = planes + c * in_pixels;
            for (int64_t u = 0; u < row->rows; u++) {
                float *d = dx + (c * g->in_h + sh * u + a) * g->in_w;
                if (sw == 2) { /* the common case, in a loop the compiler vectorises */
                    const float *restrict e = src + row[0].plane + u * row[0].cols;
                    const float *restrict o = src + row[1].plane + u * row[1].cols;
                    if (accumulate)
                        for (int64_t v = 0; v < row[0].cols; v++)
                            d[2 * v] += e[v], d[2 * v + 1] += o[v];
                    else
                        for (int64_t v = 0; v < row[0].cols; v++)
                            d[2 * v] = e[v], d[2 * v + 1] = o[v];
                    continue;
                }
                for (int64_t b = 0; b < sw; b++)
                    for (int64_t v = 0; v < row[b].cols; v++) {
                        const float t = src[row[b].plane + u * row[b].cols + v];
                        d[sw * v + b] = accumulate ? d[sw * v + b] + t : t;
                    }
            }
        }
}
