/* AVX-512 data-movement kernels (contracts: native/core/move_kernels.h):
 * 512-bit copies, 16 x 16 in-register transposes and masked sums in place of
 * the portable loops; copies and same-order sums, so the bytes are the
 * portable loops'. */
#include "move_kernels.h"
#include "transpose_avx512.h"

#include <immintrin.h>

/* The stride-1 copies of one panel with 512-bit moves: this file builds for
 * baseline x86-64, where a 128-byte segment took 8 SSE loads and 8 stores; at
 * 16 channels packing cost more than the micro-kernel. A copy, so bit-identical. */
static void
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

/* AVX-512 path of the tap packer (a copy, so trivially bit-identical to the
 * portable loop): at stride 1, runs of 16 output pixels are 16 contiguous loads
 * per 16 taps and an in-register transpose (gathers cost twice as much); other
 * pixels are 16-lane gathers of one pixel's taps at the fixed offsets. */
static void
taps_gather_avx512(const dfp_conv_geom *g, const int32_t *src, const int64_t *off, int64_t rows,
                   int w, int64_t q0, int64_t kpb, int64_t hp, int64_t wp, int32_t *dst)
{
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
        int64_t len;
        const int32_t *row = dfp_tap_row_run(g, src, q0 + q, q0 + kpb, hp, wp, &len);
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
static int64_t
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

/* 16 pixels x 16 channels of one image pair: the 8 channel-pair rows of each
 * image in one 16 x 16 transpose (image 2m in dwords 0-7 of a pixel's row, 2m+1
 * in 8-15), then the two images' int16 codes interleaved per channel. */
static int64_t
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

/* n pixels of one channel from the channel pairs of two images (the half `odd`
 * of each 32-bit pair) into image pairs: 16 pixels per two loads and stores. */
static int64_t
repair_run_avx512(const int32_t *a, const int32_t *b, int odd, int64_t n, int32_t *d)
{
    const __m512i low = _mm512_set1_epi32(0xffff);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i va = _mm512_loadu_si512((const void *)(a + i));
        __m512i vb = b ? _mm512_loadu_si512((const void *)(b + i)) : _mm512_setzero_si512();
        __m512i lo = odd ? _mm512_srli_epi32(va, 16) : _mm512_and_si512(va, low);
        __m512i hi = odd ? _mm512_andnot_si512(low, vb) : _mm512_slli_epi32(vb, 16);
        _mm512_storeu_si512((void *)(d + i), _mm512_or_si512(lo, hi));
    }
    return i;
}

/* Full blocks of 16 elements x 16 channels through one in-register transpose;
 * returns how many leading elements were done for every channel. */
static int64_t
to_channel_last_avx512(const int32_t *s, int64_t stride, int64_t n, int64_t channels, int32_t *d)
{
    if (channels % 16)
        return 0;
    int64_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16)
        for (int64_t c0 = 0; c0 < channels; c0 += 16) {
            __m512i r[16];
            for (int j = 0; j < 16; j++)
                r[j] = _mm512_loadu_si512((const void *)(s + (c0 + j) * stride + i0));
            transpose16_epi32(r);
            for (int j = 0; j < 16; j++)
                _mm512_storeu_si512((void *)(d + (i0 + j) * channels + c0), r[j]);
        }
    return i0;
}

/* 16 input columns per vector; lanes outside a tap's valid outputs load 0, and
 * +0 added to the sum changes nothing (the sum starts at +0, so it is never -0). */
static void col2im_add_row_avx512(const dfp_col2im_row *r, int64_t in_w, float *dst)
{
    for (int64_t i0 = 0; i0 < in_w; i0 += 16) {
        __m512 t = _mm512_setzero_ps();
        for (int64_t k = 0; k < r->kw; k++) {
            /* lanes i0 + l with output o = i0 + l - off in [first, last) */
            int64_t lo = r->first[k] + r->off[k] - i0, hi = r->last[k] + r->off[k] - i0;
            lo = lo < 0 ? 0 : lo, hi = hi > 16 ? 16 : hi;
            if (hi <= lo)
                continue;
            __mmask16 m = (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
            const float *s = r->src[k] + (i0 - r->off[k] - r->ow0);
            t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, s));
        }
        int64_t n = in_w - i0 < 16 ? in_w - i0 : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(dst + i0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i0), t));
    }
}

/* take = v > best or v is NaN (the rule of max_tap), per lane */
static inline void take_tap(__m512 v, __m512i i, __m512 *best, __m512i *idx)
{
    __mmask16 take = _mm512_cmp_ps_mask(v, *best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    *best = _mm512_mask_mov_ps(*best, take, v);
    *idx = _mm512_mask_mov_epi32(*idx, take, i);
}

/* The 2x2, stride 2, unpadded pool (LeNet's, VGG's): 16 outputs per vector, the
 * even and odd input columns of two rows split by two-source permutes, taps in
 * (h, w) order under max_tap's rule, so values and argmax equal max_plane's. */
static void max2x2_plane_avx512(const dfp_pool2d_shape *s, int64_t oh_n, int64_t ow_n, const float *x,
                                float *y, int32_t *arg)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const int64_t in_w = s->in_w;
    for (int64_t oh = 0; oh < oh_n; oh++)
        for (int64_t o0 = 0; o0 < ow_n; o0 += 16) {
            int64_t n = ow_n - o0 < 16 ? ow_n - o0 : 16, c0 = 2 * o0;
            int64_t cols = in_w - c0 < 32 ? in_w - c0 : 32; /* >= 2n */
            __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xffff : (1u << cols) - 1);
            __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xffff : cols <= 16 ? 0 : (1u << (cols - 16)) - 1);
            __m512 c[4];
            for (int h = 0; h < 2; h++) {
                const float *row = x + (2 * oh + h) * in_w + c0;
                __m512 lo = _mm512_maskz_loadu_ps(m0, row), hi = _mm512_maskz_loadu_ps(m1, row + 16);
                c[2 * h] = _mm512_permutex2var_ps(lo, even, hi);
                c[2 * h + 1] = _mm512_permutex2var_ps(lo, odd, hi);
            }
            __m512i i00 = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * in_w + c0)), even);
            __m512 best = c[0];
            __m512i idx = i00;
            take_tap(c[1], _mm512_add_epi32(i00, _mm512_set1_epi32(1)), &best, &idx);
            take_tap(c[2], _mm512_add_epi32(i00, _mm512_set1_epi32((int32_t)in_w)), &best, &idx);
            take_tap(c[3], _mm512_add_epi32(i00, _mm512_set1_epi32((int32_t)in_w + 1)), &best, &idx);
            __mmask16 out = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_ps(y + oh * ow_n + o0, out, best);
            _mm512_mask_storeu_epi32(arg + oh * ow_n + o0, out, idx);
        }
}

void dfp_move_kernels_init_avx512(dfp_move_kernels *k)
{
    k->copy_taps = copy_taps_avx512;
    k->taps_gather = taps_gather_avx512;
    k->dy_transpose = dy_transpose_avx512;
    k->chanlast_pairs = chanlast_pairs_avx512;
    k->repair_run = repair_run_avx512;
    k->to_channel_last32 = to_channel_last_avx512;
    k->col2im_add_row = col2im_add_row_avx512;
    k->max2x2_plane = max2x2_plane_avx512;
}
