/* Internal job of the DFP16 convolution (conv_dfp16_job.c): the shape, the
 * quantised operands and the quantisers into the plane-pair layouts of
 * conv_s16_pack.h, shared by FPROP/BPROP (conv_dfp16.c) and WTGRAD
 * (conv_dfp16_wtgrad.c). */
#ifndef DFP_CONV_DFP16_JOB_H
#define DFP_CONV_DFP16_JOB_H

#include "dfpengine.h"
#include "im2col.h"

#include <math.h>
#include <stdint.h>

typedef struct qtensor {
    int16_t *q;
    int32_t e;
    int32_t max_abs; /* largest |q|: sets the chunk length */
    int64_t ns;      /* time spent quantising it and changing its layout */
    int64_t count;   /* FP32 elements quantised into it */
} qtensor;

typedef struct conv_job {
    dfp_conv_geom g;
    int64_t batch, out_ch, ckk, pixels, in_pixels;
    qtensor x, w, dy;
    int x_chanlast; /* WTGRAD: x.q is the channel-last layout xc, not xi */
} conv_job;

/* Pairs past the end of a layout that the direct conv or the in-place WTGRAD
 * may read (never use): rows padded to a multiple of 16 output pixels, or a
 * kernel row's last block of 32 taps, run on past the last row. Kept zero. */
#define PAIRS_SLACK 32

/* 2^e for a DFP16 exponent (always a normal float: e in [-126, 127]). */
static inline float dfp_pow2f(int32_t e) { return ldexpf(1.0f, e); }

int dfp_conv_params_valid(const dfp_dfp16_params *p);
/* Monotonic clock in nanoseconds: the stats' quantisation time. */
int64_t dfp_clock_ns(void);
/* Chunk and K block of a conv whose A operand is packed weights (rows x kp
 * pairs in panels of width mr, largest |w| wmax) against activations or
 * gradients of largest |value| other_max: from the weights' row sums. */
dfp_status dfp_conv_weight_chunking(const int16_t *wp, int mr, int64_t kp, int64_t rows, int32_t wmax,
                                    int32_t other_max, int64_t *chunk, int64_t *kc);
/* Adds the job's quantisation and re-layout time and count to stats (nullable). */
void dfp_conv_add_quant_stats(const conv_job *j, dfp_gemm_stats *stats);
dfp_status dfp_conv_make_job(const dfp_conv2d_shape *s, conv_job *j);
/* Gives the job's owned operand buffers back to the scratch cache. */
void dfp_conv_free_job(conv_job *j);

/* int16 elements of a plane-pair layout of batch x channels planes of h x w
 * with a border of pad_h, pad_w (channel pairs, or image pairs), slack included. */
int64_t dfp_conv_pairs_size(int64_t batch, int64_t channels, int64_t h, int64_t w, int64_t pad_h,
                            int64_t pad_w, int pair_images);
/* A flat tensor quantised per tensor into a new buffer owned by t. */
dfp_status dfp_conv_quantize_tensor(const float *x, int64_t n, const dfp_dfp16_params *p, qtensor *t,
                                    int64_t *sat);
/* x (batch x channels x h x w) quantised per tensor straight into a plane-pair
 * layout with a zero border: channel pairs for the direct conv, image pairs for
 * WTGRAD; into `into` when given, else into a new buffer owned by t. With
 * bn (nullable): the tensor quantised is batch norm's output from x
 * (dfp_bn_relu_input, dfp_quantize_plane_pairs). */
dfp_status dfp_conv_quantize_pairs(const float *x, int64_t batch, int64_t channels, int64_t h,
                                   int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                   const dfp_bn_relu_input *bn, const dfp_dfp16_params *p,
                                   qtensor *t, int64_t *sat, int16_t *into);
/* The same into the channel pair layout (pair_images 0, no bn), and from the same
 * pass, where the quad kernel applies, the image pair layout without border into
 * imgpairs (*imgpairs_done = 1; else 0 and imgpairs untouched). */
dfp_status dfp_conv_quantize_both_layouts(const float *x, int64_t batch, int64_t channels, int64_t h,
                                        int64_t w, int64_t pad_h, int64_t pad_w, int pair_images,
                                        const dfp_bn_relu_input *bn,
                                        const dfp_dfp16_params *p, qtensor *t, int64_t *sat, int16_t *into,
                                        int16_t *imgpairs, int *imgpairs_done);

/* The WTGRAD partials of nslices slices (slice s at part + s * part_len, row o
 * at o * ldp) summed in slice order and scaled: dw[o][r] = (sum_s part[s][o][col[r]])
 * * sa * sb for r < ckk (col NULL: col[r] = r). */
void dfp_wtgrad_sum_slices(const float *part, int64_t nslices, int64_t part_len, int64_t out_ch,
                           int64_t ldp, int64_t ckk, const int64_t *col, float sa, float sb, float *dw);

#endif
