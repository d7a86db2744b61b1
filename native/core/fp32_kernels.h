/* FP32 kernel slots of the kernel table: the SGEMM micro-kernel with its
 * register block. Filled by dfp_fp32_kernels_init_scalar, then overlaid by
 * each ISA folder's init (native/<isa>/sgemm_<isa>.c). */
#ifndef DFP_FP32_KERNELS_H
#define DFP_FP32_KERNELS_H

#include <stdint.h>

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

typedef struct dfp_sgemm_ukernel {
    dfp_sgemm_ukernel_fn fn;
    int mr; /* rows of C per call */
    int nr; /* columns of C per call */
} dfp_sgemm_ukernel;

/* Largest register block any ISA uses (sizes the driver's scratch tile). */
#define DFP_SGEMM_MAX_MR 32
#define DFP_SGEMM_MAX_NR 64

typedef struct dfp_fp32_kernels {
    dfp_sgemm_ukernel sgemm;        /* main kernel */
    dfp_sgemm_ukernel sgemm_narrow; /* used when n <= its nr (tall-skinny GEMMs) */
} dfp_fp32_kernels;

void dfp_fp32_kernels_init_scalar(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx2(dfp_fp32_kernels *k);
void dfp_fp32_kernels_init_avx512(dfp_fp32_kernels *k);

#endif
