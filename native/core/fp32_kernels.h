/* FP32 kernel slots of the kernel table: the SGEMM micro-kernel with its
 * register block. Filled by dfp_fp32_kernels_init_scalar, then overlaid by
 * each ISA folder's init (native/<isa>/sgemm_<isa>.c). */
#ifndef DFP_FP32_KERNELS_H
#define DFP_FP32_KERNELS_H

#include <stdint.h>
#include <string.h>

/* SGEMM micro-kernel contract (all ISAs):
 *   C[0:MR, 0:NR] = alpha * sum_{p<k} A[p] (x) B[p] + beta * C
 * - a: packed A micro-panel, k columns of MR floats (a[p*MR + i] = op(A)[i][p]).
 * - b: packed B micro-panel, k rows of NR floats    (b[p*NR + j] = op(B)[p][j]).
 *   Both are 64-byte aligned and zero-padded past the matrix edge.
 * - c: row-major tile with row stride ldc; always a full MR x NR tile (the
 *   portable driver routes edge tiles through a scratch tile).
 * - beta == 0 means C is not read (it may hold NaN); k >= 1. */
typedef void (*dfp_sgemm_ukernel_fn)(int64_t k, const float *a, const float *b,
                                     float *c, int64_t ldc, float alpha, float beta);

/* Direct-A variant (same contract, but A is read in place, unpacked):
 * A(i, p) = a[i*lda + p], i < MR. Skips packing A where it would cost as much
 * as the multiply (N of one or two panels). */
typedef void (*dfp_sgemm_ukernel_da_fn)(int64_t k, const float *a, int64_t lda, const float *b,
                                        float *c, int64_t ldc, float alpha, float beta);

typedef struct dfp_sgemm_ukernel_da {
    dfp_sgemm_ukernel_da_fn fn; /* NULL where the ISA has none */
    int mr, nr;
} dfp_sgemm_ukernel_da;

/* B-in-place variant for the direct convolution (NR = 16, 32 or 48, alpha = 1, beta 0
 * or 1): row p of B is NR / run runs of `run` floats (16, or 8 where NR <= 32), run r at
 * runs[r] + off[p], unaligned: read straight from a zero-padded input image at
 * the offsets of the K taps (FPROP) or pixels (WTGRAD). */
typedef void (*dfp_sgemm_ukernel_bo_fn)(int64_t k, const float *a, const float *const *runs,
                                        int run, const int64_t *off, float *c, int64_t ldc,
                                        float beta);

typedef struct dfp_sgemm_ukernel_bo {
    dfp_sgemm_ukernel_bo_fn fn; /* NULL where the ISA has none */
    int mr, nr;
} dfp_sgemm_ukernel_bo;

typedef struct dfp_sgemm_ukernel {
    dfp_sgemm_ukernel_fn fn;
    int mr; /* rows of C per call */
    int nr; /* columns of C per call */
} dfp_sgemm_ukernel;

/* Largest register block any ISA uses (sizes the driver's scratch tile). */
#define DFP_SGEMM_MAX_MR 32
#define DFP_SGEMM_MAX_NR 64

/* Batch-norm reduction over one plane, in double, both sums in one pass:
 *   out[0] = sum_i v_i,  out[1] = sum_i d_i * v_i,
 *   d_i = x[i] - shift,  v_i = y[i] (y given) or d_i.
 * Statistics use y = NULL (sum and sum of squares around a shift near the
 * mean); gradients use y = dy, shift = mean. Any summation order (ISAs may
 * differ in the last bits of the double sums). */
typedef void (*dfp_sum2_f64_fn)(const float *x, const float *y, int64_t n, double shift, double out[2]);

/* Fused batch-norm + ReLU backward reduction over one plane, one pass:
 *   g[i] = z_i > 0 ? dy[i] : 0, with z_i > 0 read as y[i] > 0 (y, the saved ReLU
 *   output) or, when y is NULL, computed as x[i] * a + b > 0 (the forward's
 *   affine map, product then sum in float: the same z); g written when not NULL;
 *   out[0] = sum_i g_i,  out[1] = sum_i (x[i] - shift) * g_i, in double.
 * Each ISA sums in the order of its own sum2_f64 (so the sums equal
 * sum2_f64(x, g, shift) at that level, bit for bit, whichever mask source). */
typedef void (*dfp_relu_sum2_f64_fn)(const float *x, const float *dy, const float *y, float a, float b,
                                     int64_t n, double shift, float *g, double out[2]);

/* z > 0 ? d : 0 without a branch (a mispredicted branch per element costs more
 * than the rest of a batch-norm loop): d's bits and-ed with an all-ones or
 * all-zeros mask. Shared by the scalar kernels and the portable loops. */
static inline float dfp_keep_if_positive(float z, float d)
{
    uint32_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits &= 0u - (uint32_t)(z > 0.0f);
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Per-channel constants of the batch-norm data gradient: count values per
 * channel, the batch mean m and invstd is, k = gamma * is / count, a = gamma *
 * is, and the pass-1 sums db = sum g, dg = sum g * (x - m) * is. */
typedef struct dfp_bn_dx_coef {
    float m, is, count, k, a, db, dg;
} dfp_bn_dx_coef;

/* Batch-norm (+ ReLU) data gradient over one plane of n values, from g (the
 * masked gradient; g == dx allowed) or, with g NULL, from dy masked by
 * x * za + zb > 0 (the forward's z, product then sum). Training (batch
 * statistics): dx = k * (count * g - db - ((x - m) * is) * dg); otherwise
 * dx = g * a. Each product and sum rounded in float in that order (no FMA), so
 * every ISA gives the same floats. */
typedef void (*dfp_bn_dx_fn)(const float *g, const float *dy, float za, float zb, const float *x,
                             const dfp_bn_dx_coef *c, int training, int64_t n, float *dx);

typedef struct dfp_fp32_kernels {
    dfp_sgemm_ukernel sgemm;        /* main kernel */
    dfp_sgemm_ukernel sgemm_narrow; /* used when n <= its nr (tall-skinny GEMMs) */
    dfp_sgemm_ukernel sgemm_short;  /* fewer rows: used when it pads m much less than sgemm */
    dfp_sgemm_ukernel_da sgemm_direct;        /* row-major A, n <= DFP_SGEMM_DIRECT_MAX_N */
    dfp_sgemm_ukernel_da sgemm_direct_narrow; /* the same for n <= its nr */
    dfp_sgemm_ukernel_bo sgemm_inplace;       /* direct conv: B read at tap offsets */
    dfp_sgemm_ukernel_bo sgemm_inplace_wide;  /* the same, NR = 48 in runs of 16 only */
    dfp_sum2_f64_fn sum2_f64;                 /* batch-norm statistics and gradients */
    dfp_relu_sum2_f64_fn relu_sum2_f64;       /* fused batch-norm + ReLU gradients */
    dfp_bn_dx_fn bn_dx;                       /* their second pass */
} dfp_fp32_kernels;

void dfp_fp32_kernels_init_scalar(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx2(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx512(dfp_fp32_kernels *k);

#endif
