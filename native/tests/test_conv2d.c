/* Convolution (FPROP, BPROP, WTGRAD) on every supported ISA and 1-2 threads
 * against direct loops in double; im2col for 2-byte elements against the
 * 4-byte path; API validation of conv, pooling, batch norm and ReLU. */
#include "dfpengine.h"
#include "dfp_test.h"
#include "im2col.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, unsigned s)
{
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* input index of tap (kh, kw) for output (oh, ow), or -1 in the padding */
static int64_t tap(const dfp_conv2d_shape *s, int64_t oh, int64_t ow, int64_t kh, int64_t kw)
{
    int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dilation_h;
    int64_t iw = ow * s->stride_w - s->pad_w + kw * s->dilation_w;
    return ih < 0 || ih >= s->in_h || iw < 0 || iw >= s->in_w ? -1 : ih * s->in_w + iw;
}

/* y, dx and dw by direct loops in double (dx, dw accumulate into zeroed buffers). */
static void naive(const dfp_conv2d_shape *s, int64_t oh_n, int64_t ow_n, const float *x, const float *w,
                  const float *dy, double *y, double *dx, double *dw)
{
    int64_t C = s->in_channels, O = s->out_channels, KH = s->kernel_h, KW = s->kernel_w;
    int64_t hw = s->in_h * s->in_w, ohw = oh_n * ow_n;
    for (int64_t n = 0; n < s->batch; n++)
        for (int64_t o = 0; o < O; o++)
            for (int64_t p = 0; p < ohw; p++) {
                double acc = 0;
                double g = dy[(n * O + o) * ohw + p];
                for (int64_t c = 0; c < C; c++)
                    for (int64_t kh = 0; kh < KH; kh++)
                        for (int64_t kw = 0; kw < KW; kw++) {
                            int64_t i = tap(s, p / ow_n, p % ow_n, kh, kw);
                            if (i < 0)
                                continue;
                            int64_t wi = ((o * C + c) * KH + kh) * KW + kw, xi = (n * C + c) * hw + i;
                            acc += (double)x[xi] * w[wi];
                            dx[xi] += g * w[wi];
                            dw[wi] += g * x[xi];
                        }
                y[(n * O + o) * ohw + p] = acc;
            }
}

static int near(const float *got, const double *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol))
            return 0;
    return 1;
}

static void check_conv(dfp_conv2d_shape s)
{
    int64_t oh, ow;
    CHECK(dfp_conv2d_output_size(&s, &oh, &ow) == DFP_OK);
    size_t nx = (size_t)(s.batch * s.in_channels * s.in_h * s.in_w);
    size_t nw = (size_t)(s.out_channels * s.in_channels * s.kernel_h * s.kernel_w);
    size_t ny = (size_t)(s.batch * s.out_channels * oh * ow);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4);
    float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4);
    double *ry = calloc(ny, 8), *rdx = calloc(nx, 8), *rdw = calloc(nw, 8);
    fill(x, nx, 1), fill(w, nw, 2), fill(dy, ny, 3);
    naive(&s, oh, ow, x, w, dy, ry, rdx, rdw);
    dfp_isa top = dfp_isa_supported();
    for (int isa = DFP_ISA_SCALAR; isa <= (int)top; isa++)
        for (int threads = 1; threads <= 2; threads++) {
            dfp_isa_select((dfp_isa)isa);
            dfp_set_num_threads(threads);
            CHECK(dfp_conv2d_forward_f32(&s, x, w, NULL, y) == DFP_OK);
            CHECK(dfp_conv2d_backward_data_f32(&s, dy, w, dx) == DFP_OK);
            CHECK(dfp_conv2d_backward_weight_f32(&s, x, dy, dw) == DFP_OK);
            int ok = near(y, ry, ny, 1e-4) && near(dx, rdx, nx, 1e-4) && near(dw, rdw, nw, 1e-3);
            if (!ok)
                fprintf(stderr, "conv mismatch: isa %s threads %d\n", dfp_isa_name((dfp_isa)isa), threads);
            CHECK(ok);
        }
    dfp_isa_select(top);
    free(x), free(w), free(dy), free(y), free(dx), free(dw), free(ry), free(rdx), free(rdw);
}

/* The same tile gathered from int16 and from float copies of the same values. */
static void check_im2col_int16(void)
{
    dfp_conv_geom g = {3, 7, 6, 3, 2, 2, 1, 1, 1, 1, 2, 0, 0};
    g.out_h = (7 + 2 - 1 * 2 - 1) / 2 + 1;
    g.out_w = (6 + 2 - 2 * 1 - 1) / 1 + 1;
    int16_t xi[3 * 7 * 6];
    float xf[3 * 7 * 6];
    for (int i = 0; i < 3 * 7 * 6; i++)
        xi[i] = (int16_t)(i * 37 - 300), xf[i] = xi[i];
    int64_t rows = 3 * 3 * 2, np = 7, p0 = 5;
    int16_t ci[18 * 7];
    float cf[18 * 7];
    dfp_im2col_tile(&g, xi, sizeof(int16_t), p0, np, ci, np);
    dfp_im2col_tile(&g, xf, sizeof(float), p0, np, cf, np);
    for (int64_t i = 0; i < rows * np; i++)
        CHECK((float)ci[i] == cf[i]);
}

static void check_validation(void)
{
    float b[64] = {0};
    int32_t arg[16];
    uint8_t mask[4];
    dfp_conv2d_shape s = {1, 1, 4, 4, 1, 3, 3, 1, 1, 0, 0, 1, 1};
    CHECK(dfp_conv2d_forward_f32(NULL, b, b, NULL, b) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_conv2d_forward_f32(&s, NULL, b, NULL, b) == DFP_ERR_NULL_POINTER);
    s.kernel_h = 5;
    CHECK(dfp_conv2d_forward_f32(&s, b, b, NULL, b) == DFP_ERR_INVALID_SHAPE);
    s.kernel_h = 3, s.stride_w = 0;
    CHECK(dfp_conv2d_backward_data_f32(&s, b, b, b) == DFP_ERR_INVALID_ARGUMENT);
    s.stride_w = 1, s.batch = 0;
    CHECK(dfp_conv2d_backward_weight_f32(&s, b, b, b) == DFP_ERR_INVALID_SHAPE);
    dfp_pool2d_shape p = {1, 1, 4, 4, 2, 2, 2, 2, 2, 0};
    CHECK(dfp_max_pool2d_forward_f32(&p, b, b, arg) == DFP_ERR_INVALID_ARGUMENT); /* pad > kernel/2 */
    p.pad_h = 0;
    CHECK(dfp_avg_pool2d_forward_f32(&p, b, NULL) == DFP_ERR_NULL_POINTER);
    int32_t bad[4] = {0, 1, 16, 2};
    CHECK(dfp_max_pool2d_backward_f32(1, 16, 4, b, bad, b) == DFP_ERR_INVALID_ARGUMENT);
    CHECK(dfp_relu_forward_f32(0, b, b, mask) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_batch_norm_stats_f32(1, 0, 4, b, b, b) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_batch_norm_stats_from_planes_f32(1, 1, 0, (const double *)b, b, b) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_batch_norm_stats_from_planes_f32(1, 1, 4, NULL, b, b) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_conv2d_forward_f32_sums(NULL, b, b, NULL, b, NULL) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_batch_norm_apply_f32(1, 1, 4, b, NULL, b, 0, b) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_batch_norm_relu_forward_f32(1, 1, 0, b, b, b, b, b) == DFP_ERR_INVALID_SHAPE);
    CHECK(dfp_batch_norm_relu_forward_f32(1, 1, 4, b, b, b, b, NULL) == DFP_ERR_NULL_POINTER);
    CHECK(dfp_batch_norm_relu_backward_f32(0, 1, 4, b, b, b, NULL, NULL, b, b, b, 1, b, NULL, b, b) ==
          DFP_ERR_INVALID_SHAPE);
    /* no y, and no scale and shift to recompute the mask with */
    CHECK(dfp_batch_norm_relu_backward_f32(1, 1, 4, b, NULL, b, NULL, b, b, b, b, 1, b, NULL, b, b) ==
          DFP_ERR_NULL_POINTER);
}

int main(void)
{
    check_conv((dfp_conv2d_shape){2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1});
    check_conv((dfp_conv2d_shape){3, 5, 11, 9, 7, 3, 2, 2, 1, 1, 1, 1, 2});
    check_conv((dfp_conv2d_shape){1, 4, 13, 7, 6, 2, 3, 3, 2, 2, 0, 2, 1});
    check_conv((dfp_conv2d_shape){2, 6, 7, 8, 4, 1, 1, 1, 1, 0, 0, 1, 1});   /* 1x1: no im2col */
    check_conv((dfp_conv2d_shape){1, 16, 40, 40, 8, 3, 3, 1, 1, 1, 1, 1, 1}); /* several tiles */
    check_im2col_int16();
    check_validation();
    return TEST_RESULT();
}
