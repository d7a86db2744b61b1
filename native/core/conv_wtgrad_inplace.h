/* DFP16 WTGRAD reading the taps in place (conv_wtgrad_inplace.c). */
#ifndef DFP_CONV_WTGRAD_INPLACE_H
#define DFP_CONV_WTGRAD_INPLACE_H

#include "dfpengine.h"
#include "im2col.h"

#include <stdint.h>

/* Whether the in-place path serves g on the selected ISA (the VNNI in-place
 * micro-kernel with NR = 32, no dilation along rows, kernel rows of at least
 * 16 taps). x's channel-last layout
 * needs PAIRS_SLACK zero pairs past its end (conv_dfp16.c). */
int dfp_wtgrad_inplace_applies(const dfp_conv_geom *g);

/* dw (out_ch x C*KH*KW) = sa * sb * sum over K of dy . taps, from x in the
 * channel-last image-pair layout xc and dy in the image-pair layout dyi
 * (conv_s16_pack.h), slices of `per` image pairs, K
 * blocks of kc pairs, INT32 chunks of `chunk` pairs: the packed WTGRAD's
 * schedule. *flushes = flushes per output element. */
dfp_status dfp_wtgrad_inplace(const dfp_conv_geom *g, int64_t batch, int64_t out_ch,
                              const int16_t *xc, const int16_t *dyi, int64_t chunk, int64_t kc,
                              int64_t per, float sa, float sb, float *dw, int64_t *flushes);

#endif
