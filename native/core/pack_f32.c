/* Packing of SGEMM operands into micro-panels (portable; see fp32_kernels.h
 * for the layout the micro-kernels read). Panels past the matrix edge are
 * zero-filled so kernels always run full MR x NR tiles. */
#include "pack_f32.h"

#include <string.h>

/* One MR-row panel of op(A): dst[p*mr + i] = A(i, p), rows >= `rows` zero. */
static inline void pack_a_panel(int mr, int rows, int64_t kc, const float *a,
                                int64_t rsa, int64_t csa, float *dst)
{
    if (csa == 1) {
        /* rows of A are contiguous: read along p */
        for (int i = 0; i < rows; i++) {
            const float *src = a + i * rsa;
            for (int64_t p = 0; p < kc; p++)
                dst[p * mr + i] = src[p];
        }
    } else {
        for (int64_t p = 0; p < kc; p++)
            for (int i = 0; i < rows; i++)
                dst[p * mr + i] = a[i * rsa + p * csa];
    }
    if (rows < mr)
        for (int64_t p = 0; p < kc; p++)
            memset(dst + p * mr + rows, 0, (size_t)(mr - rows) * sizeof(float));
}

void dfp_pack_a_f32(int mr, int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                    float *dst)
{
    for (int64_t i0 = 0; i0 < mc; i0 += mr) {
        int rows = mc - i0 < mr ? (int)(mc - i0) : mr;
        pack_a_panel(mr, rows, kc, a + i0 * rsa, rsa, csa, dst);
        dst += kc * mr;
    }
}

/* One NR-column panel of op(B): dst[p*nr + j] = B(p, j), columns >= `cols` zero. */
static inline void pack_b_panel(int nr, int cols, int64_t kc, const float *b,
                                int64_t rsb, int64_t csb, float *dst)
{
    if (csb == 1) {
        for (int64_t p = 0; p < kc; p++) {
            memcpy(dst + p * nr, b + p * rsb, (size_t)cols * sizeof(float));
            if (cols < nr)
                memset(dst + p * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
        }
        return;
    }
    for (int j = 0; j < cols; j++) {
        const float *src = b + j * csb;
        for (int64_t p = 0; p < kc; p++)
            dst[p * nr + j] = src[p * rsb];
    }
    if (cols < nr)
        for (int64_t p = 0; p < kc; p++)
            memset(dst + p * nr + cols, 0, (size_t)(nr - cols) * sizeof(float));
}

void dfp_pack_b_f32(int nr, int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb,
                    float *dst)
{
    for (int64_t j0 = 0; j0 < nc; j0 += nr) {
        int cols = nc - j0 < nr ? (int)(nc - j0) : nr;
        pack_b_panel(nr, cols, kc, b + j0 * csb, rsb, csb, dst);
        dst += kc * nr;
    }
}
