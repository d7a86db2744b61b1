/* AVX2 batch-norm plane sums and data gradient (contracts in fp32_kernels.h):
 * the AVX-512 kernels' scheme on 256-bit vectors. Sums: 4 floats widened to
 * double per vector, 8 per step into two accumulator pairs, tails of 4 through
 * masked loads (masked-off lanes contribute 0); the fused BN + ReLU variant
 * masks dy by z > 0, stores it, then sums in exactly this order (so it equals
 * dfp_sum2_f64_avx2 over the stored g). bn_dx: 8 lanes a step, the scalar
 * reference's operations in its order. */
#include "fp32_kernels.h"
#include "lanes_avx2.h"

#include <immintrin.h>

/* g = z > 0 ? dy : +0 over the first n (<= 4) lanes from i (stored when g is
 * given), widened to double; z is y, or with y NULL x * a + b (product, then
 * sum: the forward's z). */
static inline __m256d relu_grad(const float *x, const float *dy, const float *y, float a, float b,
                                float *g, int64_t i, __m128i m)
{
    __m128 z = y ? _mm_maskload_ps(y + i, m)
                 : _mm_add_ps(_mm_mul_ps(_mm_maskload_ps(x + i, m), _mm_set1_ps(a)), _mm_set1_ps(b));
    __m128i pos = _mm_and_si128(m, _mm_castps_si128(_mm_cmp_ps(z, _mm_setzero_ps(), _CMP_GT_OQ)));
    __m128 v = _mm_maskload_ps(dy + i, pos);
    if (g)
        _mm_maskstore_ps(g + i, m, v);
    return _mm256_cvtps_pd(v);
}

/* The value summed at the lanes of m from i: y (given), d itself (y NULL), or
 * with relu the masked gradient. */
static inline __m256d value(__m256d d, const float *x, const float *y, const float *dy, float a, float b,
                            float *g, int relu, int64_t i, __m128i m)
{
    if (relu)
        return relu_grad(x, dy, y, a, b, g, i, m);
    return y ? _mm256_cvtps_pd(_mm_maskload_ps(y + i, m)) : d;
}

static inline double hsum(__m256d v)
{
    double t[4];
    _mm256_storeu_pd(t, v);
    return (t[0] + t[1]) + (t[2] + t[3]);
}

static inline __attribute__((always_inline)) void
sum2_body(const float *x, const float *y, const float *dy, float a, float b, float *g, int relu, int64_t n,
          double shift, double out[2])
{
    const __m128i all = _mm_set1_epi32(-1);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd(), vs = _mm256_set1_pd(shift);
    __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), vs);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), vs);
        __m256d v0 = value(d0, x, y, dy, a, b, g, relu, i, all);
        __m256d v1 = value(d1, x, y, dy, a, b, g, relu, i + 4, all);
        s0 = _mm256_add_pd(s0, v0);
        q0 = _mm256_add_pd(q0, _mm256_mul_pd(d0, v0));
        s1 = _mm256_add_pd(s1, v1);
        q1 = _mm256_add_pd(q1, _mm256_mul_pd(d1, v1));
    }
    for (; i < n; i += 4) {
        const int64_t left = n - i < 4 ? n - i : 4;
        const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32((int)left), _mm_setr_epi32(0, 1, 2, 3));
        const __m256d keep = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(m));
        __m256d d = _mm256_and_pd(keep, _mm256_sub_pd(_mm256_cvtps_pd(_mm_maskload_ps(x + i, m)), vs));
        __m256d v = value(d, x, y, dy, a, b, g, relu, i, m);
        s0 = _mm256_add_pd(s0, v);
        q0 = _mm256_add_pd(q0, _mm256_mul_pd(d, v));
    }
    out[0] = hsum(_mm256_add_pd(s0, s1));
    out[1] = hsum(_mm256_add_pd(q0, q1));
}

void dfp_sum2_f64_avx2(const float *x, const float *y, int64_t n, double shift, double out[2])
{
    sum2_body(x, y, NULL, 0.0f, 0.0f, NULL, 0, n, shift, out);
}

void dfp_relu_sum2_f64_avx2(const float *x, const float *dy, const float *y, float a, float b, int64_t n,
                            double shift, float *g, double out[2])
{
    sum2_body(x, y, dy, a, b, g, 1, n, shift, out);
}

void dfp_bn_dx_avx2(const float *g, const float *dy, float za, float zb, const float *x,
                    const dfp_bn_dx_coef *c, int training, int64_t n, float *dx)
{
    const __m256 m = _mm256_set1_ps(c->m), is = _mm256_set1_ps(c->is), count = _mm256_set1_ps(c->count);
    const __m256 k = _mm256_set1_ps(c->k), a = _mm256_set1_ps(c->a), db = _mm256_set1_ps(c->db);
    const __m256 dg = _mm256_set1_ps(c->dg), vza = _mm256_set1_ps(za), vzb = _mm256_set1_ps(zb);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i lanes = first_lanes_avx2(n - i);
        __m256 xv = _mm256_maskload_ps(x + i, lanes), gv;
        if (g) {
            gv = _mm256_maskload_ps(g + i, lanes);
        } else { /* z > 0 (false for NaN) keeps dy, else +0 */
            __m256 z = _mm256_add_ps(_mm256_mul_ps(xv, vza), vzb);
            __m256 gt = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ);
            __m256i pos = _mm256_and_si256(lanes, _mm256_castps_si256(gt));
            gv = _mm256_maskload_ps(dy + i, pos);
        }
        __m256 r;
        if (training) {
            __m256 t = _mm256_sub_ps(_mm256_mul_ps(count, gv), db);
            t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(xv, m), is), dg));
            r = _mm256_mul_ps(k, t);
        } else {
            r = _mm256_mul_ps(gv, a);
        }
        _mm256_maskstore_ps(dx + i, lanes, r);
    }
}
