"""Conv passes of the block formats (hbfp, hbfp8/6/4) image by image in C
(`dfp_conv2d_bfp_*`): the same results, bit for bit, as the im2col GEMMs of
`_im2col_conv` (which the tests compare against the GEMM oracles), without the
batch's im2col matrix and the NHWC copies around it.

Operand formats and stochastic streams are those the im2col formulation gives
its GEMM operands (see `_hbfp_ops`): call index i from `_lowp_streams`, op(a)
stream 2i, op(b) stream 2i+1, with bprop's operands swapped (`_im2col_conv._swap`).
Formats the C path does not take (odd blocks, blocks whose sums could leave
INT32) go through the im2col GEMMs instead.
"""
from . import _emu, _im2col_conv, _lowp_streams, reference as _ref


def _formats(fmt):
    from dfpengine.formats import hbfp
    fa, fb = hbfp.block_format(fmt.a), hbfp.block_format(fmt.b)
    if fa.block != fb.block:
        raise ValueError(f"conv: block formats of the two operands must share a block size, "
                         f"got {fa.block} and {fb.block}")
    return fa, fb


def _on_integers(fa, fb):
    return fa.block % 2 == 0 and fa.block * (2 ** fa.mag_bits - 1) * (2 ** fb.mag_bits - 1) < 2 ** 31


def _operands(fmt, fa, fb):
    """(op(a), op(b)) as (block, mag_bits, floor_exponent, rounding, seed, stream), taking
    the GEMM's call index."""
    seed, call = _lowp_streams.seed(fmt), _lowp_streams.next_call(fmt)
    return tuple((f.block, f.mag_bits, f.floor_exponent, f.rounding, seed, 2 * call + i)
                 for i, f in enumerate((fa, fb)))


def passes(gemm):
    """conv2d_{forward,backward_data,backward_weight}_quantized of a block format
    provider whose GEMM (for the fallback) is `gemm`."""
    im2col_fwd, im2col_bwd_data, im2col_bwd_weight = _im2col_conv.conv_passes(gemm)

    def conv2d_forward_quantized(x, w, bias, stride, padding, dilation, fmt=None):
        fa, fb = _formats(fmt)
        if not _on_integers(fa, fb):
            return im2col_fwd(x, w, bias, stride, padding, dilation, fmt)
        _ref._array("x", x, ndim=4)
        _ref._array("w", w, ndim=4)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w.shape, stride, padding, dilation)
        fx, fw = _operands(fmt, fa, fb)
        y = _emu.conv_bfp_forward(x, w, stride, padding, dilation, y_shape, fx, fw)
        if bias is not None:
            y += _ref._channels("bias", bias, w.shape[0]).reshape(-1, 1, 1)
        return y

    def conv2d_backward_data_quantized(dy, w, x_shape, stride, padding, dilation, fmt=None):
        swapped = _im2col_conv._swap(fmt)
        fa, fb = _formats(swapped)
        if not _on_integers(fa, fb):
            return im2col_bwd_data(dy, w, x_shape, stride, padding, dilation, fmt)
        _ref._array("w", w, ndim=4)
        x_shape = _ref._shape4("x_shape", x_shape)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x_shape, w.shape, stride, padding, dilation)
        _ref._check_dy(dy, y_shape)
        fw, fdy = _operands(swapped, fa, fb)
        return _emu.conv_bfp_backward_data(dy, w, x_shape, stride, padding, dilation, fdy, fw)

    def conv2d_backward_weight_quantized(x, dy, w_shape, stride, padding, dilation, fmt=None):
        fa, fb = _formats(fmt)
        _ref._array("x", x, ndim=4)
        w_shape = _ref._shape4("w_shape", w_shape)
        stride, padding, dilation, y_shape = _ref._conv_geometry(x.shape, w_shape, stride, padding, dilation)
        if not _on_integers(fa, fb):
            return im2col_bwd_weight(x, dy, w_shape, stride, padding, dilation, fmt)
        _ref._check_dy(dy, y_shape)
        fdy, fx = _operands(fmt, fa, fb)
        return _emu.conv_bfp_backward_weight(x, dy, w_shape, stride, padding, dilation, fx, fdy)

    return conv2d_forward_quantized, conv2d_backward_data_quantized, conv2d_backward_weight_quantized
