/* AVX-512 batch-norm plane sum (contract in fp32_kernels.h): 8 floats widened
 * to double per step, four independent accumulators of 8 doubles; the tail
 * goes through a masked load (masked-off lanes contribute 0). */
#include "fp32_kernels.h"

#include <immintrin.h>

static inline __m512d term(__m512d d, const float *y, int64_t i, __mmask8 m, int square)
{
    if (square)
        return _mm512_mul_pd(d, d);
    if (y)
        return _mm512_mul_pd(d, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y + i)));
    return d;
}

double dfp_sum_f64_avx512(const float *x, const float *y, int64_t n, double shift, int square)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), vs = _mm512_set1_pd(shift);
    __m512d s2 = _mm512_setzero_pd(), s3 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) { /* four chains: the add latency, not the loads, bound two */
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vs);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), vs);
        __m512d d2 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 16)), vs);
        __m512d d3 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 24)), vs);
        s0 = _mm512_add_pd(s0, term(d0, y, i, 0xff, square));
        s1 = _mm512_add_pd(s1, term(d1, y, i + 8, 0xff, square));
        s2 = _mm512_add_pd(s2, term(d2, y, i + 16, 0xff, square));
        s3 = _mm512_add_pd(s3, term(d3, y, i + 24, 0xff, square));
    }
    s0 = _mm512_add_pd(s0, s2);
    s1 = _mm512_add_pd(s1, s3);
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d d = _mm512_maskz_sub_pd(m, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i)), vs);
        s0 = _mm512_add_pd(s0, _mm512_maskz_mov_pd(m, term(d, y, i, m, square)));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}
