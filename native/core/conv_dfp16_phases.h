/* DFP16 BPROP of strided convolutions as stride-1 phase convolutions of dy
 * (conv_dfp16_bprop_phases.c). */
#ifndef DFP_CONV_DFP16_PHASES_H
#define DFP_CONV_DFP16_PHASES_H

#include "conv_dfp16_job.h"

/* Whether the shape takes this path (the shape only: the same on every ISA). */
int dfp_conv_dfp16_bprop_phases_applies(const dfp_conv_geom *g);
/* The zero border dy's channel-pair layout needs (rows, columns). */
void dfp_conv_dfp16_bprop_phase_border(const dfp_conv_geom *g, int64_t *ph, int64_t *pw);
/* dx from j->dy (channel-pair layout with that border) and j->w (OIHW codes). */
dfp_status dfp_conv_dfp16_bprop_phases(const conv_job *j, float *dx, int accumulate,
                                       dfp_gemm_stats *stats);

#endif
