/* Embedding libdfpengine from C: report dispatch, run an SGEMM and a
 * convolution on caller-owned buffers, check the results, handle an error.
 * Build: cmake -S . -B build && cmake --build build (target c_api_example). */
#include "dfpengine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, dfp_status status)
{
    fprintf(stderr, "%s failed: %s\n", what, dfp_status_string(status));
    return 1;
}

int main(void)
{
    printf("dfpengine %s, ISA %s (supported up to %s), %d threads\n", dfp_version(),
           dfp_isa_name(dfp_isa_selected()), dfp_isa_name(dfp_isa_supported()), dfp_num_threads());

    /* C(2x3) = A(2x4) * B(4x3) */
    float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float b[12] = {1, 0, 2, 0, 1, 0, 1, 1, 1, 0, 0, 1};
    float c[6] = {0};
    dfp_status st = dfp_sgemm(0, 0, 2, 3, 4, 1.0f, a, 4, b, 3, 0.0f, c, 3);
    if (st != DFP_OK)
        return fail("dfp_sgemm", st);
    const float expect[6] = {4, 5, 9, 12, 13, 25};
    for (int i = 0; i < 6; i++)
        if (fabsf(c[i] - expect[i]) > 1e-5f)
            return fprintf(stderr, "sgemm mismatch at %d: %g vs %g\n", i, c[i], expect[i]), 1;

    /* 3x3 box filter over a 1x1x4x4 ramp with padding 1 */
    dfp_conv2d_shape s = {.batch = 1, .in_channels = 1, .in_h = 4, .in_w = 4, .out_channels = 1,
                          .kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                          .pad_h = 1, .pad_w = 1, .dilation_h = 1, .dilation_w = 1};
    int64_t oh, ow;
    if ((st = dfp_conv2d_output_size(&s, &oh, &ow)) != DFP_OK)
        return fail("dfp_conv2d_output_size", st);
    float x[16], w[9], y[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    for (int i = 0; i < 9; i++) w[i] = 1.0f;
    if ((st = dfp_conv2d_forward_f32(&s, x, w, NULL, y)) != DFP_OK)
        return fail("dfp_conv2d_forward_f32", st);
    /* centre pixel (1,1): sum of x over rows 0..2, cols 0..2 = 45 */
    if (oh != 4 || ow != 4 || fabsf(y[5] - 45.0f) > 1e-4f)
        return fprintf(stderr, "conv mismatch: %lldx%lld, y[5]=%g\n", (long long)oh, (long long)ow, y[5]), 1;

    /* bad input is a status, never a crash */
    st = dfp_sgemm(0, 0, -1, 3, 4, 1.0f, a, 4, b, 3, 0.0f, c, 3);
    if (st != DFP_ERR_INVALID_SHAPE)
        return fprintf(stderr, "expected DFP_ERR_INVALID_SHAPE, got %d\n", st), 1;
    printf("negative M rejected: %s\nok\n", dfp_status_string(st));
    return 0;
}
