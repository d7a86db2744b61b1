/* AVX2 integer kernels.
 *
 * igemm_s16 3x16 contract (see int_kernels.h): a = kp pairs x 3 rows x 2 int16,
 * b = kp pairs x 16 cols x 2 int16 (two ymm of 8 column pairs), c = 3 x 16
 * floats. vpmaddwd + vpaddd give the same INT32 chunk sums as the scalar
 * reference (operands never hold -32768, so vpmaddwd cannot wrap); each chunk is
 * flushed c += (float)isum. Registers: 6 INT32 + 6 FP32 accumulators, 2 B, 1 A.
 *
 * Quantisers: 8 lanes per step, the same float operations and random bits as
 * dfp16_round.h / rng_counter.h; tails use the scalar reference. */
#include "int_kernels.h"
#include "dfp16_round.h"
#include "rng_avx2.h"

#include <immintrin.h>
#include <string.h>

#define MR 3
#define NR 16

static inline __m256i bcast_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* The kernel body: B from a packed panel (off == NULL: pair p at b + p * 32) or
 * read in place (pair p: one run of 16 pairs at runs[0] + off[p], or two runs
 * of 8 at runs[0..1] + off[p]); always inlined, so each entry point is compiled
 * for its own case. */
static inline __attribute__((always_inline)) void
igemm_body(int64_t kp, int64_t chunk, const int16_t *a, const int16_t *b, const int16_t *const *runs,
           int run16, const int64_t *off, float *c, int64_t ldc, int accumulate)
{
    __m256 f[MR][2];
    __m256i s[MR][2];
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++) {
        f[i][0] = accumulate ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
        f[i][1] = accumulate ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
    }
    for (int64_t p0 = 0; p0 < kp; p0 += chunk) {
        int64_t p1 = p0 + chunk < kp ? p0 + chunk : kp;
#pragma GCC unroll 3
        for (int i = 0; i < MR; i++)
            s[i][0] = s[i][1] = _mm256_setzero_si256();
        for (int64_t p = p0; p < p1; p++) {
            const int16_t *ap = a + p * MR * 2;
            __m256i b0, b1;
            if (off && run16) {
                b0 = _mm256_loadu_si256((const __m256i *)(runs[0] + off[p]));
                b1 = _mm256_loadu_si256((const __m256i *)(runs[0] + off[p] + 16));
            } else if (off) {
                b0 = _mm256_loadu_si256((const __m256i *)(runs[0] + off[p]));
                b1 = _mm256_loadu_si256((const __m256i *)(runs[1] + off[p]));
            } else {
                b0 = _mm256_load_si256((const __m256i *)(b + p * NR * 2));
                b1 = _mm256_load_si256((const __m256i *)(b + p * NR * 2 + 16));
            }
#pragma GCC unroll 3
            for (int i = 0; i < MR; i++) {
                __m256i av = bcast_pair(ap + 2 * i);
                s[i][0] = _mm256_add_epi32(s[i][0], _mm256_madd_epi16(av, b0));
                s[i][1] = _mm256_add_epi32(s[i][1], _mm256_madd_epi16(av, b1));
            }
        }
#pragma GCC unroll 3
        for (int i = 0; i < MR; i++) {
            f[i][0] = _mm256_add_ps(f[i][0], _mm256_cvtepi32_ps(s[i][0]));
            f[i][1] = _mm256_add_ps(f[i][1], _mm256_cvtepi32_ps(s[i][1]));
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(c + i * ldc, f[i][0]);
        _mm256_storeu_ps(c + i * ldc + 8, f[i][1]);
    }
}

static void igemm_s16_avx2_3x16(int64_t kp, int64_t chunk, const int16_t *a, const int16_t *b,
                                float *c, int64_t ldc, int accumulate)
{
    igemm_body(kp, chunk, a, b, NULL, 0, NULL, c, ldc, accumulate);
}

/* The direct convolutions' kernel (contract in int_kernels.h, here 16 columns):
 * B read in place from the pairs image at the taps' offsets, no pixel packing. */
static void igemm_s16_inplace_avx2_3x16(int64_t kp, int64_t chunk, const int16_t *a,
                                        const int16_t *const *runs, int run, const int64_t *off,
                                        float *c, int64_t ldc, int accumulate)
{
    if (run == 16)
        igemm_body(kp, chunk, a, NULL, runs, 1, off, c, ldc, accumulate);
    else
        igemm_body(kp, chunk, a, NULL, runs, 0, off, c, ldc, accumulate);
}

/* Uniform [0,1) for elements index .. index+7 under lane key lk (computed once
 * per call: quantize_s16_avx2 sends calls whose indices do not share their
 * high half to the scalar steps). */
static inline __m256 uniform_v(__m256i lk, uint64_t index)
{
    __m256i lo = _mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)index), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i h = rng_bits_avx2(lk, lo);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(h, 8)), _mm256_set1_ps(0x1p-24f));
}

static inline __m256 round_v(__m256 y, const dfp_quant_run *run, __m256i lk, uint64_t index)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    if (run->rounding == DFP_ROUND_STOCHASTIC) {
        __m256 f = _mm256_floor_ps(y);
        __m256 up = _mm256_cmp_ps(uniform_v(lk, index), _mm256_sub_ps(y, f), _CMP_LT_OQ);
        return _mm256_add_ps(f, _mm256_and_ps(up, one));
    }
    if (run->rounding == DFP_ROUND_BIASED) {
        const __m256 sign = _mm256_set1_ps(-0.0f);
        __m256 m = _mm256_andnot_ps(sign, y), t = _mm256_floor_ps(m);
        __m256 up = _mm256_cmp_ps(_mm256_sub_ps(m, t), _mm256_set1_ps(0.25f), _CMP_GE_OQ);
        __m256 r = _mm256_add_ps(t, _mm256_and_ps(up, one));
        return _mm256_or_ps(r, _mm256_and_ps(sign, y));
    }
    return _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

static int64_t quantize_s16_avx2(const float *x, int64_t n, const dfp_quant_run *run, int16_t *q)
{
    const __m256 inv = _mm256_set1_ps(run->inv_scale);
    const __m256 hi = _mm256_set1_ps(DFP16_QMAX), lo = _mm256_set1_ps(-DFP16_QMAX);
    const __m256i lk = _mm256_set1_epi32((int)dfp_rng_lane_key(run->key_lo, run->key_hi,
                                                               (uint32_t)(run->index0 >> 32)));
    if (run->rounding == DFP_ROUND_STOCHASTIC && run->index0 >> 32 != (run->index0 + (uint64_t)n) >> 32)
        return dfp16_quantize_span(x, 0, n, run, q); /* high half not shared */
    int64_t sat = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 r = round_v(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), run, lk, run->index0 + (uint64_t)i);
        __m256 out = _mm256_or_ps(_mm256_cmp_ps(r, hi, _CMP_GT_OQ), _mm256_cmp_ps(r, lo, _CMP_LT_OQ));
        sat += __builtin_popcount((unsigned)_mm256_movemask_ps(out));
        __m256i v = _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
        __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storeu_si128((__m128i *)(q + i), packed);
    }
    return sat + dfp16_quantize_span(x, i, n, run, q);
}

static void dequantize_s16_avx2(const int16_t *q, int64_t n, float scale, float *x)
{
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i v = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(q + i)));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s));
    }
    for (; i < n; i++)
        x[i] = (float)q[i] * scale;
}

static uint32_t absmax_bits_avx2(const float *x, int64_t n)
{
    const __m256i mask = _mm256_set1_epi32(0x7fffffff);
    __m256i m = _mm256_setzero_si256();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(x + i)), mask));
    uint32_t lanes[8], r = 0;
    _mm256_storeu_si256((__m256i *)lanes, m);
    for (int j = 0; j < 8; j++)
        r = lanes[j] > r ? lanes[j] : r;
    for (; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, 4);
        b &= 0x7fffffffU;
        r = b > r ? b : r;
    }
    return r;
}

void dfp_int_kernels_init_avx2(dfp_int_kernels *k)
{
    k->mr = MR;
    k->nr = NR;
    k->igemm_s16 = igemm_s16_avx2_3x16;
    k->igemm_s16_inplace = igemm_s16_inplace_avx2_3x16;
    k->igemm_s16_inplace_wide = NULL;
    k->igemm_s16_arows = NULL;
    k->quantize_s16 = quantize_s16_avx2;
    k->dequantize_s16 = dequantize_s16_avx2;
    k->absmax_bits = absmax_bits_avx2;
    dfp_pack_s16_kernels_init_avx2(k); /* pack_s16_avx2.c */
}
