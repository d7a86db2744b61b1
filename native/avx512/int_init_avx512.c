/* AVX-512 (F/BW/VL/DQ) integer kernels.
 *
 * igemm_s16 6x32 contract: as the VNNI kernel (a = kp pairs x 6 x 2 int16,
 * b = kp pairs x 32 x 2 int16, c = 6 x 32 floats), with vpmaddwd + vpaddd in
 * place of vpdpwssd. vpmaddwd's only wrapping case (both pairs -32768) cannot
 * occur: operands are in [-32767, 32767]. Same INT32 sums, same flushes.
 *
 * Quantisers: 16 lanes per step, the same float operations as dfp16_round.h
 * (exact scaling, floor/compare or round-to-nearest-even, clamp) and the same
 * counter-based random bits (rng_counter.h), so every int16 matches the scalar
 * reference; tails go through the scalar reference itself. */
#include "int_kernels.h"
#include "dfp16_round.h"
#include "dfp16_round_avx512.h"

#include <immintrin.h>
#include <string.h>

#define MR 8
#define NR 32

/* Flush one INT32 chunk sum into the FP32 tile: c += (float)s. */
static inline void flush(float *c, __m512i s)
{
    _mm512_storeu_ps(c, _mm512_add_ps(_mm512_loadu_ps(c), _mm512_cvtepi32_ps(s)));
}

static inline __m512i bcast_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static void igemm_s16_avx512_8x32(int64_t kp, int64_t chunk, const int16_t *a,
                                  const int16_t *b, float *c, int64_t ldc, int accumulate)
{
    if (!accumulate)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j += 16)
                _mm512_storeu_ps(c + i * ldc + j, _mm512_setzero_ps());
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        const int16_t *ap = a + p0 * MR * 2, *bp = b + p0 * NR * 2;
        int64_t n = p0 + chunk < kp ? chunk : kp - p0;
        __m512i s00 = _mm512_setzero_si512(), s01 = _mm512_setzero_si512(), s10 = _mm512_setzero_si512(),
                s11 = _mm512_setzero_si512(), s20 = _mm512_setzero_si512(), s21 = _mm512_setzero_si512(),
                s30 = _mm512_setzero_si512(), s31 = _mm512_setzero_si512(), s40 = _mm512_setzero_si512(),
                s41 = _mm512_setzero_si512(), s50 = _mm512_setzero_si512(), s51 = _mm512_setzero_si512(),
                s60 = _mm512_setzero_si512(), s61 = _mm512_setzero_si512(), s70 = _mm512_setzero_si512(),
                s71 = _mm512_setzero_si512();
        for (int64_t p = 0; p < n; p++, ap += MR * 2, bp += NR * 2) {
            __m512i b0 = _mm512_load_si512((const void *)bp);
            __m512i b1 = _mm512_load_si512((const void *)(bp + 32));
            __m512i av;
            av = bcast_pair(ap + 0);
            s00 = _mm512_add_epi32(s00, _mm512_madd_epi16(av, b0));
            s01 = _mm512_add_epi32(s01, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 2);
            s10 = _mm512_add_epi32(s10, _mm512_madd_epi16(av, b0));
            s11 = _mm512_add_epi32(s11, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 4);
            s20 = _mm512_add_epi32(s20, _mm512_madd_epi16(av, b0));
            s21 = _mm512_add_epi32(s21, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 6);
            s30 = _mm512_add_epi32(s30, _mm512_madd_epi16(av, b0));
            s31 = _mm512_add_epi32(s31, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 8);
            s40 = _mm512_add_epi32(s40, _mm512_madd_epi16(av, b0));
            s41 = _mm512_add_epi32(s41, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 10);
            s50 = _mm512_add_epi32(s50, _mm512_madd_epi16(av, b0));
            s51 = _mm512_add_epi32(s51, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 12);
            s60 = _mm512_add_epi32(s60, _mm512_madd_epi16(av, b0));
            s61 = _mm512_add_epi32(s61, _mm512_madd_epi16(av, b1));
            av = bcast_pair(ap + 14);
            s70 = _mm512_add_epi32(s70, _mm512_madd_epi16(av, b0));
            s71 = _mm512_add_epi32(s71, _mm512_madd_epi16(av, b1));
        }
        flush(c + 0 * ldc + 0, s00);
        flush(c + 0 * ldc + 16, s01);
        flush(c + 1 * ldc + 0, s10);
        flush(c + 1 * ldc + 16, s11);
        flush(c + 2 * ldc + 0, s20);
        flush(c + 2 * ldc + 16, s21);
        flush(c + 3 * ldc + 0, s30);
        flush(c + 3 * ldc + 16, s31);
        flush(c + 4 * ldc + 0, s40);
        flush(c + 4 * ldc + 16, s41);
        flush(c + 5 * ldc + 0, s50);
        flush(c + 5 * ldc + 16, s51);
        flush(c + 6 * ldc + 0, s60);
        flush(c + 6 * ldc + 16, s61);
        flush(c + 7 * ldc + 0, s70);
        flush(c + 7 * ldc + 16, s71);
    }
}

/* 16 values from x + i quantised into q + i; returns the saturated count. */
static inline int64_t quantize16(const float *x, int64_t i, int rounding, const dfp_quant_run *run,
                                 __m512i lk, int16_t *q)
{
    int64_t sat = 0;
    __m512i c = dfp16_codes16(_mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(run->inv_scale)), rounding,
                              lk, run->index0 + (uint64_t)i, &sat);
    _mm256_storeu_si256((__m256i *)(q + i), _mm512_cvtepi32_epi16(c));
    return sat;
}

/* Two independent vectors per step: the generator's multiply chain is long. */
static inline __attribute__((always_inline)) int64_t
quantize_mode(const float *x, int64_t n, int rounding, const dfp_quant_run *run, int16_t *q)
{
    const __m512i lk = _mm512_set1_epi32((int)dfp_rng_lane_key(run->key_lo, run->key_hi,
                                                               (uint32_t)(run->index0 >> 32)));
    int64_t sat = 0, i = 0;
    for (; i + 32 <= n; i += 32)
        sat += quantize16(x, i, rounding, run, lk, q) + quantize16(x, i + 16, rounding, run, lk, q);
    for (; i + 16 <= n; i += 16)
        sat += quantize16(x, i, rounding, run, lk, q);
    return sat + dfp16_quantize_span(x, i, n, run, q);
}

static int64_t quantize_s16_avx512(const float *x, int64_t n, const dfp_quant_run *run, int16_t *q)
{
    switch (run->rounding) {
    case DFP_ROUND_STOCHASTIC:
        if (run->index0 >> 32 != (run->index0 + (uint64_t)n) >> 32) /* high half not shared */
            return dfp16_quantize_span(x, 0, n, run, q);
        return quantize_mode(x, n, DFP_ROUND_STOCHASTIC, run, q);
    case DFP_ROUND_BIASED:
        return quantize_mode(x, n, DFP_ROUND_BIASED, run, q);
    default:
        return quantize_mode(x, n, DFP_ROUND_NEAREST, run, q);
    }
}

static void dequantize_s16_avx512(const int16_t *q, int64_t n, float scale, float *x)
{
    const __m512 s = _mm512_set1_ps(scale);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(q + i)));
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_cvtepi32_ps(v), s));
    }
    for (; i < n; i++)
        x[i] = (float)q[i] * scale;
}

static uint32_t absmax_bits_avx512(const float *x, int64_t n)
{
    const __m512i mask = _mm512_set1_epi32(0x7fffffff);
    __m512i m = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        m = _mm512_max_epu32(m, _mm512_and_si512(_mm512_loadu_si512(x + i), mask));
    uint32_t r = _mm512_reduce_max_epu32(m);
    for (; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, 4);
        b &= 0x7fffffffU;
        r = b > r ? b : r;
    }
    return r;
}

void dfp_int_kernels_init_avx512(dfp_int_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    k->igemm_s16 = igemm_s16_avx512_8x32;
    k->igemm_s16_inplace = NULL; /* not written for vpmaddwd: the conv packs */
    k->igemm_s16_inplace_wide = NULL;
    k->igemm_s16_arows = NULL;
    k->quantize_s16 = quantize_s16_avx512;
    k->dequantize_s16 = dequantize_s16_avx512;
    k->absmax_bits = absmax_bits_avx512;
    dfp_pack_s16_kernels_init_avx512(k);
    dfp_quantize_pairs_kernels_init_avx512(k);
}
