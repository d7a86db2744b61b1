/* The counter-based generator of rng_counter.h on 16 lanes: the same 32-bit
 * steps, so the same bits. A loop whose indices share their high half computes
 * the lane key once (rng_lane_key_avx512) and then pays one mixer round per
 * draw (rng_bits_avx512). */
#ifndef DFP_RNG_AVX512_H
#define DFP_RNG_AVX512_H

#include <immintrin.h>
#include <stdint.h>

/* x >> 16 in every 32-bit lane as a byte shuffle: the same bits, on the
 * shuffle port instead of port 0, where the mixer's multiplies run. */
static inline __m512i rng_srl16_avx512(__m512i x)
{
    const __m512i ctl = _mm512_set4_epi32((int)0x80800f0eu, (int)0x80800b0au, (int)0x80800706u,
                                          (int)0x80800302u);
    return _mm512_shuffle_epi8(x, ctl);
}

/* dfp_mix32 after its first step x ^= x >> 16. */
static inline __m512i rng_mix32_tail_avx512(__m512i x)
{
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int)0x7feb352du));
    x = _mm512_xor_si512(x, _mm512_srli_epi32(x, 15));
    x = _mm512_mullo_epi32(x, _mm512_set1_epi32((int)0x846ca68bu));
    return _mm512_xor_si512(x, rng_srl16_avx512(x));
}

/* dfp_rng_lane_key per lane, for the high halves hi. */
static inline __m512i rng_lane_key_avx512(uint64_t key, __m512i hi)
{
    __m512i x = _mm512_xor_si512(hi, _mm512_set1_epi32((int)(uint32_t)(key >> 32)));
    x = rng_mix32_tail_avx512(_mm512_xor_si512(x, rng_srl16_avx512(x)));
    return _mm512_xor_si512(x, _mm512_set1_epi32((int)(uint32_t)key));
}

/* dfp_rng_bits for the low halves lo under the lane keys lk. The first step
 * (lo ^ lk) ^ (lo ^ lk) >> 16 is lo ^ lo >> 16 ^ (lk ^ lk >> 16): one three-way
 * XOR with a term that is loop-invariant wherever lk is. */
static inline __m512i rng_bits_avx512(__m512i lk, __m512i lo)
{
    return rng_mix32_tail_avx512(_mm512_ternarylogic_epi32(
        lo, rng_srl16_avx512(lo), _mm512_xor_si512(lk, rng_srl16_avx512(lk)), 0x96));
}

/* dfp_rng_bits of the indices with halves (lo, hi), 64-bit key. */
static inline __m512i rng_u32_avx512(uint64_t key, __m512i lo, __m512i hi)
{
    return rng_bits_avx512(rng_lane_key_avx512(key, hi), lo);
}

#endif
