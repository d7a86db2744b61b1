/* Packing of SGEMM operands into micro-panels (portable; see fp32_kernels.h
 * for the layout the micro-kernels read). Panels past the matrix edge are
 * zero-filled so kernels always run full MR x NR tiles. */
#include "pack_f32.h"

#include <string.h>

/* One MR-row panel of op(A): dst[p*mr + i] = A(i, p), rows >= `rows` zero.
 * Inlined with a constant mr (see dfp_pack_a_f32) so the row loop unrolls. */
static inline __attribute__((always_inline)) void
pack_a_panel(const int mr, int rows, int64_t kc, const float *a, int64_t rsa, int64_t csa, float *dst)
{
    if (rows == mr && csa == 1) {
        /* full panel, rows of A contiguous: mr streams read along p */
        for (int64_t p = 0; p < kc; p++)
            for (int i = 0; i < mr; i++)
                dst[p * mr + i] = a[i * rsa + p];
        return;
    }
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < rows; i++)
            dst[p * mr + i] = a[i * rsa + p * csa];
        for (int i = rows; i < mr; i++)
            dst[p * mr + i] = 0.0f;
    }
}

static void pack_a_any(int mr, int rows, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                       float *dst)
{
    pack_a_panel(mr, rows, kc, a, rsa, csa, dst);
}

/* Dispatch on the MR values the kernels use so each gets an unrolled copy. */
static inline void pack_a_dispatch(int mr, int rows, int64_t kc, const float *a, int64_t rsa,
                                   int64_t csa, float *dst)
{
    switch (mr) {
    case 4: pack_a_panel(4, rows, kc, a, rsa, csa, dst); break;
    case 6: pack_a_panel(6, rows, kc, a, rsa, csa, dst); break;
    case 8: pack_a_panel(8, rows, kc, a, rsa, csa, dst); break;
    case 14: pack_a_panel(14, rows, kc, a, rsa, csa, dst); break;
    case 28: pack_a_panel(28, rows, kc, a, rsa, csa, dst); break;
    default: pack_a_any(mr, rows, kc, a, rsa, csa, dst); break;
    }
}

void dfp_pack_a_f32(int mr, int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                    float *dst)
{
    for (int64_t i0 = 0; i0 < mc; i0 += mr) {
        int rows = mc - i0 < mr ? (int)(mc - i0) : mr;
        pack_a_dispatch(mr, rows, kc, a + i0 * rsa, rsa, csa, dst);
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
