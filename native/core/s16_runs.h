/* Scalar definitions of the int16 run kernels of the packer (int_kernels.h:
 * load_s16, absmax_s16) over [begin, n): the reference implementations and the
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

#endif
