/* Blocked im2col / col2im (see im2col.h). Each tap row of a tile is walked
 * one output row segment at a time; the input columns a segment touches are
 * found analytically, so padding costs a memset, not a branch per pixel. */
#include "im2col.h"
#include "kernel_table.h"

#include <string.h>

/* floor(a / b) for b > 0 and any sign of a */
static inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* Outputs o in [lo, hi) with 0 <= o*stride + off < size, as [*first, *last). */
static inline void valid_outputs(int64_t off, int64_t stride, int64_t size, int64_t lo, int64_t hi,
                                 int64_t *first, int64_t *last)
{
    int64_t a = floor_div(-off + stride - 1, stride); /* ceil(-off / stride) */
    int64_t b = floor_div(size - 1 - off, stride) + 1;
    *first = a > lo ? a : lo;
    *last = b < hi ? b : hi;
    if (*last < *first)
        *last = *first;
}

/* dst[q] = src[q * stride] for q < count, elements of `elem` bytes. */
static inline void copy_strided(char *dst, const char *src, int64_t count, int64_t stride, size_t elem)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)count * elem);
    } else if (elem == 4) {
        for (int64_t q = 0; q < count; q++)
            memcpy(dst + 4 * q, src + 4 * q * stride, 4);
    } else if (elem == 2) {
        for (int64_t q = 0; q < count; q++)
            memcpy(dst + 2 * q, src + 2 * q * stride, 2);
    } else {
        for (int64_t q = 0; q < count; q++)
            memcpy(dst + elem * q, src + elem * q * stride, elem);
    }
}

/* One segment: output row oh, columns [ow0, ow0+count), tap (kh, kw) of channel plane x. */
static inline void gather_segment(const dfp_conv_geom *g, const char *plane, size_t elem, int64_t oh,
                                  int64_t ow0, int64_t count, int64_t kh, int64_t kw, char *dst)
{
    int64_t ih = oh * g->stride_h - g->pad_h + kh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h) {
        memset(dst, 0, (size_t)count * elem);
        return;
    }
    int64_t off = kw * g->dilation_w - g->pad_w, first, last;
    valid_outputs(off, g->stride_w, g->in_w, ow0, ow0 + count, &first, &last);
    memset(dst, 0, (size_t)(first - ow0) * elem);
    const char *row = plane + (size_t)(ih * g->in_w) * elem;
    copy_strided(dst + (size_t)(first - ow0) * elem, row + (size_t)(first * g->stride_w + off) * elem,
                 last - first, g->stride_w, elem);
    memset(dst + (size_t)(last - ow0) * elem, 0, (size_t)(ow0 + count - last) * elem);
}

/* count zero elements at dst; a single element (the usual padding column of
 * a 3 x 3 tap) is one store instead of a libc call per output row. */
static inline void zero_elems(char *dst, int64_t count, size_t elem)
{
    static const char zero[8] = {0};
    if (count == 1 && elem == 4)
        memcpy(dst, zero, 4);
    else if (count == 1 && elem == 2)
        memcpy(dst, zero, 2);
    else
        memset(dst, 0, (size_t)count * elem);
}

/* Stride 1 with out_w == in_w ("same" width): pixel p of tap (kh, kw) reads
 * input element p + shift, shift = (kh*dh - ph)*W + (kw*dw - pw), wherever its
 * column ow + (kw*dw - pw) lies in [0, W); given a valid column, that index is
 * inside the plane exactly when the input row is. So a tap row of a tile is
 * one contiguous copy clipped to the plane, then the invalid columns zeroed:
 * a few large copies instead of a libc call per output-row segment. */
static inline int same_width(const dfp_conv_geom *g)
{
    return g->stride_h == 1 && g->stride_w == 1 && g->out_w == g->in_w;
}

/* Tap row r of a tile, same-width case. */
static void row_same_width(const dfp_conv_geom *g, const char *x, size_t elem, int64_t r, int64_t p0,
                           int64_t np, char *dst)
{
    int64_t taps = g->kernel_h * g->kernel_w, plane_len = g->in_h * g->in_w, w = g->in_w;
    int64_t c = r / taps, kh = r % taps / g->kernel_w, kw = r % g->kernel_w;
    int64_t offw = kw * g->dilation_w - g->pad_w;
    int64_t shift = (kh * g->dilation_h - g->pad_h) * w + offw;
    const char *plane = x + (size_t)(c * plane_len) * elem;
    /* source range [p0 + shift, p0 + np + shift) clipped to [0, plane_len) */
    int64_t lo = p0 + shift < 0 ? -shift - p0 : 0;
    int64_t hi = p0 + np + shift > plane_len ? plane_len - shift - p0 : np;
    lo = lo < np ? lo : np;
    hi = hi < lo ? lo : hi;
    memset(dst, 0, (size_t)lo * elem);
    memcpy(dst + (size_t)lo * elem, plane + (size_t)(p0 + lo + shift) * elem, (size_t)(hi - lo) * elem);
    memset(dst + (size_t)hi * elem, 0, (size_t)(np - hi) * elem);
    if (offw == 0)
        return;
    /* zero the columns whose input column ow + offw falls outside [0, W) */
    int64_t bad_lo = offw < 0 ? 0 : w - offw, bad_hi = offw < 0 ? -offw : w;
    if (bad_lo < 0)
        bad_lo = 0;
    if (bad_hi > w)
        bad_hi = w;
    for (int64_t rs = p0 - p0 % w; rs < p0 + np; rs += w) {
        int64_t a = rs + bad_lo > p0 ? rs + bad_lo : p0, b = rs + bad_hi < p0 + np ? rs + bad_hi : p0 + np;
        if (b > a)
            zero_elems(dst + (size_t)(a - p0) * elem, b - a, elem);
    }
}

/* Tap row r of a tile, any geometry: one output-row segment at a time. */
static void row_general(const dfp_conv_geom *g, const char *x, size_t elem, int64_t r, int64_t p0,
                        int64_t np, char *dst)
{
    int64_t taps = g->kernel_h * g->kernel_w;
    int64_t c = r / taps, kh = r % taps / g->kernel_w, kw = r % g->kernel_w;
    const char *plane = x + (size_t)(c * g->in_h * g->in_w) * elem;
    for (int64_t p = p0; p < p0 + np;) {
        int64_t oh = p / g->out_w, ow0 = p % g->out_w;
        int64_t count = g->out_w - ow0 < p0 + np - p ? g->out_w - ow0 : p0 + np - p;
        gather_segment(g, plane, elem, oh, ow0, count, kh, kw, dst + (size_t)(p - p0) * elem);
        p += count;
    }
}

static inline void im2col_row(const dfp_conv_geom *g, const char *x, size_t elem, int64_t r, int64_t p0,
                              int64_t np, char *dst)
{
    if (same_width(g))
        row_same_width(g, x, elem, r, p0, np, dst);
    else
        row_general(g, x, elem, r, p0, np, dst);
}

void dfp_im2col_tile(const dfp_conv_geom *g, const void *x, size_t elem, int64_t p0, int64_t np,
                     void *col, int64_t ldcol)
{
    for (int64_t r = 0; r < g->channels * g->kernel_h * g->kernel_w; r++)
        im2col_row(g, (const char *)x, elem, r, p0, np, (char *)col + (size_t)(r * ldcol) * elem);
}

/* nr floats (fewer, zero-padded, at the tile's end); fixed-size copies inline. */
static inline void panel_row(float *dst, const float *src, int64_t cols, int nr)
{
    if (cols == nr && nr == 32)
        memcpy(dst, src, 32 * sizeof(float));
    else if (cols == nr && nr == 16)
        memcpy(dst, src, 16 * sizeof(float));
    else
        for (int j = 0; j < nr; j++)
            dst[j] = j < cols ? src[j] : 0.0f;
}

/* One B panel row of the same-width case: pixels pix0 .. pix0+cols-1 (first
 * one in column ow0) of tap (kh, kw) of `plane`, see row_same_width. Loops
 * stay loops (no memset calls for the one or two edge columns of a row). */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) static inline void
panel_row_same_width(const dfp_conv_geom *g, const float *plane, int64_t pix0, int64_t ow0, int64_t cols,
                     int nr, int64_t kh, int64_t kw, float *d)
{
    int64_t w = g->in_w, plane_len = g->in_h * w;
    int64_t offw = kw * g->dilation_w - g->pad_w;
    int64_t s0 = pix0 + (kh * g->dilation_h - g->pad_h) * w + offw;
    if (s0 >= 0 && s0 + cols <= plane_len) {
        panel_row(d, plane + s0, cols, nr);
    } else {
        for (int j = 0; j < nr; j++)
            d[j] = j < cols && s0 + j >= 0 && s0 + j < plane_len ? plane[s0 + j] : 0.0f;
    }
    if (offw == 0)
        return;
    int64_t bad_lo = offw < 0 ? 0 : w - offw, bad_hi = offw < 0 ? -offw : w;
    bad_lo = bad_lo < 0 ? 0 : bad_lo;
    bad_hi = bad_hi > w ? w : bad_hi;
    for (int64_t rs = -ow0; rs < cols; rs += w) { /* image-row starts, relative to pix0 */
        int64_t a = rs + bad_lo > 0 ? rs + bad_lo : 0, b = rs + bad_hi < cols ? rs + bad_hi : cols;
        for (int64_t k = a; k < b; k++)
            d[k] = 0.0f;
    }
}

void dfp_im2col_panels_f32(const dfp_conv_geom *g, const float *x, int64_t p0, int64_t np, int nr,
                           float *row, float *dst)
{
    int64_t ckk = g->channels * g->kernel_h * g->kernel_w;
    if (same_width(g)) { /* panel by panel: each written sequentially, no row buffer */
        for (int64_t q0 = 0; q0 < np; q0 += nr) {
            int64_t cols = np - q0 < nr ? np - q0 : nr, ow0 = (p0 + q0) % g->in_w;
            float *d = dst + q0 / nr * ckk * nr;
            for (int64_t c = 0; c < g->channels; c++)
                for (int64_t kh = 0; kh < g->kernel_h; kh++)
                    for (int64_t kw = 0; kw < g->kernel_w; kw++, d += nr)
                        panel_row_same_width(g, x + c * g->in_h * g->in_w, p0 + q0, ow0, cols, nr, kh, kw, d);
        }
        return;
    }
    for (int64_t r = 0; r < ckk; r++) {
        im2col_row(g, (const char *)x, sizeof(float), r, p0, np, (char *)row);
        for (int64_t j0 = 0; j0 < np; j0 += nr)
            panel_row(dst + (j0 / nr) * ckk * nr + r * nr, row + j0, np - j0 < nr ? np - j0 : nr, nr);
    }
}

/* plane[ih][o*stride + off] += src[o - ow0] for the output columns o of one
 * segment [ow0, ow0 + count) inside the tap's valid range [a, b). */
static inline void scatter_segment(const dfp_conv_geom *g, float *plane, int64_t oh, int64_t ow0,
                                   int64_t count, int64_t kh, int64_t off, int64_t a, int64_t b,
                                   const float *src)
{
    int64_t ih = oh * g->stride_h - g->pad_h + kh * g->dilation_h;
    if (ih < 0 || ih >= g->in_h)
        return;
    int64_t first = a > ow0 ? a : ow0, last = b < ow0 + count ? b : ow0 + count;
    float *row = plane + ih * g->in_w + off;
    if (g->stride_w == 1) /* contiguous: lets the compiler vectorise */
        for (int64_t o = first; o < last; o++)
            row[o] += src[o - ow0];
    else
        for (int64_t o = first; o < last; o++)
            row[o * g->stride_w] += src[o - ow0];
}

/* Stride 1 along rows: per (c, kh, output row) the KW taps' segments are first
 * summed into one input-row vector t (t = ((0 + s_0) + s_1) + ..., kw in order),
 * then added into dx once. Adding each tap straight into dx chained every add
 * through memory (the next tap's segment overlaps the last one shifted by one
 * column), and short rows made that read-after-write the whole cost. The
 * portable loop and the AVX-512 one do the same float operations. */
#define DFP_COL2IM_MAX_W 4096 /* input widths the row sums serve (DFP_COL2IM_MAX_KW: kernel widths) */

static void add_row_portable(const dfp_col2im_row *r, float *t, int64_t in_w, float *dst)
{
    for (int64_t i = 0; i < in_w; i++)
        t[i] = 0.0f;
    for (int64_t k = 0; k < r->kw; k++)
        for (int64_t o = r->first[k]; o < r->last[k]; o++)
            t[o + r->off[k]] += r->src[k][o - r->ow0];
    for (int64_t i = 0; i < in_w; i++)
        dst[i] += t[i];
}

static void col2im_rows_stride1(const dfp_conv_geom *g, const float *dcol, int64_t ldcol, int64_t p0,
                                int64_t np, float *dx, float *t)
{
    const int64_t taps = g->kernel_h * g->kernel_w;
    const dfp_col2im_add_row_fn add_row = dfp_kernels()->move.col2im_add_row;
    dfp_col2im_row r;
    r.kw = g->kernel_w;
    for (int64_t c = 0; c < g->channels; c++) {
        float *plane = dx + c * g->in_h * g->in_w;
        for (int64_t kh = 0; kh < g->kernel_h; kh++)
            for (int64_t p = p0, oh = p0 / g->out_w, ow0 = p0 % g->out_w; p < p0 + np; oh++, ow0 = 0) {
                int64_t count = g->out_w - ow0 < p0 + np - p ? g->out_w - ow0 : p0 + np - p;
                int64_t ih = oh * g->stride_h - g->pad_h + kh * g->dilation_h;
                if (ih >= 0 && ih < g->in_h) {
                    r.ow0 = ow0;
                    for (int64_t k = 0; k < r.kw; k++) {
                        int64_t a, b;
                        r.off[k] = k * g->dilation_w - g->pad_w;
                        valid_outputs(r.off[k], 1, g->in_w, ow0, ow0 + count, &a, &b);
                        r.first[k] = a, r.last[k] = b;
                        r.src[k] = dcol + (c * taps + kh * g->kernel_w + k) * ldcol + (p - p0);
                    }
                    if (add_row)
                        add_row(&r, g->in_w, plane + ih * g->in_w);
                    else
                        add_row_portable(&r, t, g->in_w, plane + ih * g->in_w);
                }
                p += count;
            }
    }
}

static int col2im_rows_apply(const dfp_conv_geom *g)
{
    return g->stride_w == 1 && g->kernel_w <= DFP_COL2IM_MAX_KW && g->in_w <= DFP_COL2IM_MAX_W;
}

void dfp_col2im_tile_f32(const dfp_conv_geom *g, const float *dcol, int64_t ldcol, int64_t p0,
                         int64_t np, float *dx)
{
    if (col2im_rows_apply(g)) {
        float t[DFP_COL2IM_MAX_W];
        col2im_rows_stride1(g, dcol, ldcol, p0, np, dx, t);
        return;
    }
    int64_t taps = g->kernel_h * g->kernel_w;
    const int64_t oh_first = p0 / g->out_w, ow_first = p0 % g->out_w;
    for (int64_t r = 0; r < g->channels * taps; r++) {
        int64_t c = r / taps, kh = r % taps / g->kernel_w, kw = r % g->kernel_w;
        float *plane = dx + c * g->in_h * g->in_w;
        const float *src = dcol + r * ldcol;
        /* the tap's valid output columns, once per row of dcol */
        int64_t off = kw * g->dilation_w - g->pad_w, a, b;
        valid_outputs(off, g->stride_w, g->in_w, 0, g->out_w, &a, &b);
        /* output rows of the tile in order (no division per segment) */
        for (int64_t p = p0, oh = oh_first, ow0 = ow_first; p < p0 + np; oh++, ow0 = 0) {
            int64_t count = g->out_w - ow0 < p0 + np - p ? g->out_w - ow0 : p0 + np - p;
            scatter_segment(g, plane, oh, ow0, count, kh, off, a, b, src + (p - p0));
            p += count;
        }
    }
}
