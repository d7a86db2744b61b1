/* AVX2 data-movement kernels (contracts: native/core/move_kernels.h): the
 * AVX-512 kernels' scheme on 256-bit vectors (8 x 8 in-register transposes,
 * 8-word copies, masked sums, the 2x2 max pool) for the slots the AVX2 conv paths
 * reach (the DFP16 channel-last pairs serve only the VNNI in-place WTGRAD).
 * Copies and same-order sums, so the bytes are the portable loops'. The
 * portable loops build for baseline x86-64 (SSE2): before these, packing took
 * as long as the integer products in an AVX2 DFP16 step. */
#include "move_kernels.h"
#include "lanes_avx2.h"
#include "transpose_avx2.h"

#include <immintrin.h>
#include <string.h>

static inline void copy_words(int32_t *d, const int32_t *s, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_loadu_si256((const __m256i *)(s + i)));
    if (i < n)
        memcpy(d + i, s + i, (size_t)(n - i) * 4);
}

static void copy_taps_avx2(int64_t kp, int64_t kk, int64_t kernel_w, int64_t plane, int64_t step_h,
                           int64_t step_w, const int32_t *x32, const int64_t *seg_src,
                           const int64_t *seg_len, const int64_t *seg_dst, int64_t nseg, int nr,
                           int32_t *pan)
{
    for (int64_t q = 0; q < kp; q++) {
        int64_t cp = q / kk, kh = (q % kk) / kernel_w, kw = q % kernel_w;
        const int32_t *src = x32 + cp * plane + kh * step_h + kw * step_w;
        int32_t *dst = pan + q * nr;
        for (int64_t s = 0; s < nseg; s++)
            copy_words(dst + seg_dst[s], src + seg_src[s], seg_len[s]);
    }
}

/* The tap packer (w a multiple of 16, handled as vectors of 8 rows): at stride
 * 1, runs of 8 output pixels are 8 contiguous loads per 8 rows and one
 * transpose; other pixels are 8-lane gathers at the rows' fixed offsets. */
static void taps_gather_avx2(const dfp_conv_geom *g, const int32_t *src, const int64_t *off, int64_t rows,
                             int w, int64_t q0, int64_t kpb, int64_t hp, int64_t wp, int32_t *dst)
{
    __m256i idx[64 / 8], live[64 / 8];
    for (int v = 0; v < w / 8; v++) {
        int32_t o[8];
        for (int t = 0; t < 8; t++)
            o[t] = v * 8 + t < rows ? (int32_t)off[v * 8 + t] : 0;
        idx[v] = _mm256_loadu_si256((const __m256i *)o);
        live[v] = first_lanes_avx2(rows - v * 8);
    }
    for (int64_t q = 0; q < kpb;) {
        int64_t len;
        const int32_t *row = dfp_tap_row_run(g, src, q0 + q, q0 + kpb, hp, wp, &len);
        int64_t t = 0;
        if (g->stride_w == 1)
            for (; t + 8 <= len; t += 8, q += 8)
                for (int v = 0; v < w / 8; v++) {
                    __m256i r[8];
                    for (int j = 0; j < 8; j++)
                        r[j] = v * 8 + j < rows
                                   ? _mm256_loadu_si256((const __m256i *)(row + off[v * 8 + j] + t))
                                   : _mm256_setzero_si256();
                    transpose8_epi32(r);
                    for (int j = 0; j < 8; j++)
                        _mm256_storeu_si256((__m256i *)(dst + (q + j) * w + v * 8), r[j]);
                }
        for (; t < len; t++, q++) {
            const int *base = (const int *)(row + t * g->stride_w);
            for (int v = 0; v < w / 8; v++)
                _mm256_storeu_si256((__m256i *)(dst + q * w + v * 8),
                                    _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), base, idx[v],
                                                                live[v], 4));
        }
    }
}

/* The dy packer's runs of 8 consecutive K pairs inside one image pair: per 8
 * rows (rows <= w <= 16) 8 contiguous loads and one transpose, then the first
 * w words of each K pair stored. Returns the pairs done (a prefix). */
static int64_t dy_transpose_avx2(const int32_t *src, int64_t out_ch, int64_t pixels, int64_t r0, int64_t rows,
                                 int w, int64_t q0, int64_t kpb, int32_t *dst)
{
    int64_t q = q0;
    while (q + 8 <= q0 + kpb) {
        int64_t m = q / pixels, p = q % pixels;
        if (p + 8 > pixels)
            break; /* the run would cross into the next image pair */
        const int32_t *s = src + (m * out_ch + r0) * pixels + p;
        for (int b = 0; b * 8 < w; b++) {
            const __m256i mask = first_lanes_avx2(w - b * 8);
            __m256i r[8];
            for (int i = 0; i < 8; i++)
                r[i] = b * 8 + i < rows ? _mm256_loadu_si256((const __m256i *)(s + (b * 8 + i) * pixels))
                                        : _mm256_setzero_si256();
            transpose8_epi32(r);
            for (int j = 0; j < 8; j++)
                _mm256_maskstore_epi32((int *)(dst + (q - q0 + j) * w + b * 8), mask, r[j]);
        }
        q += 8;
    }
    return q - q0;
}

static int64_t repair_run_avx2(const int32_t *a, const int32_t *b, int odd, int64_t n, int32_t *d)
{
    const __m256i low = _mm256_set1_epi32(0xffff);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i va = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i vb = b ? _mm256_loadu_si256((const __m256i *)(b + i)) : _mm256_setzero_si256();
        __m256i lo = odd ? _mm256_srli_epi32(va, 16) : _mm256_and_si256(va, low);
        __m256i hi = odd ? _mm256_andnot_si256(low, vb) : _mm256_slli_epi32(vb, 16);
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_or_si256(lo, hi));
    }
    return i;
}

/* Full blocks of 8 elements x 8 channels through one in-register transpose (the
 * FP32 in-place WTGRAD's channel-last image copy); returns how many leading
 * elements were done for every channel. */
static int64_t to_channel_last_avx2(const int32_t *s, int64_t stride, int64_t n, int64_t channels, int32_t *d)
{
    if (channels % 8)
        return 0;
    int64_t i0 = 0;
    for (; i0 + 8 <= n; i0 += 8)
        for (int64_t c0 = 0; c0 < channels; c0 += 8) {
            __m256i r[8];
            for (int j = 0; j < 8; j++)
                r[j] = _mm256_loadu_si256((const __m256i *)(s + (c0 + j) * stride + i0));
            transpose8_epi32(r);
            for (int j = 0; j < 8; j++)
                _mm256_storeu_si256((__m256i *)(d + (i0 + j) * channels + c0), r[j]);
        }
    return i0;
}

/* 8 input columns per vector; lanes outside a tap's valid outputs load 0, and
 * +0 added to the sum changes nothing (the sum starts at +0, so it is never -0). */
static void col2im_add_row_avx2(const dfp_col2im_row *r, int64_t in_w, float *dst)
{
    for (int64_t i0 = 0; i0 < in_w; i0 += 8) {
        __m256 t = _mm256_setzero_ps();
        for (int64_t k = 0; k < r->kw; k++) {
            int64_t lo = r->first[k] + r->off[k] - i0, hi = r->last[k] + r->off[k] - i0;
            lo = lo < 0 ? 0 : lo, hi = hi > 8 ? 8 : hi;
            if (hi <= lo)
                continue;
            __m256i m = lanes_between_avx2(lo, hi);
            const float *s = r->src[k] + (i0 - r->off[k] - r->ow0);
            t = _mm256_add_ps(t, _mm256_maskload_ps(s, m));
        }
        __m256i m = first_lanes_avx2(in_w - i0);
        _mm256_maskstore_ps(dst + i0, m, _mm256_add_ps(_mm256_maskload_ps(dst + i0, m), t));
    }
}

/* take = v > best or v is NaN (the rule of max_tap), per lane */
static inline void take_tap(__m256 v, __m256i i, __m256 *best, __m256i *idx)
{
    __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, *best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    *best = _mm256_blendv_ps(*best, v, take);
    *idx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*idx), _mm256_castsi256_ps(i), take));
}

/* Even (odd) columns of the 16 floats lo:hi, in order: in-lane shuffles, then
 * the 64-bit quarters put in place. */
static inline __m256 columns(__m256 lo, __m256 hi, int odd)
{
    __m256 t = odd ? _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))
                   : _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* The 2x2, stride 2, unpadded pool: 8 outputs per vector from 16 input columns
 * of two rows, taps in (h, w) order under max_tap's rule, so values and argmax
 * equal max_plane's. */
static void max2x2_plane_avx2(const dfp_pool2d_shape *s, int64_t oh_n, int64_t ow_n, const float *x, float *y,
                              int32_t *arg)
{
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const int64_t in_w = s->in_w;
    for (int64_t oh = 0; oh < oh_n; oh++)
        for (int64_t o0 = 0; o0 < ow_n; o0 += 8) {
            const int64_t n = ow_n - o0 < 8 ? ow_n - o0 : 8, c0 = 2 * o0;
            const int64_t cols = in_w - c0 < 16 ? in_w - c0 : 16; /* >= 2n */
            const __m256i m0 = first_lanes_avx2(cols), m1 = first_lanes_avx2(cols - 8);
            __m256 c[4];
            for (int h = 0; h < 2; h++) {
                const float *row = x + (2 * oh + h) * in_w + c0;
                __m256 lo = _mm256_maskload_ps(row, m0), hi = _mm256_maskload_ps(row + 8, m1);
                c[2 * h] = columns(lo, hi, 0);
                c[2 * h + 1] = columns(lo, hi, 1);
            }
            const __m256i i00 = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(2 * oh * in_w + c0)), even);
            __m256 best = c[0];
            __m256i idx = i00;
            take_tap(c[1], _mm256_add_epi32(i00, _mm256_set1_epi32(1)), &best, &idx);
            take_tap(c[2], _mm256_add_epi32(i00, _mm256_set1_epi32((int32_t)in_w)), &best, &idx);
            take_tap(c[3], _mm256_add_epi32(i00, _mm256_set1_epi32((int32_t)in_w + 1)), &best, &idx);
            const __m256i out = first_lanes_avx2(n);
            _mm256_maskstore_ps(y + oh * ow_n + o0, out, best);
            _mm256_maskstore_epi32((int *)(arg + oh * ow_n + o0), out, idx);
        }
}

void dfp_move_kernels_init_avx2(dfp_move_kernels *k)
{
    k->copy_taps = copy_taps_avx2;
    k->taps_gather = taps_gather_avx2;
    k->dy_transpose = dy_transpose_avx2;
    k->repair_run = repair_run_avx2;
    k->to_channel_last32 = to_channel_last_avx2;
    k->col2im_add_row = col2im_add_row_avx2;
    k->max2x2_plane = max2x2_plane_avx2;
}
