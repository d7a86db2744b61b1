/* Packers of the DFP16 convolution (see conv_s16_pack.h): im2col fused into
 * VNNI panel packing, so no column matrix is ever materialised. */
#include "conv_s16_pack.h"
#include "kernel_table.h"
#include "layout32.h"
#include "work_share.h"

#include <string.h>

dfp_pairs_layout dfp_pairs_layout_of(const dfp_conv_geom *g)
{
    dfp_pairs_layout l = {(g->channels + 1) / 2, g->in_h + 2 * g->pad_h, g->in_w + 2 * g->pad_w};
    return l;
}

static inline int32_t abs16(int16_t v) { return v < 0 ? -(int32_t)v : v; }

int32_t dfp_pack_conv_weights(const dfp_conv_geom *g, int64_t out_ch, const int16_t *w, int mr,
                              int16_t *panels)
{
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t kk = g->kernel_h * g->kernel_w, kp = l.cp * kk, ckk = g->channels * kk;
    int64_t npan = (out_ch + mr - 1) / mr;
    int32_t m = 0;
    /* one output channel's taps of a channel pair at a time: both source runs are
     * contiguous, no division per element (the pair-major loop was 6.6% of a
     * batch-1 ResNet-20 step, this one 5.4%, at one thread); panels in parallel */
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(dfp_threads_for_work(npan * kp * mr / 4096))
    for (int64_t ip = 0; ip < npan; ip++)
        for (int i = 0; i < mr; i++) {
            const int64_t o = ip * mr + i;
            for (int64_t cp = 0; cp < l.cp; cp++) {
                const int16_t *even = o < out_ch ? w + o * ckk + 2 * cp * kk : NULL;
                const int16_t *odd = even && 2 * cp + 1 < g->channels ? even + kk : NULL;
                int16_t *d = panels + (ip * kp + cp * kk) * mr * 2 + 2 * i;
                for (int64_t tap = 0; tap < kk; tap++) {
                    const int16_t e = even ? even[tap] : 0, od = odd ? odd[tap] : 0;
                    d[tap * mr * 2] = e, d[tap * mr * 2 + 1] = od;
                    m = abs16(e) > m ? abs16(e) : m;
                    m = abs16(od) > m ? abs16(od) : m;
                }
            }
        }
    return m;
}

/* Copy n 32-bit pairs; the usual row lengths get constant-size (inlined) copies. */
static inline void copy_pairs(int32_t *d, const int32_t *s, int64_t n)
{
    switch (n) {
    case 8: memcpy(d, s, 32); break;
    case 16: memcpy(d, s, 64); break;
    case 32: memcpy(d, s, 128); break;
    default: memcpy(d, s, (size_t)n * 4);
    }
}

void dfp_pack_conv_pixels(const dfp_conv_geom *g, const int16_t *xp_img, int64_t p0, int64_t np,
                          int nr, int16_t *panels)
{
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t kk = g->kernel_h * g->kernel_w, kp = l.cp * kk, plane = l.hp * l.wp;
    int64_t npan = (np + nr - 1) / nr;
    const int32_t *x32 = (const int32_t *)(const void *)xp_img;
    int64_t seg_src[64], seg_len[64], seg_dst[64]; /* nr <= 64 */
    const dfp_move_kernels *mk = &dfp_kernels()->move;
    for (int64_t jp = 0; jp < npan; jp++) {
        int64_t j0 = jp * nr, cnt = np - j0 < nr ? np - j0 : nr, nseg = 0;
        /* Row segments of this panel's pixels: source offset at tap (0, 0). */
        for (int64_t j = 0; j < cnt;) {
            int64_t p = p0 + j0 + j, oh = p / g->out_w, ow = p % g->out_w;
            int64_t len = g->out_w - ow < cnt - j ? g->out_w - ow : cnt - j;
            seg_src[nseg] = oh * g->stride_h * l.wp + ow * g->stride_w;
            seg_len[nseg] = len;
            seg_dst[nseg++] = j;
            j += len;
        }
        int32_t *pan = (int32_t *)(void *)(panels + jp * kp * nr * 2);
        if (g->stride_w == 1 && mk->copy_taps) {
            if (cnt < nr) /* columns past np stay zero */
                for (int64_t q = 0; q < kp; q++)
                    memset(pan + q * nr + cnt, 0, (size_t)(nr - cnt) * 4);
            mk->copy_taps(kp, kk, g->kernel_w, plane, g->dilation_h * l.wp, g->dilation_w, x32, seg_src,
                          seg_len, seg_dst, nseg, nr, pan);
            continue;
        }
        for (int64_t q = 0; q < kp; q++) {
            int64_t cp = q / kk, kh = (q % kk) / g->kernel_w, kw = q % g->kernel_w;
            const int32_t *src = x32 + cp * plane + kh * g->dilation_h * l.wp + kw * g->dilation_w;
            int32_t *dst = pan + q * nr;
            for (int64_t s = 0; s < nseg; s++) {
                const int32_t *sp = src + seg_src[s];
                int32_t *dp = dst + seg_dst[s];
                if (g->stride_w == 1)
                    copy_pairs(dp, sp, seg_len[s]);
                else
                    for (int64_t i = 0; i < seg_len[s]; i++)
                        dp[i] = sp[i * g->stride_w];
            }
            if (cnt < nr)
                memset(dst + (cnt > 0 ? cnt : 0), 0, (size_t)(nr - (cnt > 0 ? cnt : 0)) * 4);
        }
    }
}

#define MAX_W 64

void dfp_pack_imgpairs_dy(const int16_t *dyi, int64_t out_ch, int64_t pixels, int64_t r0,
                          int64_t rows, int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    const int32_t *src = (const int32_t *)(const void *)dyi;
    int32_t *dst = (int32_t *)(void *)panel;
    int64_t q = q0;
    const dfp_dy_transpose_fn transposed = dfp_kernels()->move.dy_transpose;
    if (transposed && w <= 16) {
        int64_t done = transposed(src, out_ch, pixels, r0, rows, w, q0, kpb, dst);
        q += done;
        dst += done * w;
    }
    for (; q < q0 + kpb; q++, dst += w) {
        int64_t m = q / pixels, p = q % pixels;
        const int32_t *s = src + (m * out_ch + r0) * pixels + p;
        int i = 0;
        for (; i < rows; i++)
            dst[i] = s[i * pixels];
        for (; i < w; i++)
            dst[i] = 0;
    }
}

void dfp_pack_imgpairs_taps(const dfp_conv_geom *g, const int16_t *xi, int64_t r0, int64_t rows,
                            int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    int64_t kk = g->kernel_h * g->kernel_w, hp = g->in_h + 2 * g->pad_h,
            wp = g->in_w + 2 * g->pad_w;
    int64_t off[MAX_W];
    for (int i = 0; i < rows; i++) {
        int64_t r = r0 + i, c = r / kk, kh = (r % kk) / g->kernel_w, kw = r % g->kernel_w;
        off[i] = (c * hp + kh * g->dilation_h) * wp + kw * g->dilation_w;
    }
    const int32_t *src = (const int32_t *)(const void *)xi;
    int32_t *dst = (int32_t *)(void *)panel;
    const dfp_taps_gather_fn gather = dfp_kernels()->move.taps_gather;
    if (gather && w % 16 == 0) {
        gather(g, src, off, rows, w, q0, kpb, hp, wp, dst);
        return;
    }
    if (rows < w)
        for (int64_t q = 0; q < kpb; q++)
            memset(dst + q * w + rows, 0, (size_t)(w - rows) * 4);
    /* Segments of K along one output row: per tap a contiguous (stride 1) read
     * and a store every w pairs, no index loads in the inner loop. */
    for (int64_t q = 0; q < kpb;) {
        int64_t len;
        const int32_t *row = dfp_tap_row_run(g, src, q0 + q, q0 + kpb, hp, wp, &len);
        int32_t *d = dst + q * w;
        for (int i = 0; i < rows; i++) {
            const int32_t *sp = row + off[i];
            if (g->stride_w == 1)
                for (int64_t t = 0; t < len; t++)
                    d[t * w + i] = sp[t];
            else
                for (int64_t t = 0; t < len; t++)
                    d[t * w + i] = sp[t * g->stride_w];
        }
        q += len;
    }
}

void dfp_chanlast_from_imgpairs(int64_t pairs, int64_t channels, int64_t pix, const int16_t *xi,
                                int16_t *xc)
{
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(pairs / 4))
    {
        dfp_work_share_start(&ws, units_of(pairs, 2)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, pairs, 2, &i0, &i1);)
            for (int64_t m = i0; m < i1; m++) /* a 32-bit pair per pixel and channel */
                dfp_to_channel_last32(xi + m * channels * pix * 2, pix, pix, channels, xc + m * channels * pix * 2);
    }
}

/* Image pair m of dfp_chanlast_from_chanpairs. */
static void chanlast_pair(int64_t batch, int64_t channels, int64_t pix, const int16_t *xp, int16_t *xc, int64_t m)
{
    const int64_t cpn = (channels + 1) / 2;
    const int16_t *a = xp + 2 * m * cpn * pix * 2;
    const int16_t *b = 2 * m + 1 < batch ? a + cpn * pix * 2 : NULL;
    int16_t *d = xc + m * channels * pix * 2;
    int64_t i0 = 0;
    const dfp_chanlast_pairs_fn pairs_of = dfp_kernels()->move.chanlast_pairs;
    if (pairs_of && channels % 16 == 0)
        i0 = pairs_of(channels, pix, (const int32_t *)(const void *)a, (const int32_t *)(const void *)b,
                      (int32_t *)(void *)d);
    for (int64_t i = i0; i < pix; i++)
        for (int64_t c = 0; c < channels; c++) {
            int64_t at = ((c / 2) * pix + i) * 2 + (c & 1);
            d[(i * channels + c) * 2] = a[at];
            d[(i * channels + c) * 2 + 1] = b ? b[at] : 0;
        }
}

void dfp_chanlast_from_chanpairs(int64_t batch, int64_t channels, int64_t pix, const int16_t *xp,
                                 int16_t *xc)
{
    const int64_t pairs = (batch + 1) / 2;
    dfp_work_share ws;
#pragma omp parallel num_threads(dfp_threads_for_work(pairs / 4))
    {
        dfp_work_share_start(&ws, units_of(pairs, 2)); /* (work_share.h) */
        dfp_work_cursor cur = {0};
        for (int64_t i0, i1; next_units(&ws, &cur, pairs, 2, &i0, &i1);)
            for (int64_t m = i0; m < i1; m++)
                chanlast_pair(batch, channels, pix, xp, xc, m);
    }
}
