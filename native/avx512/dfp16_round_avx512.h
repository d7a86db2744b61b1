/* DFP16 rounding of 16 lanes, shared by the AVX-512 quantisers (int_init_avx512.c,
 * quantize_pairs_avx512.c): the float operations of dfp16_round.h and the
 * random bits of rng_counter.h, so the codes match the scalar reference. */
#ifndef DFP_DFP16_ROUND_AVX512_H
#define DFP_DFP16_ROUND_AVX512_H

#include "dfp16_round.h"
#include "rng_avx512.h"

#include <immintrin.h>
#include <stdint.h>

/* Uniform [0,1) for elements index .. index+15 under lane key lk: the call's
 * indices share their high half (the quantisers send the others to the
 * scalar reference), so lk is computed once per call. */
static inline __m512 dfp16_uniform16(__m512i lk, uint64_t index)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i h = rng_bits_avx512(lk, _mm512_add_epi32(_mm512_set1_epi32((int)(uint32_t)index), lane));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(h, 8)), _mm512_set1_ps(0x1p-24f));
}

/* Round y = x / 2^e to an integer in the mode `rounding` (a constant in each
 * instantiation of a quantiser loop: no mode test inside it). */
static inline __m512 dfp16_round16(__m512 y, int rounding, __m512i lk, uint64_t index)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    if (rounding == DFP_ROUND_STOCHASTIC) {
        __m512 f = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __mmask16 up = _mm512_cmp_ps_mask(dfp16_uniform16(lk, index), _mm512_sub_ps(y, f), _CMP_LT_OQ);
        return _mm512_mask_add_ps(f, up, f, one);
    }
    if (rounding == DFP_ROUND_BIASED) {
        __m512 m = _mm512_abs_ps(y);
        __m512 t = _mm512_roundscale_ps(m, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        __mmask16 up = _mm512_cmp_ps_mask(_mm512_sub_ps(m, t), _mm512_set1_ps(0.25f), _CMP_GE_OQ);
        __m512 r = _mm512_mask_add_ps(t, up, t, one);
        __m512i sign = _mm512_and_si512(_mm512_castps_si512(y), _mm512_set1_epi32(INT32_MIN));
        return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
    }
    return _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/* The int32 codes of 16 values already scaled by 2^-e: rounded, clamped to
 * [-32767, 32767], the lanes clamped added to *sat (as dfp16_quantize_one);
 * sat NULL (a constant where this is inlined): not counted. */
static inline __m512i dfp16_codes16(__m512 y, int rounding, __m512i lk, uint64_t index, int64_t *sat)
{
    const __m512 hi = _mm512_set1_ps(DFP16_QMAX), lo = _mm512_set1_ps(-DFP16_QMAX);
    __m512 r = dfp16_round16(y, rounding, lk, index);
    if (sat)
        *sat += __builtin_popcount(_mm512_cmp_ps_mask(r, hi, _CMP_GT_OQ) | _mm512_cmp_ps_mask(r, lo, _CMP_LT_OQ));
    return _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(r, lo), hi));
}

#endif
