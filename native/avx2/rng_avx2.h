/* The counter-based generator of rng_counter.h on 8 lanes: the same 32-bit
 * steps, so the same bits (see native/avx512/rng_avx512.h). */
#ifndef DFP_RNG_AVX2_H
#define DFP_RNG_AVX2_H

#include <immintrin.h>
#include <stdint.h>

static inline __m256i rng_mix32_avx2(__m256i x)
{
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x7feb352du));
    x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15));
    x = _mm256_mullo_epi32(x, _mm256_set1_epi32((int)0x846ca68bu));
    return _mm256_xor_si256(x, _mm256_srli_epi32(x, 16));
}

/* dfp_rng_lane_key per lane, for the high halves hi. */
static inline __m256i rng_lane_key_avx2(uint64_t key, __m256i hi)
{
    __m256i x = rng_mix32_avx2(_mm256_xor_si256(hi, _mm256_set1_epi32((int)(uint32_t)(key >> 32))));
    return _mm256_xor_si256(x, _mm256_set1_epi32((int)(uint32_t)key));
}

/* dfp_rng_bits for the low halves lo under the lane keys lk. */
static inline __m256i rng_bits_avx2(__m256i lk, __m256i lo)
{
    return rng_mix32_avx2(_mm256_xor_si256(lo, lk));
}

static inline __m256i rng_u32_avx2(uint64_t key, __m256i lo, __m256i hi)
{
    return rng_bits_avx2(rng_lane_key_avx2(key, hi), lo);
}

#endif
