/* AVX2 + FMA SGEMM micro-kernel, 6x16 (12 ymm accumulators).
 *
 * Contract (see fp32_kernels.h): C[0:6, 0:16] = alpha * A_panel * B_panel + beta * C.
 * - a: packed A, k columns of MR=6 floats (broadcast one per row);
 *   b: packed B, k rows of NR=16 floats (two 8-wide loads per k), 64-byte aligned.
 * - c: full 6x16 row-major tile, row stride ldc (edges are handled by the driver).
 * - beta == 0: C is written without being read. */
#include "fp32_kernels.h"

#include <immintrin.h>

#define MR 6
#define NR 16

static inline void store_row(float *c, __m256 lo, __m256 hi, __m256 va, __m256 vb, float beta)
{
    lo = _mm256_mul_ps(lo, va);
    hi = _mm256_mul_ps(hi, va);
    if (beta != 0.0f) {
        lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo);
        hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi);
    }
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
}

void dfp_sgemm_f32_avx2_6x16(int64_t k, const float *a, const float *b,
                             float *c, int64_t ldc, float alpha, float beta)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 ai;
        ai = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(ai, b0, c00); c01 = _mm256_fmadd_ps(ai, b1, c01);
        ai = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(ai, b0, c10); c11 = _mm256_fmadd_ps(ai, b1, c11);
        ai = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(ai, b0, c20); c21 = _mm256_fmadd_ps(ai, b1, c21);
        ai = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(ai, b0, c30); c31 = _mm256_fmadd_ps(ai, b1, c31);
        ai = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(ai, b0, c40); c41 = _mm256_fmadd_ps(ai, b1, c41);
        ai = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(ai, b0, c50); c51 = _mm256_fmadd_ps(ai, b1, c51);
        a += MR;
        b += NR;
    }
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    store_row(c + 0 * ldc, c00, c01, va, vb, beta);
    store_row(c + 1 * ldc, c10, c11, va, vb, beta);
    store_row(c + 2 * ldc, c20, c21, va, vb, beta);
    store_row(c + 3 * ldc, c30, c31, va, vb, beta);
    store_row(c + 4 * ldc, c40, c41, va, vb, beta);
    store_row(c + 5 * ldc, c50, c51, va, vb, beta);
}

/* The direct convolution's B-in-place kernel (contract in fp32_kernels.h, here
 * NR = 16): row p of B is one run of 16 floats at runs[0] + off[p], or two runs
 * of 8 at runs[0..1] + off[p], unaligned, read straight from the zero-padded
 * image; beta 0 or 1. FMAs in K order per element, as the packed kernel. MR
 * rows as a constant at each entry point. */
static inline __attribute__((always_inline)) void
sgemm_inplace_body(const int mr, const int run8, int64_t k, const float *a, const float *const *runs,
                   const int64_t *off, float *c, int64_t ldc, float beta)
{
    __m256 acc[6][2];
    const float *r0 = runs[0], *r1 = run8 ? runs[1] : runs[0] + 8;
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        const int64_t o = off[p];
        const __m256 b0 = _mm256_loadu_ps(r0 + o), b1 = _mm256_loadu_ps(r1 + o);
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += mr;
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++)
        for (int v = 0; v < 2; v++) {
            float *ci = c + i * ldc + 8 * v;
            __m256 s = acc[i][v];
            if (beta != 0.0f)
                s = _mm256_add_ps(_mm256_loadu_ps(ci), s);
            _mm256_storeu_ps(ci, s);
        }
}

#define INPLACE_MR 4 /* 16, 32 and 64 channels pad to no extra row (6 would add 12%) */

static void dfp_sgemm_f32_avx2_inplace(int64_t k, const float *a, const float *const *runs, int run,
                                       const int64_t *off, float *c, int64_t ldc, float beta)
{
    if (run == 8)
        sgemm_inplace_body(INPLACE_MR, 1, k, a, runs, off, c, ldc, beta);
    else
        sgemm_inplace_body(INPLACE_MR, 0, k, a, runs, off, c, ldc, beta);
}

void dfp_sum2_f64_avx2(const float *x, const float *y, int64_t n, double shift, double out[2]);
void dfp_relu_sum2_f64_avx2(const float *x, const float *dy, const float *y, float a, float b, int64_t n,
                            double shift, float *g, double out[2]);
void dfp_bn_dx_avx2(const float *g, const float *dy, float za, float zb, const float *x,
                    const dfp_bn_dx_coef *c, int training, int64_t n, float *dx);

void dfp_fp32_kernels_init_avx2(dfp_fp32_kernels *k)
{
    k->sgemm = (dfp_sgemm_ukernel){dfp_sgemm_f32_avx2_6x16, MR, NR};
    k->sgemm_narrow = k->sgemm;
    k->sgemm_short = k->sgemm;
    k->sgemm_inplace = (dfp_sgemm_ukernel_bo){dfp_sgemm_f32_avx2_inplace, INPLACE_MR, 16};
    k->sum2_f64 = dfp_sum2_f64_avx2; /* norm_avx2.c */
    k->relu_sum2_f64 = dfp_relu_sum2_f64_avx2;
    k->bn_dx = dfp_bn_dx_avx2;
}
