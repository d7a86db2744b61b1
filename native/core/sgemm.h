/* Internal SGEMM driver interface (portable; kernels come from the table).
 * op(A) is m x k with element (i, p) at a[i*rsa + p*csa]; op(B) is k x n with
 * element (p, j) at b[p*rsb + j*csb]; C is row-major with row stride ldc.
 * Strides express transposes, so one driver serves every layout. */
#ifndef DFP_SGEMM_H
#define DFP_SGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "fp32_kernels.h"

/* Cache blocking (floats). KC keeps a KC x NR micro-panel of B in L1 (32 KiB
 * at NR=32); MC x KC of A stays in L2; KC x NC of B in L2/L3. MC is a
 * multiple of every MR in use (4, 6, 8, 14, 28) and NC of every NR (8, 16, 32). */
#ifndef DFP_SGEMM_KC
#define DFP_SGEMM_KC 256
#endif
#ifndef DFP_SGEMM_MC
#define DFP_SGEMM_MC 336
#endif
#ifndef DFP_SGEMM_NC
#define DFP_SGEMM_NC 2048
#endif

/* Largest N for which a row-major A is read in place instead of packed. */
#define DFP_SGEMM_DIRECT_MAX_N 64

typedef struct dfp_sgemm_args {
    int64_t m, n, k;
    float alpha, beta;
    const float *a;
    int64_t rsa, csa;
    const float *b;
    int64_t rsb, csb;
    float *c;
    int64_t ldc;
} dfp_sgemm_args;

/* Fill strides from BLAS-style transpose flags and leading dimensions. */
dfp_sgemm_args dfp_sgemm_make_args(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                                   float alpha, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, float beta, float *c, int64_t ldc);

/* Floats of workspace one single-threaded call needs for these sizes. */
size_t dfp_sgemm_workspace_floats(int64_t m, int64_t n, int64_t k);

/* Single-threaded GEMM on valid arguments (m, n >= 1, k >= 0); `workspace`
 * holds dfp_sgemm_workspace_floats(m, n, k) floats, 64-byte aligned. Used by
 * convolution inside its own parallel region. */
void dfp_sgemm_f32_serial(const dfp_sgemm_args *g, float *workspace);

/* The micro-kernel the driver uses for an m x n product (its MR and NR give
 * the panel layouts dfp_sgemm_f32_packed expects). */
const dfp_sgemm_ukernel *dfp_sgemm_kernel_for(int64_t m, int64_t n);

/* Single-threaded C (m x n, row stride ldc) = A * B from operands packed over
 * the full k by the caller for kernel `uk`: A as dfp_pack_a_f32(uk->mr, m, k)
 * writes it (MR-row panels, k*MR floats apart), B as NR-column panels k*NR
 * floats apart (b[p*NR + j] within a panel, 64-byte aligned, zero-padded).
 * Lets convolution pack the weights once per call and write im2col tiles
 * straight into B panels. `scratch`: MR*NR + 16 floats. */
void dfp_sgemm_f32_packed(const dfp_sgemm_ukernel *uk, int64_t m, int64_t n, int64_t k, const float *ap,
                          const float *bp, float *c, int64_t ldc, float *scratch);

/* Threaded GEMM on valid arguments; allocates its own workspace. */
int dfp_sgemm_f32_threaded(const dfp_sgemm_args *g); /* 0 ok, -1 out of memory */
#endif
