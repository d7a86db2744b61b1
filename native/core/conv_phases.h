/* Strided BPROP as stride-1 "phase" convolutions (conv2d_f32_bprop_phases.c,
 * conv_dfp16_bprop_phases.c): with row stride s, input row s*u + a receives the
 * kernel rows kh = a + pad (mod s) only, from dy row u + (a + pad - kh) / s. The
 * geometry of those phases and the interleave of their output planes into dx,
 * shared by the FP32 and DFP16 paths (conv_phases.c). */
#ifndef DFP_CONV_PHASES_H
#define DFP_CONV_PHASES_H

#include "im2col.h"

#include <stdint.h>

#define DFP_PHASE_MAX_STRIDE 4
#define DFP_PHASE_MAX_TAPS 16

/* The taps of phase a along one dimension: kernel index k[i], dy offset d[i]. */
typedef struct dfp_phase_taps {
    int n;
    int64_t k[DFP_PHASE_MAX_TAPS], d[DFP_PHASE_MAX_TAPS];
} dfp_phase_taps;

dfp_phase_taps dfp_phase_taps_of(int64_t a, int64_t pad, int64_t stride, int64_t kernel);

/* One phase's output grid within the per-image phase planes: rows x cols at
 * offset plane (per channel, channel c's planes start at c * in_h * in_w). */
typedef struct dfp_phase_plane {
    int64_t rows, cols, plane;
} dfp_phase_plane;

/* dx of one image from its phase planes (phases a-major, stride_w per row of
 * phases): input row s*u + a is the rows u of phases (a, b), column by column.
 * accumulate: added to dx instead of overwriting it. */
void dfp_phase_interleave(const dfp_conv_geom *g, const dfp_phase_plane *phases, const float *planes,
                          float *dx, int accumulate);

#endif
