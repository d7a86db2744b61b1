"""Conv passes of the float formats (fp8, fp16_169, binary16, bf16) a few images
at a time in C (`dfp_conv2d_fpemu_*`): bit for bit the im2col GEMMs of
`_im2col_conv` (which the tests compare against `formats.floats.gemm_fp8`),
without the batch's im2col matrix and the NHWC copies around it.

Only nearest rounding (inputs and sums, the presets' choice) goes to C: then
an output element depends only on its two K vectors, not on where they sit in
the matrices, and WTGRAD's sum over the batch goes on from slice to slice.
Stochastic rounding draws by position in the whole matrices and takes the
im2col GEMMs. Each pass takes one GEMM call index from `_lowp_streams`, as the
GEMM would.
"""
from . import _emu, _im2col_conv, _lowp_streams, reference as _ref


def _params(fmt):
    """(in_a, in_b, acc, chunk) of fmt as the C formats, or None when a rounding is stochastic."""
    from dfpengine.formats import floats
    if fmt.a.rounding != "nearest" or fmt.b.rounding != "nearest" or \
            fmt.a.param("acc_rounding", "nearest") != "nearest":
        return None
    acc = floats.float_format(fmt.a.param("acc", floats.DEFAULT_ACC)).native()
    return (floats.float_format(fmt.a).native(), floats.float_format(fmt.b).native(), acc,
            int(fmt.a.param("chunk", floats.DEFAULT_CHUNK)))


def passes(gemm):
    """conv2d_{forward,backward_data,backward_weight}_quantized of a float format provider
    whose GEMM (for stochastic rounding) is `gemm`."""
    im2col_fwd, im2col_bwd_data, im2col_bwd_weight = _im2col_conv.conv_passes(gemm)

    def conv2d_forward_quantized(x, w, bias, stride, padding, dilation, fmt=None):
        params = _params(fmt)
        if params is None:
            return im2col_fwd(x, w, bias, stride, padding, dilation, fmt)
        _ref._array("x", x, ndim=4)
        _ref._array("w", w, ndim=4)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
        _lowp_streams.next_call(fmt)
        y = _emu.conv_fpemu_forward(x, w, stride, padding, dilation, y_shape, *params)
        if bias is not None:
            y += _ref._channels("bias", bias, w.shape[0]).reshape(-1, 1, 1)
        return y

    def conv2d_backward_data_quantized(dy, w, x_shape, stride, padding, dilation, fmt=None):
        params = _params(fmt)
        if params is None:
            return im2col_bwd_data(dy, w, x_shape, stride, padding, dilation, fmt)
        _ref._array("w", w, ndim=4)
        x_shape = _ref._shape4("x_shape", x_shape)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
        _ref._check_dy(dy, y_shape)
        _lowp_streams.next_call(fmt)
        # bprop's accumulator is fmt.a's (the im2col GEMM moves it to the swapped operand)
        return _emu.conv_fpemu_backward_data(dy, w, x_shape, stride, padding, dilation, *params)

    def conv2d_backward_weight_quantized(x, dy, w_shape, stride, padding, dilation, fmt=None):
        params = _params(fmt)
        if params is None:
            return im2col_bwd_weight(x, dy, w_shape, stride, padding, dilation, fmt)
        _ref._array("x", x, ndim=4)
        w_shape = _ref._shape4("w_shape", w_shape)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
        _ref._check_dy(dy, y_shape)
        _lowp_streams.next_call(fmt)
        return _emu.conv_fpemu_backward_weight(x, dy, w_shape, stride, padding, dilation, *params)

    return conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized
