# Declarations from native/include/dfpengine.h, section "float formats".
# tests/test_capi.py checks every name here against the header.
from libc.stdint cimport int16_t, int32_t, int64_t, uint64_t
from dfpengine._native.libdfp_core cimport dfp_status
from dfpengine._native.libdfp_fp32 cimport dfp_conv2d_shape

cdef extern from "dfpengine.h" nogil:
    ctypedef enum dfp_float_format_id:
        DFP_FMT_FP8
        DFP_FMT_FP16_169
        DFP_FMT_BINARY16
        DFP_FMT_BF16
    ctypedef enum dfp_rounding:
        DFP_ROUND_NEAREST
        DFP_ROUND_STOCHASTIC
    ctypedef struct dfp_float_format:
        int exp_bits
        int man_bits
        int bias
        int saturate
    ctypedef struct dfp_fpemu_gemm_params:
        dfp_float_format in_a
        dfp_float_format in_b
        dfp_float_format acc
        dfp_rounding in_rounding
        dfp_rounding acc_rounding
        int64_t chunk
        uint64_t seed
        uint64_t stream
    dfp_status dfp_float_format_get(dfp_float_format_id id, dfp_float_format *fmt)
    dfp_status dfp_float_format_max(const dfp_float_format *fmt, float *max_value)
    dfp_status dfp_float_round(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed, uint64_t stream, uint64_t index0, const float *x, float *y, int64_t n)
    dfp_status dfp_float_encode(const dfp_float_format *fmt, dfp_rounding rounding, uint64_t seed, uint64_t stream, uint64_t index0, const float *x, void *codes, int64_t n)
    dfp_status dfp_float_decode(const dfp_float_format *fmt, const void *codes, float *y, int64_t n)
    dfp_status dfp_gemm_fpemu(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc, const dfp_fpemu_gemm_params *params)
    dfp_status dfp_bfp_quantize(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block, int mag_bits, int floor_exponent, dfp_rounding rounding, uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp, float *y)
    dfp_status dfp_bfp_quantize_transposed(const float *x, int64_t rows, int64_t cols, int64_t ldx, int block, int mag_bits, int floor_exponent, dfp_rounding rounding, uint64_t seed, uint64_t stream, int16_t *mant, int32_t *scale_exp, float *y)
    dfp_status dfp_gemm_bfp(int64_t m, int64_t n, int64_t k, int block, const int16_t *ka, const int32_t *sa, const int16_t *kb, const int32_t *sb, float *c, int64_t ldc)
    ctypedef struct dfp_bfp_operand:
        const float *x
        int64_t row_stride
        int64_t k_stride
        int block
        int mag_bits
        int floor_exponent
        dfp_rounding rounding
        uint64_t seed
        uint64_t stream
    dfp_status dfp_gemm_bfp_f32(int64_t m, int64_t n, int64_t k, const dfp_bfp_operand *a, const dfp_bfp_operand *b, float *c, int64_t ldc)
    dfp_status dfp_conv2d_im2col_f32(const dfp_conv2d_shape *shape, const float *x, float *cols)
    dfp_status dfp_conv2d_col2im_f32(const dfp_conv2d_shape *shape, const float *cols, float *dx)
    ctypedef struct dfp_bfp_format:
        int block
        int mag_bits
        int floor_exponent
        dfp_rounding rounding
        uint64_t seed
        uint64_t stream
    dfp_status dfp_conv2d_bfp_forward(const dfp_conv2d_shape *shape, const float *x, const dfp_bfp_format *fx, const float *w, const dfp_bfp_format *fw, float *y)
    dfp_status dfp_conv2d_bfp_backward_data(const dfp_conv2d_shape *shape, const float *dy, const dfp_bfp_format *fdy, const float *w, const dfp_bfp_format *fw, float *dx)
    dfp_status dfp_conv2d_bfp_backward_weight(const dfp_conv2d_shape *shape, const float *x, const dfp_bfp_format *fx, const float *dy, const dfp_bfp_format *fdy, float *dw)
    dfp_status dfp_conv2d_fpemu_forward(const dfp_conv2d_shape *shape, const float *x, const float *w, const dfp_fpemu_gemm_params *p, float *y)
    dfp_status dfp_conv2d_fpemu_backward_data(const dfp_conv2d_shape *shape, const float *dy, const float *w, const dfp_fpemu_gemm_params *p, float *dx)
    dfp_status dfp_conv2d_fpemu_backward_weight(const dfp_conv2d_shape *shape, const float *x, const float *dy, const dfp_fpemu_gemm_params *p, float *dw)
