/* Lane masks for the AVX2 kernels' maskload / maskstore (AVX2 has no mask
 * registers): the 32-bit lanes i with lo <= i < hi set, the bounds clamped to
 * 0..8 first, so callers pass remaining counts as they are. */
#ifndef DFP_LANES_AVX2_H
#define DFP_LANES_AVX2_H

#include <immintrin.h>
#include <stdint.h>

static inline __m256i lanes_between_avx2(int64_t lo, int64_t hi)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    lo = lo < 0 ? 0 : lo > 8 ? 8 : lo;
    hi = hi < 0 ? 0 : hi > 8 ? 8 : hi;
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), lane),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}

/* The first n lanes (all 8 for n >= 8, none for n <= 0). */
static inline __m256i first_lanes_avx2(int64_t n) { return lanes_between_avx2(0, n); }

#endif
