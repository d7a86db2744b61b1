/* Packers of the DFP16 convolution (see conv_s16_pack.h): im2col fused into
 * VNNI panel packing, so no column matrix is ever materialised. */
#include "conv_s16_pack.h"
#include "kernel_table.h"
#include "layout32.h"

#include <string.h>

#include "transpose_avx512.h"

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

#if defined(__GNUC__) && defined(__x86_64__)
/* The stride-1 copies of one panel with 512-bit moves: this file builds for
 * baseline x86-64, where a 128-byte segment took 8 SSE loads and 8 stores; at
 * 16 channels packing cost more than the micro-kernel. A copy, so bit-identical. */
__attribute__((target("avx512f"))) static void
copy_taps_avx512(int64_t kp, int64_t kk, int64_t kernel_w, int64_t plane, int64_t step_h,
                 int64_t step_w, const int32_t *x32, const int64_t *seg_src,
                 const int64_t *seg_len, const int64_t *seg_dst, int64_t nseg, int nr, int32_t *pan)
{
    for (int64_t q = 0; q < kp; q++) {
        int64_t cp = q / kk, kh = (q % kk) / kernel_w, kw = q % kernel_w;
        const int32_t *src = x32 + cp * plane + kh * step_h + kw * step_w;
        int32_t *dst = pan + q * nr;
        for (int64_t s = 0; s < nseg; s++) {
            const int32_t *sp = src + seg_src[s];
            int32_t *dp = dst + seg_dst[s];
            int64_t n = seg_len[s], i = 0;
            for (; i + 16 <= n; i += 16)
                _mm512_storeu_si512((void *)(dp + i), _mm512_loadu_si512((const void *)(sp + i)));
            if (i < n) {
                __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
                _mm512_mask_storeu_epi32(dp + i, m, _mm512_maskz_loadu_epi32(m, sp + i));
            }
        }
    }
}
#endif

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
#if defined(__GNUC__) && defined(__x86_64__)
        if (g->stride_w == 1 && dfp_kernels()->isa >= DFP_ISA_AVX512) {
            if (cnt < nr) /* columns past np stay zero */
                for (int64_t q = 0; q < kp; q++)
                    memset(pan + q * nr + cnt, 0, (size_t)(nr - cnt) * 4);
            copy_taps_avx512(kp, kk, g->kernel_w, plane, g->dilation_h * l.wp, g->dilation_w, x32,
                             seg_src, seg_len, seg_dst, nseg, nr, pan);
            continue;
        }
#endif
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

#if defined(__GNUC__) && defined(__x86_64__)
/* AVX-512 path of the tap packer (a copy, so trivially bit-identical to the
 * portable loop): at stride 1, runs of 16 output pixels are 16 contiguous loads
 * per 16 taps and an in-register transpose (gathers cost twice as much); other
 * pixels are 16-lane gathers of one pixel's taps at the fixed offsets. */
__attribute__((target("avx512f"))) static void
taps_gather_avx512(const dfp_conv_geom *g, const int32_t *src, const int64_t *off, int64_t rows,
                   int w, int64_t q0, int64_t kpb, int64_t hp, int64_t wp, int32_t *dst)
{
    int64_t pixels = g->out_h * g->out_w;
    __m512i idx[64 / 16];
    __mmask16 mask[64 / 16];
    for (int v = 0; v < w / 16; v++) {
        int32_t o[16];
        for (int t = 0; t < 16; t++)
            o[t] = v * 16 + t < rows ? (int32_t)off[v * 16 + t] : 0;
        idx[v] = _mm512_loadu_si512((const void *)o);
        int64_t live = rows - v * 16;
        mask[v] = live >= 16 ? (__mmask16)0xffff : live <= 0 ? 0 : (__mmask16)((1u << live) - 1);
    }
    for (int64_t q = 0; q < kpb;) {
        int64_t p = (q0 + q) % pixels, m = (q0 + q) / pixels;
        int64_t oh = p / g->out_w, ow = p % g->out_w;
        int64_t len = g->out_w - ow < kpb - q ? g->out_w - ow : kpb - q;
        const int32_t *row = src + m * g->channels * hp * wp + oh * g->stride_h * wp +
                             ow * g->stride_w;
        int64_t t = 0;
        if (g->stride_w == 1) /* 16 pixels x 16 taps: contiguous loads, one transpose */
            for (; t + 16 <= len; t += 16, q += 16)
                for (int v = 0; v < w / 16; v++) {
                    __m512i r[16];
                    for (int j = 0; j < 16; j++)
                        r[j] = v * 16 + j < rows
                                   ? _mm512_loadu_si512((const void *)(row + off[v * 16 + j] + t))
                                   : _mm512_setzero_si512();
                    transpose16_epi32(r);
                    for (int j = 0; j < 16; j++)
                        _mm512_storeu_si512((void *)(dst + (q + j) * w + v * 16), r[j]);
                }
        for (; t < len; t++, q++) {
            const int32_t *base = row + t * g->stride_w;
            for (int v = 0; v < w / 16; v++)
                _mm512_storeu_si512((void *)(dst + q * w + v * 16),
                                    _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask[v],
                                                                idx[v], base, 4));
        }
    }
}

/* The dy packer's runs of 16 consecutive K pairs inside one image pair: 16
 * contiguous loads per row (rows <= w <= 16), one transpose, w pairs stored per
 * K pair (a copy, bit-identical to the portable loop). Returns the pairs done
 * (a prefix of the range; the caller finishes the rest). */
__attribute__((target("avx512f"))) static int64_t
dy_transpose_avx512(const int32_t *src, int64_t out_ch, int64_t pixels, int64_t r0, int64_t rows,
                    int w, int64_t q0, int64_t kpb, int32_t *dst)
{
    int64_t q = q0;
    const __mmask16 keep = (__mmask16)((1u << w) - 1);
    while (q + 16 <= q0 + kpb) {
        int64_t m = q / pixels, p = q % pixels;
        if (p + 16 > pixels)
            break; /* the run would cross into the next image pair */
        const int32_t *s = src + (m * out_ch + r0) * pixels + p;
        __m512i r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? _mm512_loadu_si512((const void *)(s + i * pixels)) : _mm512_setzero_si512();
        transpose16_epi32(r);
        for (int j = 0; j < 16; j++)
            _mm512_mask_storeu_epi32(dst + (q - q0 + j) * w, keep, r[j]);
        q += 16;
    }
    return q - q0;
}
#endif

void dfp_pack_imgpairs_dy(const int16_t *dyi, int64_t out_ch, int64_t pixels, int64_t r0,
                          int64_t rows, int w, int64_t q0, int64_t kpb, int16_t *panel)
{
    const int32_t *src = (const int32_t *)(const void *)dyi;
    int32_t *dst = (int32_t *)(void *)panel;
    int64_t q = q0;
#if defined(__GNUC__) && defined(__x86_64__)
    if (dfp_kernels()->isa >= DFP_ISA_AVX512 && w <= 16) {
        int64_t done = dy_transpose_avx512(src, out_ch, pixels, r0, rows, w, q0, kpb, dst);
        q += done;
        dst += done * w;
    }
#endif
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
            wp = g->in_w + 2 * g->pad_w, pixels = g->out_h * g->out_w;
    int64_t off[MAX_W];
    for (int i = 0; i < rows; i++) {
        int64_t r = r0 + i, c = r / kk, kh = (r % kk) / g->kernel_w, kw = r % g->kernel_w;
        off[i] = (c * hp + kh * g->dilation_h) * wp + kw * g->dilation_w;
    }
    const int32_t *src = (const int32_t *)(const void *)xi;
    int32_t *dst = (int32_t *)(void *)panel;
#if defined(__GNUC__) && defined(__x86_64__)
    if (dfp_kernels()->isa >= DFP_ISA_AVX512 && w % 16 == 0) {
        taps_gather_avx512(g, src, off, rows, w, q0, kpb, hp, wp, dst);
        return;
    }
#endif
    if (rows < w)
        for (int64_t q = 0; q < kpb; q++)
            memset(dst + q * w + rows, 0, (size_t)(w - rows) * 4);
    /* Segments of K along one output row: per tap a contiguous (stride 1) read
     * and a store every w pairs, no index loads in the inner loop. */
    for (int64_t q = 0; q < kpb;) {
        int64_t p = (q0 + q) % pixels, m = (q0 + q) / pixels;
        int64_t oh = p / g->out_w, ow = p % g->out_w;
        int64_t len = g->out_w - ow < kpb - q ? g->out_w - ow : kpb - q;
        const int32_t *row = src + m * g->channels * hp * wp + oh * g->stride_h * wp +
                             ow * g->stride_w;
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
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(pairs / 4))
    for (int64_t m = 0; m < pairs; m++) /* a 32-bit pair per pixel and channel */
        dfp_to_channel_last32(xi + m * channels * pix * 2, pix, pix, channels, xc + m * channels * pix * 2);
}

#if defined(__GNUC__) && defined(__x86_64__)
/* 16 pixels x 16 channels of one image pair: the 8 channel-pair rows of each
 * image in one 16 x 16 transpose (image 2m in dwords 0-7 of a pixel's row, 2m+1
 * in 8-15), then the two images' int16 codes interleaved per channel. */
__attribute__((target("avx512f"))) static int64_t
chanlast_pairs_avx512(int64_t channels, int64_t pix, const int32_t *a, const int32_t *b, int32_t *d)
{
    int64_t i0 = 0;
    for (; i0 + 16 <= pix; i0 += 16)
        for (int64_t c0 = 0; c0 + 16 <= channels; c0 += 16) {
            __m512i r[16];
            for (int j = 0; j < 8; j++) {
                r[j] = _mm512_loadu_si512((const void *)(a + (c0 / 2 + j) * pix + i0));
                r[8 + j] = b ? _mm512_loadu_si512((const void *)(b + (c0 / 2 + j) * pix + i0))
                             : _mm512_setzero_si512();
            }
            transpose16_epi32(r);
            for (int j = 0; j < 16; j++) {
                __m512i lo = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(r[j]));
                __m512i hi = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(r[j], 1));
                _mm512_storeu_si512((void *)(d + (i0 + j) * channels + c0),
                                    _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
            }
        }
    return i0;
}
#endif

void dfp_chanlast_from_chanpairs(int64_t batch, int64_t channels, int64_t pix, const int16_t *xp,
                                 int16_t *xc)
{
    const int64_t pairs = (batch + 1) / 2, cpn = (channels + 1) / 2;
#pragma omp parallel for schedule(static) num_threads(dfp_threads_for_work(pairs / 4))
    for (int64_t m = 0; m < pairs; m++) {
        const int16_t *a = xp + 2 * m * cpn * pix * 2;
        const int16_t *b = 2 * m + 1 < batch ? a + cpn * pix * 2 : NULL;
        int16_t *d = xc + m * channels * pix * 2;
        int64_t i0 = 0;
#if defined(__GNUC__) && defined(__x86_64__)
        if (dfp_kernels()->isa >= DFP_ISA_AVX512 && channels % 16 == 0)
            i0 = chanlast_pairs_avx512(channels, pix, (const int32_t *)(const void *)a,
                                       (const int32_t *)(const void *)b, (int32_t *)(void *)d);
#endif
        for (int64_t i = i0; i < pix; i++)
            for (int64_t c = 0; c < channels; c++) {
                int64_t at = ((c / 2) * pix + i) * 2 + (c & 1);
                d[(i * channels + c) * 2] = a[at];
                d[(i * channels + c) * 2 + 1] = b ? b[at] : 0;
            }
    }
}
