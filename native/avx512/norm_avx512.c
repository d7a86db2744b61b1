/* AVX-512 batch-norm plane sums (contract in fp32_kernels.h): 8 floats
 * widened to double per step; two independent accumulator pairs of 8 doubles
 * per sum; the tail goes through a masked load (masked-off lanes contribute 0).
 * The fused BN + ReLU variant masks dy by y > 0 and stores it, then sums in
 * exactly this order (so it equals dfp_sum2_f64_avx512 over the stored g). */
#include "fp32_kernels.h"

#include <immintrin.h>

/* g = z > 0 ? dy : 0 over the lanes of m (stored when g is given), widened to
 * double; z is y, or with y NULL x * a + b (product, then sum: the forward's z) */
static inline __m512d relu_grad(const float *x, const float *dy, const float *y, float a, float b,
                                float *g, int64_t i, __mmask8 m)
{
    __m256 z = y ? _mm256_maskz_loadu_ps(m, y + i)
                 : _mm256_add_ps(_mm256_mul_ps(_mm256_maskz_loadu_ps(m, x + i), _mm256_set1_ps(a)),
                                 _mm256_set1_ps(b));
    __mmask8 pos = _mm256_mask_cmp_ps_mask(m, z, _mm256_setzero_ps(), _CMP_GT_OQ);
    __m256 v = _mm256_maskz_loadu_ps(pos, dy + i);
    if (g)
        _mm256_mask_storeu_ps(g + i, m, v);
    return _mm512_cvtps_pd(v);
}

/* The value summed at lanes i .. i+7 (mask m): y (given), d itself (y NULL),
 * or with relu the masked gradient (relu_grad, which may also store g). */
static inline __m512d value(__m512d d, const float *x, const float *y, const float *dy, float a, float b,
                            float *g, int relu, int64_t i, __mmask8 m)
{
    if (relu)
        return relu_grad(x, dy, y, a, b, g, i, m);
    return y ? _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, y + i)) : d;
}

/* s += v; q += d * v over n values (two accumulator pairs, masked tail) for both
 * entry points, so relu_sum2 sums in exactly sum2's order. */
static inline __attribute__((always_inline)) void
sum2_body(const float *x, const float *y, const float *dy, float a, float b, float *g, int relu, int64_t n,
          double shift, double out[2])
{
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), vs = _mm512_set1_pd(shift);
    __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d d0 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i)), vs);
        __m512d d1 = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8)), vs);
        __m512d v0 = value(d0, x, y, dy, a, b, g, relu, i, 0xff), v1 = value(d1, x, y, dy, a, b, g, relu, i + 8, 0xff);
        s0 = _mm512_add_pd(s0, v0);
        q0 = _mm512_add_pd(q0, _mm512_mul_pd(d0, v0));
        s1 = _mm512_add_pd(s1, v1);
        q1 = _mm512_add_pd(q1, _mm512_mul_pd(d1, v1));
    }
    for (; i < n; i += 8) {
        __mmask8 m = n - i >= 8 ? 0xff : (__mmask8)((1u << (n - i)) - 1);
        __m512d d = _mm512_maskz_sub_pd(m, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i)), vs);
        __m512d v = value(d, x, y, dy, a, b, g, relu, i, m);
        s0 = _mm512_add_pd(s0, v);
        q0 = _mm512_add_pd(q0, _mm512_mul_pd(d, v));
    }
    out[0] = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    out[1] = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

void dfp_sum2_f64_avx512(const float *x, const float *y, int64_t n, double shift, double out[2])
{
    sum2_body(x, y, NULL, 0.0f, 0.0f, NULL, 0, n, shift, out);
}

void dfp_relu_sum2_f64_avx512(const float *x, const float *dy, const float *y, float a, float b, int64_t n,
                              double shift, float *g, double out[2])
{
    sum2_body(x, y, dy, a, b, g, 1, n, shift, out);
}

/* The batch-norm data gradient (contract in fp32_kernels.h), 16 lanes a step,
 * the tail through a masked load and store. */
void dfp_bn_dx_avx512(const float *g, const float *dy, float za, float zb, const float *x,
                      const dfp_bn_dx_coef *c, int training, int64_t n, float *dx)
{
    const __m512 m = _mm512_set1_ps(c->m), is = _mm512_set1_ps(c->is), count = _mm512_set1_ps(c->count);
    const __m512 k = _mm512_set1_ps(c->k), a = _mm512_set1_ps(c->a), db = _mm512_set1_ps(c->db);
    const __m512 dg = _mm512_set1_ps(c->dg), vza = _mm512_set1_ps(za), vzb = _mm512_set1_ps(zb);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 lanes = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 xv = _mm512_maskz_loadu_ps(lanes, x + i), gv;
        if (g) {
            gv = _mm512_maskz_loadu_ps(lanes, g + i);
        } else { /* z > 0 (false for NaN) keeps dy, else +0 */
            __m512 z = _mm512_add_ps(_mm512_mul_ps(xv, vza), vzb);
            gv = _mm512_maskz_loadu_ps(_mm512_mask_cmp_ps_mask(lanes, z, _mm512_setzero_ps(), _CMP_GT_OQ), dy + i);
        }
        __m512 r;
        if (training) {
            __m512 t = _mm512_sub_ps(_mm512_mul_ps(count, gv), db);
            t = _mm512_sub_ps(t, _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(xv, m), is), dg));
            r = _mm512_mul_ps(k, t);
        } else {
            r = _mm512_mul_ps(gv, a);
        }
        _mm512_mask_storeu_ps(dx + i, lanes, r);
    }
}
