/* Scalar reference kernels: SGEMM micro-kernel 4x8 (the oracle other ISAs are
 * tested against) and the batch-norm plane sums (plain and fused with ReLU).
 *
 * Contract (see fp32_kernels.h): C[0:4, 0:8] = alpha * A_panel * B_panel + beta * C.
 * - a: packed A, k columns of MR=4 floats; b: packed B, k rows of NR=8 floats.
 * - c: full 4x8 row-major tile, row stride ldc (edges are handled by the driver).
 * - beta == 0: C is written without being read.
 * Products and sums round separately (no FMA contraction: built with -ffp-contract=off). */
#include "fp32_kernels.h"

#include <stddef.h>
#include <string.h>

#define MR 4
#define NR 8

void dfp_sgemm_f32_scalar_4x8(int64_t k, const float *a, const float *b,
                              float *c, int64_t ldc, float alpha, float beta)
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < k; p++) {
        for (int i = 0; i < MR; i++) {
            float ai = a[p * MR + i];
            for (int j = 0; j < NR; j++)
                acc[i][j] += ai * b[p * NR + j];
        }
    }
    for (int i = 0; i < MR; i++) {
        for (int j = 0; j < NR; j++) {
            float v = alpha * acc[i][j];
            c[i * ldc + j] = beta == 0.0f ? v : v + beta * c[i * ldc + j];
        }
    }
}

/* Batch-norm plane sums (see fp32_kernels.h): four double accumulators each. */
void dfp_sum2_f64_scalar(const float *x, const float *y, int64_t n, double shift, double out[2])
{
    double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            double d = x[i + j] - shift, v = y ? y[i + j] : d;
            s[j] += v;
            q[j] += d * v;
        }
    for (; i < n; i++) {
        double d = x[i] - shift, v = y ? y[i] : d;
        s[0] += v;
        q[0] += d * v;
    }
    out[0] = (s[0] + s[1]) + (s[2] + s[3]);
    out[1] = (q[0] + q[1]) + (q[2] + q[3]);
}


/* The masked gradient of element i: z from y, or from the affine map. */
static inline float masked(const float *restrict x, const float *restrict dy, const float *restrict y,
                           float a, float b, int64_t i)
{
    return dfp_keep_if_positive(y ? y[i] : x[i] * a + b, dy[i]);
}

/* Fused BN + ReLU gradient sums (see fp32_kernels.h): the masked gradient,
 * then the summation of dfp_sum2_f64_scalar over it. */
void dfp_relu_sum2_f64_scalar(const float *restrict x, const float *restrict dy, const float *restrict y,
                              float a, float b, int64_t n, double shift, float *restrict g, double out[2])
{
    double s[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            float v = masked(x, dy, y, a, b, i + j);
            if (g)
                g[i + j] = v;
            s[j] += v;
            q[j] += (x[i + j] - shift) * v;
        }
    for (; i < n; i++) {
        float v = masked(x, dy, y, a, b, i);
        if (g)
            g[i] = v;
        s[0] += v;
        q[0] += (x[i] - shift) * v;
    }
    out[0] = (s[0] + s[1]) + (s[2] + s[3]);
    out[1] = (q[0] + q[1]) + (q[2] + q[3]);
}

void dfp_bn_dx_scalar(const float *g, const float *restrict dy, float za, float zb, const float *restrict x,
                      const dfp_bn_dx_coef *c, int training, int64_t n, float *dx)
{
    const float m = c->m, is = c->is, count = c->count, k = c->k, a = c->a, db = c->db, dg = c->dg;
    for (int64_t i = 0; i < n; i++) {
        float gi = g ? g[i] : dfp_keep_if_positive(x[i] * za + zb, dy[i]);
        dx[i] = training ? k * (count * gi - db - ((x[i] - m) * is) * dg) : gi * a;
    }
}

void dfp_fp32_kernels_init_scalar(dfp_fp32_kernels *k)
{
    k->sgemm = (dfp_sgemm_ukernel){dfp_sgemm_f32_scalar_4x8, MR, NR};
    k->sgemm_narrow = k->sgemm;
    k->sgemm_short = k->sgemm;
    k->sgemm_direct = (dfp_sgemm_ukernel_da){NULL, 0, 0}; /* packing only */
    k->sgemm_direct_narrow = k->sgemm_direct;
    k->sgemm_inplace = (dfp_sgemm_ukernel_bo){NULL, 0, 0}; /* the conv packs (im2col) */
    k->sgemm_inplace_wide = (dfp_sgemm_ukernel_bo){NULL, 0, 0};
    k->sum2_f64 = dfp_sum2_f64_scalar;
    k->relu_sum2_f64 = dfp_relu_sum2_f64_scalar;
    k->bn_dx = dfp_bn_dx_scalar;
}
