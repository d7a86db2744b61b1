# Declarations from native/include/dfpengine.h, section "integer compute and formats".
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t
from dfpengine._native.libdfp_core cimport dfp_status
from dfpengine._native.libdfp_fp32 cimport dfp_conv2d_shape

cdef extern from "dfpengine.h" nogil:
    ctypedef enum dfp_rounding:
        DFP_ROUND_NEAREST
        DFP_ROUND_STOCHASTIC
        DFP_ROUND_BIASED
    ctypedef enum dfp_granularity:
        DFP_GRAN_TENSOR
        DFP_GRAN_ROW
        DFP_GRAN_BLOCK
    ctypedef struct dfp_dfp16_params:
        int shift
        dfp_rounding rounding
        uint64_t seed
        uint64_t stream
        int32_t expected_exponent
        int32_t use_expected_exponent
    ctypedef struct dfp_gemm_stats:
        int64_t flushes
        int64_t chunk_len
        int64_t saturations
        int64_t quantize_ns
        int64_t quantized
    int64_t dfp_dfp16_num_exponents(int64_t rows, int64_t cols, dfp_granularity gran, int64_t block)
    dfp_status dfp_dfp16_quantize(const float *x, int64_t rows, int64_t cols, dfp_granularity gran,
                                  int64_t block, const dfp_dfp16_params *params, int16_t *q,
                                  int32_t *exps, int64_t *saturations)
    dfp_status dfp_dfp16_dequantize(const int16_t *q, const int32_t *exps, int64_t rows, int64_t cols,
                                    dfp_granularity gran, int64_t block, float *x)
    dfp_status dfp_gemm_dfp16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                              const float *a, int64_t lda, const float *b, int64_t ldb,
                              float *c, int64_t ldc, int accumulate, const dfp_dfp16_params *pa,
                              const dfp_dfp16_params *pb, dfp_gemm_stats *stats)
    dfp_status dfp_gemm_s16(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                            const int16_t *a, int64_t lda, int32_t ea, const int16_t *b, int64_t ldb,
                            int32_t eb, float *c, int64_t ldc, int accumulate, dfp_gemm_stats *stats)
    dfp_status dfp_conv2d_forward_dfp16(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                        const float *bias, float *y, const dfp_dfp16_params *px,
                                        const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
    dfp_status dfp_conv2d_backward_data_dfp16(const dfp_conv2d_shape *shape, const float *dy,
                                              const float *w, float *dx, const dfp_dfp16_params *pdy,
                                              const dfp_dfp16_params *pw, dfp_gemm_stats *stats)
    dfp_status dfp_conv2d_backward_weight_dfp16(const dfp_conv2d_shape *shape, const float *x,
                                                const float *dy, float *dw,
                                                const dfp_dfp16_params *px,
                                                const dfp_dfp16_params *pdy, dfp_gemm_stats *stats)
    ctypedef struct dfp_dfp16_input:
        int16_t *pairs
        int32_t exponent
        int32_t max_abs
    int64_t dfp_conv2d_dfp16_input_size(const dfp_conv2d_shape *shape)
    dfp_status dfp_conv2d_forward_dfp16_keep(const dfp_conv2d_shape *shape, const float *x, const float *w,
                                             const float *bias, float *y, const dfp_dfp16_params *px,
                                             const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                             dfp_dfp16_input *kept, double *y_sums)
    ctypedef struct dfp_bn_relu_input:
        const float *scale
        const float *shift
        const float *residual
        float *out
    dfp_status dfp_conv2d_forward_dfp16_bn_relu(const dfp_conv2d_shape *shape, const float *x,
                                                const dfp_bn_relu_input *bn,
                                                const float *w, const float *bias, float *y,
                                                const dfp_dfp16_params *px, const dfp_dfp16_params *pw,
                                                dfp_gemm_stats *stats, dfp_dfp16_input *kept,
                                                double *y_sums)
    dfp_status dfp_conv2d_backward_weight_dfp16_kept(const dfp_conv2d_shape *shape,
                                                     const dfp_dfp16_input *kept, const float *dy,
                                                     float *dw, const dfp_dfp16_params *pdy,
                                                     dfp_gemm_stats *stats)
    int64_t dfp_conv2d_dfp16_grad_size(const dfp_conv2d_shape *shape)
    dfp_status dfp_conv2d_backward_data_dfp16_keep(const dfp_conv2d_shape *shape, const float *dy,
                                                   const float *w, float *dx,
                                                   const dfp_dfp16_params *pdy,
                                                   const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                                   dfp_dfp16_input *kept_dy)
    dfp_status dfp_conv2d_backward_data_dfp16_add(const dfp_conv2d_shape *shape, const float *dy,
                                                  const float *w, float *dx,
                                                  const dfp_dfp16_params *pdy,
                                                  const dfp_dfp16_params *pw, dfp_gemm_stats *stats,
                                                  dfp_dfp16_input *kept_dy)
    dfp_status dfp_conv2d_backward_weight_dfp16_codes(const dfp_conv2d_shape *shape,
                                                      const dfp_dfp16_input *kept_x,
                                                      const dfp_dfp16_input *kept_dy, float *dw,
                                                      dfp_gemm_stats *stats)
