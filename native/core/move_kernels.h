/* Data-movement kernels of the portable drivers: the copies and transposes of
 * 32-bit words (floats, or VNNI pairs of int16 codes) in the DFP16 conv packers
 * and re-layouts, the row sums of col2im, and the 2x2 max pool.
 *
 * Every slot is optional. NULL (the scalar table) means the driver's portable
 * loop does the job; an ISA folder sets the slots it speeds up. Each
 * kernel does what that loop does (copies; sums of the same terms in the same
 * order; the max under the same rule), so every ISA gives the same bytes.
 * Slots returning a count do a leading part of the job (whole SIMD blocks)
 * and leave the rest to the portable loop. */
#ifndef DFP_MOVE_KERNELS_H
#define DFP_MOVE_KERNELS_H

#include <stdint.h>

#include "dfpengine.h"
#include "im2col.h"

/* The stride-1 copies of one DFP16 conv panel (dfp_pack_conv_pixels): for K
 * pair q (channel pair cp, tap kh, kw) and segment s, seg_len[s] words from
 * x32 + cp * plane + kh * step_h + kw * step_w + seg_src[s] to
 * pan + q * nr + seg_dst[s]. */
typedef void (*dfp_copy_taps_fn)(int64_t kp, int64_t kk, int64_t kernel_w, int64_t plane,
                                 int64_t step_h, int64_t step_w, const int32_t *x32,
                                 const int64_t *seg_src, const int64_t *seg_len,
                                 const int64_t *seg_dst, int64_t nseg, int nr, int32_t *pan);

/* The whole tap panel of dfp_pack_imgpairs_taps (w a multiple of 16): K pair q
 * of row i at dst[q * w + i] = the word at the tap's offset off[i] from K pair
 * q0 + q's output pixel in src (image pairs of C x hp x wp words); rows past
 * `rows` are 0. */
typedef void (*dfp_taps_gather_fn)(const dfp_conv_geom *g, const int32_t *src, const int64_t *off,
                                   int64_t rows, int w, int64_t q0, int64_t kpb, int64_t hp,
                                   int64_t wp, int32_t *dst);

/* K pair q of a tap panel over image pairs x output pixels (dfp_pack_imgpairs_taps
 * and its taps_gather kernel): the start in src (image pairs of C x hp x wp
 * words) of q's output pixel at tap (0, 0), and in *len how many K pairs, up
 * to q_end, stay on that output row. */
static inline const int32_t *dfp_tap_row_run(const dfp_conv_geom *g, const int32_t *src, int64_t q,
                                             int64_t q_end, int64_t hp, int64_t wp, int64_t *len)
{
    const int64_t pixels = g->out_h * g->out_w, p = q % pixels, m = q / pixels;
    const int64_t oh = p / g->out_w, ow = p % g->out_w;
    *len = g->out_w - ow < q_end - q ? g->out_w - ow : q_end - q;
    return src + m * g->channels * hp * wp + oh * g->stride_h * wp + ow * g->stride_w;
}

/* A prefix of dfp_pack_imgpairs_dy's K pairs (w <= 16): dst[(q - q0) * w + i] =
 * src[(m * out_ch + r0 + i) * pixels + p] for q = m * pixels + p, 0 past rows.
 * Returns the pairs done. */
typedef int64_t (*dfp_dy_transpose_fn)(const int32_t *src, int64_t out_ch, int64_t pixels, int64_t r0,
                                       int64_t rows, int w, int64_t q0, int64_t kpb, int32_t *dst);

/* A prefix of dfp_chanlast_from_chanpairs for one image pair (channels a
 * multiple of 16): pixel i's channel c pair = (a's, b's code c), b NULL: 0.
 * Returns the pixels done. */
typedef int64_t (*dfp_chanlast_pairs_fn)(int64_t channels, int64_t pix, const int32_t *a,
                                         const int32_t *b, int32_t *d);

/* A prefix of one channel's run in dfp_imgpairs_from_chanpairs: d[i] = (half
 * `odd` of a[i], half `odd` of b[i]), b NULL: 0. Returns the words done. */
typedef int64_t (*dfp_repair_run_fn)(const int32_t *a, const int32_t *b, int odd, int64_t n,
                                     int32_t *d);

/* A prefix of dfp_to_channel_last32: d[i * channels + c] = s[c * stride + i].
 * Returns the elements i done for every channel. */
typedef int64_t (*dfp_to_channel_last32_fn)(const int32_t *s, int64_t stride, int64_t n,
                                            int64_t channels, int32_t *d);

/* One input row of col2im at stride 1 (im2col.c): the taps' dcol rows summed
 * per input column, then added into the row. */
#define DFP_COL2IM_MAX_KW 16 /* kernel widths the row sums serve */
typedef struct dfp_col2im_row {
    const float *src[DFP_COL2IM_MAX_KW]; /* the taps' dcol rows, at this output row's start */
    int64_t first[DFP_COL2IM_MAX_KW], last[DFP_COL2IM_MAX_KW]; /* valid output columns */
    int64_t off[DFP_COL2IM_MAX_KW];      /* input column = output column + off */
    int64_t ow0, kw;
} dfp_col2im_row;

/* dst[i] += sum over taps k, in tap order from +0, of src[k][i - off[k] - ow0]
 * where i - off[k] is a valid output column of tap k; i < in_w. */
typedef void (*dfp_col2im_add_row_fn)(const dfp_col2im_row *r, int64_t in_w, float *dst);

/* One plane of the 2x2, stride 2, unpadded max pool (pool_f32.c): y and the
 * argmax (flat input index) of each output, taps in (h, w) order, a tap taken
 * when greater than the best so far or NaN. */
typedef void (*dfp_max2x2_plane_fn)(const dfp_pool2d_shape *s, int64_t oh_n, int64_t ow_n,
                                    const float *x, float *y, int32_t *arg);

typedef struct dfp_move_kernels {
    dfp_copy_taps_fn copy_taps;
    dfp_taps_gather_fn taps_gather;
    dfp_dy_transpose_fn dy_transpose;
    dfp_chanlast_pairs_fn chanlast_pairs;
    dfp_repair_run_fn repair_run;
    dfp_to_channel_last32_fn to_channel_last32;
    dfp_col2im_add_row_fn col2im_add_row;
    dfp_max2x2_plane_fn max2x2_plane;
} dfp_move_kernels;

void dfp_move_kernels_init_avx2(dfp_move_kernels *k);
void dfp_move_kernels_init_avx512(dfp_move_kernels *k);

#endif
