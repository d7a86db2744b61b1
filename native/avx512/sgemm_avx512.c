/* AVX-512 SGEMM micro-kernels: 14x32 (main) and 28x16 (narrow, for n <= 16),
 * 8x32 (short, for m that 14 rows would pad badly), plus direct-A variants 14x32_da and 14x16_da that read a row-major A in place,
 * and 8x32_bo / 8x48_bo that read B rows in place at given offsets (the direct conv).
 *
 * Contract (see fp32_kernels.h): C[0:MR, 0:NR] = alpha * A_panel * B_panel + beta * C.
 * - a: packed A, k columns of MR floats; each is broadcast ({1to16} memory operand).
 *   _da variants: A(i, p) = a[i*lda + p] (unpacked; MR row streams).
 * - b: packed B, k rows of NR floats (NR/16 aligned zmm loads per k), 64-byte aligned.
 * - c: full MR x NR row-major tile, row stride ldc (edges are handled by the driver).
 * - beta == 0: C is written without being read.
 * Register budget: MR * NR/16 accumulators (28) + NR/16 B vectors + 1 broadcast <= 32 zmm.
 * Each k step issues MR * NR/16 independent FMAs, enough to cover the 4-cycle FMA
 * latency on both FMA ports. */
#include "fp32_kernels.h"

#include <immintrin.h>

/* One body for both shapes; mr and nv (= NR/16) are compile-time constants at
 * each call site, so the loops unroll fully and acc lives in registers. */
static inline __attribute__((always_inline)) void
sgemm_body(const int mr, const int nv, int64_t k, const float *a, const int64_t ars,
           const int64_t acs, const float *b, float *c, int64_t ldc, float alpha, float beta)
{
    __m512 acc[28][2];
#pragma GCC unroll 28
    for (int i = 0; i < mr; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
        /* the C tile is touched only after the k loop: fetch it meanwhile */
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        if (nv > 1)
            _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b);
        __m512 b1 = nv > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 28
        for (int i = 0; i < mr; i++) {
            __m512 ai = _mm512_set1_ps(a[i * ars]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            if (nv > 1)
                acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += acs;
        b += 16 * nv;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 28
    for (int i = 0; i < mr; i++) {
#pragma GCC unroll 2
        for (int v = 0; v < nv; v++) {
            float *ci = c + i * ldc + 16 * v;
            __m512 r = _mm512_mul_ps(acc[i][v], va);
            if (beta != 0.0f)
                r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci), r);
            _mm512_storeu_ps(ci, r);
        }
    }
}

/* The direct conv's body: 8 rows of packed A, NV vectors of B per K row read in
 * place, vector v from runs[v] + off[p] (runs of 16) or from runs 2v and 2v + 1
 * (runs of 8); C = sum (beta 0) or C + sum (beta 1). Its own function so the
 * loop carries no packed-B branch and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
sgemm_inplace_body(const int nv, const int run8, int64_t k, const float *a, const float *const *runs,
                   const int64_t *off, float *c, int64_t ldc, float beta)
{
    enum { MR = 8 };
    __m512 acc[MR][3];
    const float *r[6];
    for (int v = 0; v < (run8 ? 2 * nv : nv); v++)
        r[v] = runs[v];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            acc[i][v] = _mm512_setzero_ps();
            _mm_prefetch((const char *)(c + i * ldc + 16 * v), _MM_HINT_T0);
        }
    }
    for (int64_t p = 0; p < k; p++) {
        const int64_t o = off[p];
        __m512 bv[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            bv[v] = run8 ? _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(r[2 * v] + o)),
                                              _mm256_loadu_ps(r[2 * v + 1] + o), 1)
                         : _mm512_loadu_ps(r[v] + o);
#pragma GCC unroll 8
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            float *ci = c + i * ldc + 16 * v;
            __m512 s = acc[i][v];
            if (beta != 0.0f)
                s = _mm512_add_ps(_mm512_loadu_ps(ci), s);
            _mm512_storeu_ps(ci, s);
        }
    }
}

void dfp_sgemm_f32_avx512_14x32(int64_t k, const float *a, const float *b,
                                float *c, int64_t ldc, float alpha, float beta)
{
    sgemm_body(14, 2, k, a, 1, 14, b, c, ldc, alpha, beta);
}

void dfp_sgemm_f32_avx512_28x16(int64_t k, const float *a, const float *b,
                                float *c, int64_t ldc, float alpha, float beta)
{
    sgemm_body(28, 1, k, a, 1, 28, b, c, ldc, alpha, beta);
}

/* Short: 8 rows pad the 16/32/64-channel GEMMs of small convolutions exactly
 * (14 rows waste 43% at m = 16); 16 accumulators still cover the FMA latency. */
void dfp_sgemm_f32_avx512_8x32(int64_t k, const float *a, const float *b,
                               float *c, int64_t ldc, float alpha, float beta)
{
    sgemm_body(8, 2, k, a, 1, 8, b, c, ldc, alpha, beta);
}

/* Direct-A variants: A read in place, row-major with row stride lda (no packing). */
void dfp_sgemm_f32_avx512_14x32_da(int64_t k, const float *a, int64_t lda, const float *b,
                                   float *c, int64_t ldc, float alpha, float beta)
{
    sgemm_body(14, 2, k, a, lda, 1, b, c, ldc, alpha, beta);
}

void dfp_sgemm_f32_avx512_14x16_da(int64_t k, const float *a, int64_t lda, const float *b,
                                   float *c, int64_t ldc, float alpha, float beta)
{
    sgemm_body(14, 1, k, a, lda, 1, b, c, ldc, alpha, beta);
}

/* B in place (direct conv): packed 8-row A panels, two 16-float runs (or four of 8) per K row. */
void dfp_sgemm_f32_avx512_8x32_bo(int64_t k, const float *a, const float *const *runs, int run,
                                  const int64_t *off, float *c, int64_t ldc, float beta)
{
    if (run == 8)
        sgemm_inplace_body(2, 1, k, a, runs, off, c, ldc, beta);
    else
        sgemm_inplace_body(2, 0, k, a, runs, off, c, ldc, beta);
}

/* The same with three 16-float runs (run must be 16): 24 products per K row
 * against 12 loads, where 8 x 32 has 16 against 11 and its unaligned run loads
 * split cache lines, so the loads no longer set the pace. */
void dfp_sgemm_f32_avx512_8x48_bo(int64_t k, const float *a, const float *const *runs, int run,
                                  const int64_t *off, float *c, int64_t ldc, float beta)
{
    (void)run;
    sgemm_inplace_body(3, 0, k, a, runs, off, c, ldc, beta);
}

void dfp_sum2_f64_avx512(const float *x, const float *y, int64_t n, double shift, double out[2]);
void dfp_relu_sum2_f64_avx512(const float *x, const float *dy, const float *y, float a, float b, int64_t n,
                              double shift, float *g, double out[2]);
void dfp_bn_dx_avx512(const float *g, const float *dy, float za, float zb, const float *x,
                      const dfp_bn_dx_coef *c, int training, int64_t n, float *dx);

void dfp_fp32_kernels_init_avx512(dfp_fp32_kernels *k)
{
    k->sgemm = (dfp_sgemm_ukernel){dfp_sgemm_f32_avx512_14x32, 14, 32};
    k->sgemm_narrow = (dfp_sgemm_ukernel){dfp_sgemm_f32_avx512_28x16, 28, 16};
    k->sgemm_short = (dfp_sgemm_ukernel){dfp_sgemm_f32_avx512_8x32, 8, 32};
    k->sgemm_direct = (dfp_sgemm_ukernel_da){dfp_sgemm_f32_avx512_14x32_da, 14, 32};
    k->sgemm_direct_narrow = (dfp_sgemm_ukernel_da){dfp_sgemm_f32_avx512_14x16_da, 14, 16};
    k->sgemm_inplace = (dfp_sgemm_ukernel_bo){dfp_sgemm_f32_avx512_8x32_bo, 8, 32};
    k->sgemm_inplace_wide = (dfp_sgemm_ukernel_bo){dfp_sgemm_f32_avx512_8x48_bo, 8, 48};
    k->sum2_f64 = dfp_sum2_f64_avx512; /* norm_avx512.c */
    k->relu_sum2_f64 = dfp_relu_sum2_f64_avx512;
    k->bn_dx = dfp_bn_dx_avx512;
}
