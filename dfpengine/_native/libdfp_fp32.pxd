# Declarations from native/include/dfpengine.h, section "FP32 compute".
from libc.stdint cimport int32_t, int64_t, uint8_t
from dfpengine._native.libdfp_core cimport dfp_status

cdef extern from "dfpengine.h" nogil:
    dfp_status dfp_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc)

    ctypedef struct dfp_conv2d_shape:
        int64_t batch, in_channels, in_h, in_w, out_channels, kernel_h, kernel_w
        int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w
    dfp_status dfp_conv2d_output_size(const dfp_conv2d_shape *shape, int64_t *out_h, int64_t *out_w)
    dfp_status dfp_conv2d_forward_f32(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                      const float *bias, float *y)
    dfp_status dfp_conv2d_forward_f32_sums(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                           const float *bias, float *y, double *y_sums)
    dfp_status dfp_conv2d_backward_data_f32(const dfp_conv2d_shape *shape, const float *dy,
                                            const float *w, float *dx)
    dfp_status dfp_conv2d_backward_weight_f32(const dfp_conv2d_shape *shape, const float *x,
                                              const float *dy, float *dw)

    dfp_status dfp_relu_forward_f32(int64_t n, const float *x, float *y, uint8_t *mask)
    dfp_status dfp_add_f32(int64_t n, const float *a, const float *b, float *out)
    dfp_status dfp_subsample_pad_f32(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride,
                                     int64_t before, int64_t after, const float *x, float *y)
    dfp_status dfp_subsample_pad_backward_f32(int64_t n, int64_t c, int64_t h, int64_t w,
                                              int64_t stride, int64_t before, int64_t after,
                                              const float *dy, float *dx)
    dfp_status dfp_relu_backward_f32(int64_t n, const float *dy, const uint8_t *mask, float *dx)
    dfp_status dfp_batch_norm_stats_f32(int64_t n, int64_t c, int64_t hw, const float *x,
                                        float *mean, float *var)
    dfp_status dfp_batch_norm_stats_from_planes_f32(int64_t n, int64_t c, int64_t hw, const double *sums,
                                                    float *mean, float *var)
    dfp_status dfp_batch_norm_apply_f32(int64_t n, int64_t c, int64_t hw, const float *x,
                                        const float *scale, const float *shift, int relu, float *y)
    dfp_status dfp_batch_norm_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy,
                                           const float *x, const float *mean, const float *invstd,
                                           const float *gamma, float *dx, float *dgamma,
                                           float *dbeta)
    dfp_status dfp_batch_norm_relu_forward_f32(int64_t n, int64_t c, int64_t hw, const float *x,
                                               const float *scale, const float *shift,
                                               const float *residual, float *y)
    dfp_status dfp_batch_norm_relu_backward_f32(int64_t n, int64_t c, int64_t hw, const float *dy,
                                                const float *y, const float *x, const float *scale,
                                                const float *shift, const float *mean,
                                                const float *invstd, const float *gamma, int training,
                                                float *dx, float *dresidual, float *dgamma,
                                                float *dbeta)

    ctypedef struct dfp_pool2d_shape:
        int64_t batch, channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w
    dfp_status dfp_pool2d_output_size(const dfp_pool2d_shape *shape, int64_t *out_h, int64_t *out_w)
    dfp_status dfp_max_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y,
                                          int32_t *argmax)
    dfp_status dfp_max_pool2d_backward_f32(int64_t planes, int64_t in_plane, int64_t out_plane,
                                           const float *dy, const int32_t *argmax, float *dx)
    dfp_status dfp_avg_pool2d_forward_f32(const dfp_pool2d_shape *shape, const float *x, float *y)
    dfp_status dfp_avg_pool2d_backward_f32(const dfp_pool2d_shape *shape, const float *dy, float *dx)
