/* Internal entry of the block floating point GEMM on FP32 operands
 * (bfp_gemm.c) for drivers that compute one product in slices, such as the
 * image-by-image convolutions of conv_bfp.c. */
#ifndef DFP_BFP_GEMM_H
#define DFP_BFP_GEMM_H

#include "bfp_pack.h"

/* Whether operands of these formats take the integer micro-kernels (even block,
 * block sums within INT32), the only path dfp_gemm_bfp_f32_at slices. */
int dfp_gemm_bfp_on_integers(int block, int mag_bits_a, int mag_bits_b);

/* dfp_gemm_bfp_f32 on slices: oa / ob (NULL: the whole matrix) say where A and
 * B lie in the matrices whose stochastic indices they draw (dfp_bfp_origin);
 * with accumulate the FP32 totals start from c instead of zero, so a K range
 * given slice after slice (each starting on a block boundary of the whole,
 * col0 % block == 0) adds its blocks in the order the whole product would.
 * Slices need dfp_gemm_bfp_on_integers (else DFP_ERR_INVALID_ARGUMENT). */
dfp_status dfp_gemm_bfp_f32_at(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a,
                               const dfp_bfp_origin *oa, const dfp_bfp_operand *b,
                               const dfp_bfp_origin *ob, float *c, int64_t ldc, int accumulate);

/* The product on operands already packed by dfp_bfp_pack_operand, A's panels
 * the integer kernels' mr wide, B's nr wide (exponents sa, sb); c and
 * accumulate as above. For drivers that pack one operand once and the other
 * piece by piece. */
dfp_status dfp_gemm_bfp_packed(int64_t m, int64_t n, int64_t k, int block, const dfp_s16_packed *pa,
                               const int32_t *sa, const dfp_s16_packed *pb, const int32_t *sb,
                               float *c, int64_t ldc, int accumulate);

#endif
