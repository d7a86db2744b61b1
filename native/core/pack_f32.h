/* FP32 operand packing for the SGEMM driver (portable C). */
#ifndef DFP_PACK_F32_H
#define DFP_PACK_F32_H

#include <stdint.h>

/* Pack op(A)[0:mc, 0:kc] (element (i, p) at a[i*rsa + p*csa]) into
 * ceil(mc/mr) panels of kc x mr floats, zero-padding the last panel. */
void dfp_pack_a_f32(int mr, int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                    float *dst);

/* Pack op(B)[0:kc, 0:nc] (element (p, j) at b[p*rsb + j*csb]) into
 * ceil(nc/nr) panels of kc x nr floats, zero-padding the last panel. */
void dfp_pack_b_f32(int nr, int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                    float *dst);

#endif
