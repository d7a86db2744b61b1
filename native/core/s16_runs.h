/* Scalar definitions of the int16 run kernels of the packer (int_kernels.h:
 * load_s16, absmax_s16, l1_groups_s16) over [begin, n): the reference implementations and the
 * tails of their SIMD versions. */
#ifndef DFP_S16_RUNS_H
#define DFP_S16_RUNS_H

#include <stdint.h>

/* Copy with -32768 clamped to -32767; adds the clamped count to *clamped and
 * returns max(m, largest |value| copied). */
static inline int32_t dfp_load_s16_span(const int16_t *src, int64_t begin, int64_t n, int16_t *dst,
                                        int32_t m, int64_t *clamped)
{
    for (int64_t i = begin; i < n; i++) {
        int16_t v = src[i];
        *clamped += v == INT16_MIN;
        v = v == INT16_MIN ? (int16_t)-32767 : v;
        dst[i] = v;
        int32_t a = v < 0 ? -(int32_t)v : v;
        m = a > m ? a : m;
    }
    return m;
}

/* max(m, largest |v[i]|) (|-32768| = 32768) */
static inline int32_t dfp_absmax_s16_span(const int16_t *v, int64_t begin, int64_t n, int32_t m)
{
    for (int64_t i = begin; i < n; i++) {
        int32_t a = v[i] < 0 ? -(int32_t)v[i] : v[i];
        m = a > m ? a : m;
    }
    return m;
}

/* out[j] += |v[16 j]| + ... + |v[16 j + 15]| for groups [begin, ngroups) (values
 * are never -32768: the GEMM operands' contract) */
static inline void dfp_l1_groups_s16_span(const int16_t *v, int64_t begin, int64_t ngroups, int32_t *out)
{
    for (int64_t j = begin; j < ngroups; j++) {
        int32_t s = 0;
        for (int t = 0; t < 16; t++)
            s += v[16 * j + t] < 0 ? -(int32_t)v[16 * j + t] : v[16 * j + t];
        out[j] += s;
    }
}

/* The panel group sums (dfp_l1_groups_panel_s16_fn) of groups [begin, ceil(kp / 8)). */
static inline void dfp_l1_groups_panel_span(const int16_t *pan, int w, int64_t kp, int64_t begin, int32_t *sums)
{
    for (int64_t g = begin; g * 8 < kp; g++)
        for (int i = 0; i < w; i++) {
            int32_t s = 0;
            for (int64_t q = g * 8; q < g * 8 + 8 && q < kp; q++)
                for (int t = 0; t < 2; t++) {
                    int16_t v = pan[(q * w + i) * 2 + t];
                    s += v < 0 ? -(int32_t)v : v;
                }
            sums[g * w + i] = s;
        }
}

#endif
