/* AVX-512 batch-norm plane sums (contract in fp32_kernels.h): 8 floats
 * widened to double per step; two independent accumulator pairs of 8 doubles
 * per sum; the tail goes through a masked load (masked-off lanes contribute 0).
 * The fused BN + ReLU variant masks dy by y > 0 and stores it, then sums in
 * exactly this order (so it equals dfp_sum2_f64_avx512 over the stored g). */
#include "fp32_kernels.h"

#include <immintrin.h>

/* v = y (given) or d; s += v; q += d * v */
static inline void step(__m512d d, const float *y, int64_t i, __mmask8 m, __m512d *s, __m512d *q)
{
    __m512d v = y ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y + i)) : d;
    *s = _mm512_add_pd(*s, v);
    *q = _mm512_add_pd(*q, _mm512_mul_pd(d, v));
}

void dfp_sum2_f64_avx512(const float *x, const float *y, int64_t n, double shift, double out[2])
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), vs = _mm512_set1_pd(shift);
    __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vs);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), vs);
        step(d0, y, i, 0xff, &s0, &q0);
        step(d1, y, i + 8, 0xff, &s1, &q1);
    }
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d d = _mm512_maskz_sub_pd(m, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i)), vs);
        step(d, y, i, m, &s0, &q0);
    }
    out[0] = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    out[1] = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

/* g = y > 0 ? dy : 0 over the lanes of m (stored), widened to double */
static inline __m512d relu_grad(const float *dy, const float *y, float *g, int64_t i, __mmask8 m)
{
    __m256 vy = _mm256_maskz_loadu_ps(m, y + i);
    __mmask8 pos = _mm256_mask_cmp_ps_mask(m, vy, _mm256_setzero_ps(), _CMP_GT_OQ);
    __m256 v = _mm256_maskz_loadu_ps(pos, dy + i);
    _mm256_mask_storeu_ps(g + i, m, v);
    return _mm512_cvtps_pd(v);
}

void dfp_relu_sum2_f64_avx512(const float *x, const float *dy, const float *y, int64_t n, double shift,
                              float *g, double out[2])
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), vs = _mm512_set1_pd(shift);
    __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vs);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), vs);
        __m512d v0 = relu_grad(dy, y, g, i, 0xff), v1 = relu_grad(dy, y, g, i + 8, 0xff);
        s0 = _mm512_add_pd(s0, v0);
        q0 = _mm512_add_pd(q0, _mm512_mul_pd(d0, v0));
        s1 = _mm512_add_pd(s1, v1);
        q1 = _mm512_add_pd(q1, _mm512_mul_pd(d1, v1));
    }
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d d = _mm512_maskz_sub_pd(m, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i)), vs);
        __m512d v = relu_grad(dy, y, g, i, m);
        s0 = _mm512_add_pd(s0, v);
        q0 = _mm512_add_pd(q0, _mm512_mul_pd(d, v));
    }
    out[0] = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    out[1] = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}
