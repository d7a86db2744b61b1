/* Packers of the DFP16 convolution (see conv_s16_pack.h): im2col fused into
 * VNNI panel packing, so no column matrix is ever materialised. */
#include "conv_s16_pack.h"
#include "kernel_table.h"

#include <string.h>

dfp_pairs_layout dfp_pairs_layout_of(const dfp_conv_geom *g)
{
    dfp_pairs_layout l = {(g->channels + 1) / 2, g->in_h + 2 * g->pad_h, g->in_w + 2 * g->pad_w};
    return l;
}

void dfp_pairs_from_nchw(const dfp_conv_geom *g, int64_t batch, const int16_t *x, int16_t *xp)
{
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t hw = g->in_h * g->in_w, plane = l.hp * l.wp * 2, planes = batch * l.cp;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(planes / 8))
    for (int64_t pl = 0; pl < planes; pl++) {
        int64_t n = pl / l.cp, cp = pl % l.cp;
        int16_t *dst = xp + pl * plane;
        const int16_t *even = x + (n * g->channels + 2 * cp) * hw;
        const int16_t *odd = 2 * cp + 1 < g->channels ? even + hw : NULL;
        memset(dst, 0, (size_t)plane * sizeof(int16_t));
        for (int64_t ih = 0; ih < g->in_h; ih++) {
            int16_t *d = dst + ((ih + g->pad_h) * l.wp + g->pad_w) * 2;
            const int16_t *e = even + ih * g->in_w;
            if (odd) {
                const int16_t *o = odd + ih * g->in_w;
                for (int64_t iw = 0; iw < g->in_w; iw++)
                    d[2 * iw] = e[iw], d[2 * iw + 1] = o[iw];
            } else {
                for (int64_t iw = 0; iw < g->in_w; iw++)
                    d[2 * iw] = e[iw];
            }
        }
    }
}

static inline int32_t abs16(int16_t v) { return v < 0 ? -(int32_t)v : v; }

int32_t dfp_pack_conv_weights(const dfp_conv_geom *g, int64_t out_ch, const int16_t *w, int mr,
                              int16_t *panels)
{
    dfp_pairs_layout l = dfp_pairs_layout_of(g);
    int64_t kk = g->kernel_h * g->kernel_w, kp = l.cp * kk, ckk = g->channels * kk;
    int64_t npan = (out_ch + mr - 1) / mr;
    int32_t m = 0;
    for (int64_t ip = 0; ip < npan; ip++)
        for (int64_t q = 0; q < kp; q++) {
            int64_t cp = q / kk, tap = q % kk;
            int16_t *d = panels + (ip * kp + q) * mr * 2;
            for (int i = 0; i < mr; i++) {
                int64_t o = ip * mr + i;
                int16_t e = 0, od = 0;
                if (o < out_ch) {
                    e = w[o * ckk + 2 * cp * kk + tap];
                    od = 2 * cp + 1 < g->channels ? w[o * ckk + (2 * cp + 1) * kk + tap] : 0;
                }
                d[2 * i] = e, d[2 * i + 1] = od;
                m = abs16(e) > m ? abs16(e) : m;
                m = abs16(od) > m ? abs16(od) : m;
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

/* n elements of im2col tap r (c, kh, kw) from output pixel p on of one image. */
static void tap_run(const dfp_conv_geom *g, const int16_t *x, int64_t r, int64_t p, int64_t n,
                    int16_t *dst)
{
    int64_t kk = g->kernel_h * g->kernel_w, c = r / kk, kh = (r % kk) / g->kernel_w,
            kw = r % g->kernel_w;
    int64_t oh = p / g->out_w, ow = p % g->out_w;
    const int16_t *xc = x + c * g->in_h * g->in_w;
    while (n > 0) {
        int64_t seg = g->out_w - ow < n ? g->out_w - ow : n;
        int64_t ih = oh * g->stride_h - g->pad_h + kh * g->dilation_h;
        if (ih < 0 || ih >= g->in_h) {
            memset(dst, 0, (size_t)seg * sizeof(int16_t));
        } else {
            const int16_t *row = xc + ih * g->in_w;
            int64_t iw0 = ow * g->stride_w - g->pad_w + kw * g->dilation_w;
            if (g->stride_w == 1) {
                int64_t lo = -iw0 > 0 ? -iw0 : 0, hi = g->in_w - iw0;
                lo = lo < seg ? lo : seg;
                hi = hi < lo ? lo : hi > seg ? seg : hi;
                memset(dst, 0, (size_t)lo * sizeof(int16_t));
                memcpy(dst + lo, row + iw0 + lo, (size_t)(hi - lo) * sizeof(int16_t));
                memset(dst + hi, 0, (size_t)(seg - hi) * sizeof(int16_t));
            } else {
                for (int64_t i = 0; i < seg; i++) {
                    int64_t iw = iw0 + i * g->stride_w;
                    dst[i] = iw >= 0 && iw < g->in_w ? row[iw] : 0;
                }
            }
        }
        dst += seg, n -= seg, ow = 0, oh++;
    }
}

/* Scatter a run of n int16 (pairs along K) into panel row i at pair offset q. */
static inline void scatter_pairs(const int16_t *run, int64_t n, int64_t q, int i, int w,
                                 int16_t *panel)
{
    int32_t *dst = (int32_t *)(void *)panel + q * w + i;
    int64_t np = n >> 1;
    for (int64_t k = 0; k < np; k++) {
        int32_t v;
        memcpy(&v, run + 2 * k, 4);
        dst[k * w] = v;
    }
    if (n & 1)
        panel[(q + np) * w * 2 + i * 2] = run[n - 1];
}

#define RUN_MAX 1024

/* Shared walk of the pixel-pair K space; fetch(row, image, pixel, n, dst). */
typedef void (*row_fetch)(const void *ctx, int64_t r, int64_t img, int64_t p, int64_t n,
                          int16_t *dst);

static void pack_pixelk(row_fetch fetch, const void *ctx, int64_t pixels, int64_t r0, int64_t rows,
                        int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    int64_t ppi = (pixels + 1) / 2;
    int16_t run[RUN_MAX];
    memset(panel, 0, (size_t)(kpb * w * 2) * sizeof(int16_t));
    for (int64_t q = q0; q < q0 + kpb;) {
        int64_t img = q / ppi, lq = q % ppi;
        int64_t npairs = ppi - lq < q0 + kpb - q ? ppi - lq : q0 + kpb - q;
        if (npairs > RUN_MAX / 2)
            npairs = RUN_MAX / 2;
        int64_t p = 2 * lq, n = pixels - p < 2 * npairs ? pixels - p : 2 * npairs;
        for (int i = 0; i < rows; i++) {
            fetch(ctx, r0 + i, img, p, n, run);
            scatter_pairs(run, n, q - q0, i, w, panel);
        }
        q += npairs;
    }
}

typedef struct dy_ctx {
    const int16_t *dy;
    int64_t out_ch, pixels;
} dy_ctx;

static void fetch_dy(const void *ctx, int64_t r, int64_t img, int64_t p, int64_t n, int16_t *dst)
{
    const dy_ctx *c = ctx;
    memcpy(dst, c->dy + (img * c->out_ch + r) * c->pixels + p, (size_t)n * sizeof(int16_t));
}

typedef struct taps_ctx {
    const dfp_conv_geom *g;
    const int16_t *x;
} taps_ctx;

static void fetch_taps(const void *ctx, int64_t r, int64_t img, int64_t p, int64_t n, int16_t *dst)
{
    const taps_ctx *c = ctx;
    const dfp_conv_geom *g = c->g;
    tap_run(g, c->x + img * g->channels * g->in_h * g->in_w, r, p, n, dst);
}

void dfp_pack_pixelk_dy(const int16_t *dy, int64_t out_ch, int64_t pixels, int64_t r0,
                        int64_t rows, int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    dy_ctx c = {dy, out_ch, pixels};
    pack_pixelk(fetch_dy, &c, pixels, r0, rows, w, q0, kpb, panel);
}

void dfp_pack_pixelk_taps(const dfp_conv_geom *g, const int16_t *x, int64_t r0, int64_t rows,
                          int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    taps_ctx c = {g, x};
    pack_pixelk(fetch_taps, &c, g->out_h * g->out_w, r0, rows, w, q0, kpb, panel);
}

#define ABS_BLOCK 65536

int32_t dfp_absmax_s16(const int16_t *v, int64_t n)
{
    int64_t nb = (n + ABS_BLOCK - 1) / ABS_BLOCK;
    int32_t m = 0;
#pragma omp parallel for schedule(static) reduction(max : m) num_threads(dfp_threads_for_work(nb))
    for (int64_t b = 0; b < nb; b++) {
        int64_t off = b * ABS_BLOCK, len = n - off < ABS_BLOCK ? n - off : ABS_BLOCK;
        int32_t bm = 0;
        for (int64_t i = 0; i < len; i++) {
            int32_t a = abs16(v[off + i]);
            bm = a > bm ? a : bm;
        }
        m = bm > m ? bm : m;
    }
    return m;
}
