/* Batch norm's per-plane sums (norm_act_f32.c), for whoever holds the planes:
 * batch_norm_stats, and the conv forwards that sum their output while it is
 * still in cache (y_sums), for dfp_batch_norm_stats_from_planes_f32. */
#ifndef DFP_BN_PLANE_SUMS_H
#define DFP_BN_PLANE_SUMS_H

#include <stdint.h>

/* For each of `planes` planes of hw floats at x: sums[3 p ..] = (s, sum of
 * (x - s), sum of (x - s)^2), s the plane's first value; double sums in the
 * order of the selected ISA's sum2_f64 kernel. */
void dfp_bn_plane_sums(const float *x, int64_t planes, int64_t hw, double *sums);
/* The same over a whole tensor's planes, thread-parallel (a pass over memory:
 * where the planes are not in cache any more). */
void dfp_bn_plane_sums_par(const float *x, int64_t planes, int64_t hw, double *sums);

#endif
