/* Packers of the DFP16 convolution: im2col fused into VNNI panel packing.
 *
 * Direct (FPROP, stride-1 BPROP): the int16 input is first laid out as
 * channel pairs interleaved per pixel with a zero border,
 *   xp[n][cp][Hp][Wp][2] = x[n][2cp + t][ih - pad_h][iw - pad_w] (0 outside),
 * so the K pair q = (cp, kh, kw) of NR consecutive output pixels is a run of
 * 32-bit pairs in xp (contiguous for stride 1): packing a B panel is a copy.
 *
 * WTGRAD: K runs over images x output pixels; panels pair two images. */
#ifndef DFP_CONV_S16_PACK_H
#define DFP_CONV_S16_PACK_H

#include "dfpengine.h"
#include "im2col.h"
#include "int_kernels.h"

#include <stdint.h>

typedef struct dfp_pairs_layout {
    int64_t cp, hp, wp; /* channel pairs, padded height and width */
} dfp_pairs_layout;

dfp_pairs_layout dfp_pairs_layout_of(const dfp_conv_geom *g);

/* Weight panels for the direct conv: rows o (MR per panel), K pairs
 * q = (cp*KH + kh)*KW + kw holding (w[o][2cp][kh][kw], w[o][2cp+1][kh][kw]);
 * w is OIHW int16 with C = g->channels. Returns max |w|. panels must hold
 * ceil(o/mr) * kp * mr * 2 int16, kp = cp * KH * KW. */
int32_t dfp_pack_conv_weights(const dfp_conv_geom *g, int64_t out_ch, const int16_t *w, int mr,
                              int16_t *panels);

/* npan B panels (width nr, kp pairs each) for output pixels [p0, p0 + np) of
 * one image's xp (np <= npan * nr; columns past np are zero). */
void dfp_pack_conv_pixels(const dfp_conv_geom *g, const int16_t *xp_img, int64_t p0, int64_t np,
                          int nr, int16_t *panels);

/* WTGRAD operands pair two images at the same pixel (K pair = (image pair m,
 * output pixel)): xi[m][c][Hp][Wp][2] = x[2m + t][c][ih - pad_h][iw - pad_w]
 * (0 outside, and for the missing image of an odd batch), so the taps of one
 * pixel are 32-bit loads at fixed offsets from one base: no im2col, no bounds
 * checks. Same for dy with no padding: dyi[m][o][pixel][2]. */

/* Quantise FP32 NCHW x (batch x channels x h x w) with run (its index0 is
 * ignored: each element keeps its flat NCHW index) straight into the channel
 * pair layout xp (pair_images = 0; g = {channels, h, w, pad}) or the image pair
 * layout xi (pair_images = 1) with a zero border of pad_h rows and pad_w
 * columns. With bn (nullable) the values quantised are batch norm's output
 * from x (dfp_bn_relu_input: stored as floats only into bn->out). Returns the saturations (-1: out of memory); *qmax =
 * largest |q|; xmax_bits (nullable) gets the largest |value| as IEEE bits, sign
 * cleared (conv_s16_quant.c). */
int64_t dfp_quantize_plane_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                 int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                 const dfp_bn_relu_input *bn, const dfp_quant_run *run, int16_t *dst,
                                 int32_t *qmax, uint32_t *xmax_bits);

/* dfp_quantize_plane_pairs of a tensor with an even batch and channel count
 * into the channel pair layout xp (border pad_h, pad_w) and, from the same
 * pass, the image pair layout xi with no border (what WTGRAD reads), four planes
 * at a time; returns DFP_QUADS_NOT_APPLICABLE (nothing written) where the ISA
 * lacks the kernel, the counts are odd, or stochastic indices cross 2^32. */
#define DFP_QUADS_NOT_APPLICABLE (-2)
int64_t dfp_quantize_plane_quads(const float *x, int64_t batch, int64_t channels, int64_t h, int64_t w,
                                 int64_t pad_h, int64_t pad_w, const dfp_quant_run *run, int16_t *xp,
                                 int16_t *xi, int32_t *qmax, uint32_t *xmax_bits);

/* The image-pair layout (batch x channels planes of h x w with a border of
 * dst_ph, dst_pw) from the channel-pair layout xp of the same codes with a border
 * of src_ph >= dst_ph, src_pw >= dst_pw: the same codes, re-paired. */
void dfp_imgpairs_from_chanpairs(int64_t batch, int64_t channels, int64_t h, int64_t w,
                                 int64_t src_ph, int64_t src_pw, int64_t dst_ph, int64_t dst_pw,
                                 const int16_t *xp, int16_t *xi);

/* The image-pair layout with no border from NCHW int16 codes. */
void dfp_imgpairs_from_nchw(int64_t batch, int64_t channels, int64_t pixels, const int16_t *q,
                            int16_t *xi);

/* The channel-last image-pair layout xc[m][pixel][c][2] (32-bit pair per image
 * pair, pixel and channel) from xi[m][c][pixel][2]: per image pair, a transpose
 * of the channels x pix matrix of pairs (pix = hp * wp; threads take image pairs). */
void dfp_chanlast_from_imgpairs(int64_t pairs, int64_t channels, int64_t pix, const int16_t *xi,
                                int16_t *xc);

/* The same layout xc straight from the channel-pair layout xp of the same
 * tensor and border (the kept FPROP codes): no image-pair copy in between. */
void dfp_chanlast_from_chanpairs(int64_t batch, int64_t channels, int64_t pix, const int16_t *xp,
                                 int16_t *xc);

/* Panels over K pairs [q0, q0 + kpb) of q = m * pixels + p (m counted from the
 * image pair xi / dyi point at). A: rows o in [r0, r0 + rows), width w, from
 * dyi (out_ch rows). B: rows = taps r = (c, kh, kw) in [r0, r0 + rows) from xi. */
void dfp_pack_imgpairs_dy(const int16_t *dyi, int64_t out_ch, int64_t pixels, int64_t r0,
                          int64_t rows, int w, int64_t q0, int64_t kpb, int16_t *panel);
void dfp_pack_imgpairs_taps(const dfp_conv_geom *g, const int16_t *xi, int64_t r0, int64_t rows,
                            int w, int64_t q0, int64_t kpb, int16_t *panel);

#endif
