"""Numpy reference for every function of docs/native_contract.md, the living
definition of the semantics: the C kernels are tested against it, and
`dfpengine._native` falls back to it for any function no compiled module
provides. FP32 only (`fmt` None, or a GemmFormat whose inputs are both "fp32").
Rules the kernels share with it:
- Inputs are C-contiguous numpy arrays, floats float32; empty arrays (a
  zero-sized dimension) raise ValueError.
- NaN propagates (IEEE); `relu_forward(nan)` gives y = nan and mask = 0; max
  pooling picks NaN when a window holds one.
- Convolution has no groups; output sizes `(H + 2*pad - dil*(K - 1) - 1) //
  stride + 1`, at least 1. Pooling pads with -inf (max) or zeros counted in
  the divisor (avg); padding is at most half the kernel, as in PyTorch.
"""
import numpy as np

# the dispatch and thread functions of the contract: stand-ins for a numpy-only build
from .reference_dispatch import (ISA_LEVELS, get_num_threads, isa_compiled, isa_selected,  # noqa: F401
                                 isa_supported, select_isa, set_num_threads)

# argument checks and batch norm live in their own modules; the names stay reachable
# here, where the compiled glue and the tests look for them
from .reference_checks import _array, _channels, _fp32_only, _pair, _shape4  # noqa: F401
from .reference_norm import (_bn_input, batch_norm_apply, batch_norm_backward,  # noqa: F401
                             batch_norm_relu_backward, batch_norm_relu_forward, batch_norm_stats,
                             batch_norm_stats_from_planes)

# ---------------------------------------------------------------------- gemm


def gemm(a, b, trans_a=False, trans_b=False, fmt=None):
    """`op(a) @ op(b)` in float32, op = transpose when the flag is set."""
    _array("a", a, ndim=2)
    _array("b", b, ndim=2)
    _fp32_only(fmt)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    if opa.shape[1] != opb.shape[0]:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is {opa.shape}, op(b) is {opb.shape}")
    return np.matmul(opa, opb, dtype=np.float32)


# --------------------------------------------------------------- convolution


def _conv_geometry(x_shape, w_shape, stride, padding, dilation):
    stride = _pair("stride", stride, 1)
    padding = _pair("padding", padding, 0)
    dilation = _pair("dilation", dilation, 1)
    n, c, h, w = x_shape
    o, wc, kh, kw = w_shape
    if wc != c:
        raise ValueError(f"w: expected {c} input channels (x has shape {x_shape}), "
                         f"received weight shape {w_shape}")
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"conv2d: kernel {(kh, kw)} with dilation {dilation} does not fit input "
                         f"{(h, w)} padded by {padding}")
    return stride, padding, dilation, (n, o, oh, ow)


def _tap_slices(kh, kw, stride, padding, dilation, oh, ow):
    """Yield ((i, j), row slice, column slice) into the padded input, one per kernel tap."""
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dilation[0], j * dilation[1]
            yield (i, j), slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0]), \
                slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1])


def _im2col(x, kh, kw, stride, padding, dilation, oh, ow):
    """Rows (n, oh, ow), columns (c, kh, kw): the matrix whose product with the weight is the conv."""
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    cols = np.empty((n, oh, ow, c, kh, kw), dtype=np.float32)
    for (i, j), rows, columns in _tap_slices(kh, kw, stride, padding, dilation, oh, ow):
        cols[:, :, :, :, i, j] = xp[:, :, rows, columns].transpose(0, 2, 3, 1)
    return cols.reshape(n * oh * ow, c * kh * kw)


def conv2d_forward(x, w, bias, stride, padding, dilation, fmt=None):
    """Cross-correlation of NCHW `x` with OIHW `w`, plus `bias[o]` when given."""
    _array("x", x, ndim=4)
    _array("w", w, ndim=4)
    _fp32_only(fmt)
    stride, padding, dilation, (n, o, oh, ow) = _conv_geometry(x.shape, w.shape, stride, padding, dilation)
    cols = _im2col(x, w.shape[2], w.shape[3], stride, padding, dilation, oh, ow)
    y = np.matmul(cols, w.reshape(o, -1).T, dtype=np.float32)
    if bias is not None:
        y += _channels("bias", bias, o)
    return np.ascontiguousarray(y.reshape(n, oh, ow, o).transpose(0, 3, 1, 2))


def _check_dy(dy, expected):
    _array("dy", dy, ndim=4)
    if dy.shape != expected:
        raise ValueError(f"dy: expected shape {expected} (the conv output), received {dy.shape}")


def conv2d_backward_data(dy, w, x_shape, stride, padding, dilation, fmt=None):
    """Gradient of the conv output with respect to its input, shaped `x_shape`."""
    _array("w", w, ndim=4)
    x_shape = _shape4("x_shape", x_shape)
    _fp32_only(fmt)
    stride, padding, dilation, y_shape = _conv_geometry(x_shape, w.shape, stride, padding, dilation)
    _check_dy(dy, y_shape)
    n, c, h, wd = x_shape
    o, _, kh, kw = w.shape
    oh, ow = y_shape[2:]
    dcols = np.matmul(dy.transpose(0, 2, 3, 1).reshape(-1, o), w.reshape(o, -1), dtype=np.float32)
    dcols = dcols.reshape(n, oh, ow, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]), dtype=np.float32)
    for (i, j), rows, columns in _tap_slices(kh, kw, stride, padding, dilation, oh, ow):
        dxp[:, :, rows, columns] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return np.ascontiguousarray(dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + wd])


def conv2d_backward_weight(x, dy, w_shape, stride, padding, dilation, fmt=None):
    """Gradient of the conv output with respect to its weight, shaped `w_shape`."""
    _array("x", x, ndim=4)
    w_shape = _shape4("w_shape", w_shape)
    _fp32_only(fmt)
    stride, padding, dilation, y_shape = _conv_geometry(x.shape, w_shape, stride, padding, dilation)
    _check_dy(dy, y_shape)
    o, _, kh, kw = w_shape
    cols = _im2col(x, kh, kw, stride, padding, dilation, *y_shape[2:])
    dw = np.matmul(dy.transpose(1, 0, 2, 3).reshape(o, -1), cols, dtype=np.float32)
    return dw.reshape(w_shape)


# ---------------------------------------------------------------------- relu


def relu_forward(x):
    """`(max(x, 0), mask)`; mask is uint8, 1 where x > 0 (so 0 for NaN, which y keeps)."""
    _array("x", x)
    mask = (x > 0).view(np.uint8)
    # np.maximum propagates NaN, the rule the kernels follow
    return np.maximum(x, np.float32(0)), mask


def relu_backward(dy, mask):
    _array("dy", dy)
    _array("mask", mask, dtype=np.uint8)
    if mask.shape != dy.shape:
        raise ValueError(f"mask: expected shape {dy.shape} (as dy), received {mask.shape}")
    return np.where(mask != 0, dy, np.float32(0))


# ------------------------------------------------------------------- pooling


def _pool_geometry(x_shape, kernel, stride, padding):
    kernel = _pair("kernel", kernel, 1)
    stride = _pair("stride", stride, 1)
    padding = _pair("padding", padding, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding: expected at most half the kernel {kernel}, received {padding}")
    h, w = x_shape[2:]
    oh = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    ow = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"pool: kernel {kernel} does not fit input {(h, w)} padded by {padding}")
    return kernel, stride, padding, (oh, ow)


def max_pool2d_forward(x, kernel, stride, padding):
    """`(y, argmax)`: window maxima and the int32 index (into the H*W plane) of each.

    Taps are visited in row-major order and replace the running maximum when
    strictly greater or NaN, so ties keep the first tap, as in PyTorch."""
    _array("x", x, ndim=4)
    kernel, stride, padding, (oh, ow) = _pool_geometry(x.shape, kernel, stride, padding)
    h, w = x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=-np.inf)
    rows0 = np.arange(oh)[:, None] * stride[0] - padding[0]
    cols0 = np.arange(ow)[None, :] * stride[1] - padding[1]
    best = np.full(x.shape[:2] + (oh, ow), -np.inf, dtype=np.float32)
    argmax = np.broadcast_to(np.maximum(rows0, 0) * w + np.maximum(cols0, 0), best.shape).astype(np.int32)
    taps = _tap_slices(kernel[0], kernel[1], stride, padding, (1, 1), oh, ow)
    for (i, j), rows, columns in taps:
        v = xp[:, :, rows, columns]
        take = (v > best) | np.isnan(v)
        best = np.where(take, v, best)
        argmax = np.where(take, ((rows0 + i) * w + cols0 + j).astype(np.int32), argmax)
    return best, argmax


def max_pool2d_backward(dy, argmax, x_shape):
    """Scatter-add each dy into its window's argmax position."""
    _array("dy", dy, ndim=4)
    _array("argmax", argmax, ndim=4, dtype=np.int32)
    n, c, h, w = _shape4("x_shape", x_shape)
    if argmax.shape != dy.shape or dy.shape[:2] != (n, c):
        raise ValueError(f"argmax: expected shape {dy.shape} (as dy, with N, C of x_shape {x_shape}), "
                         f"received {argmax.shape}")
    if argmax.min() < 0 or argmax.max() >= h * w:
        raise ValueError(f"argmax: expected indices in [0, {h * w}), received [{argmax.min()}, {argmax.max()}]")
    plane = np.arange(n * c, dtype=np.int64).reshape(n, c, 1, 1) * (h * w)
    dx = np.bincount((argmax + plane).ravel(), weights=dy.ravel(), minlength=n * c * h * w)
    return dx.astype(np.float32).reshape(x_shape)


def avg_pool2d_forward(x, kernel, stride, padding):
    """Window means; zero padding counts in the divisor (count_include_pad=True)."""
    _array("x", x, ndim=4)
    kernel, stride, padding, (oh, ow) = _pool_geometry(x.shape, kernel, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    total = np.zeros(x.shape[:2] + (oh, ow), dtype=np.float32)
    for _, rows, columns in _tap_slices(kernel[0], kernel[1], stride, padding, (1, 1), oh, ow):
        total += xp[:, :, rows, columns]
    return total / np.float32(kernel[0] * kernel[1])


def avg_pool2d_backward(dy, x_shape, kernel, stride, padding):
    _array("dy", dy, ndim=4)
    x_shape = _shape4("x_shape", x_shape)
    kernel, stride, padding, (oh, ow) = _pool_geometry(x_shape, kernel, stride, padding)
    if dy.shape != x_shape[:2] + (oh, ow):
        raise ValueError(f"dy: expected shape {x_shape[:2] + (oh, ow)}, received {dy.shape}")
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=np.float32)
    share = dy / np.float32(kernel[0] * kernel[1])
    for _, rows, columns in _tap_slices(kernel[0], kernel[1], stride, padding, (1, 1), oh, ow):
        dxp[:, :, rows, columns] += share
    return np.ascontiguousarray(dxp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w])


# ------------------------------------------------------- residual shortcut


def _shortcut_args(what, stride, before, after):
    if stride < 1 or before < 0 or after < 0:
        raise ValueError(f"{what}: expected stride >= 1 and non-negative channel padding, "
                         f"received stride {stride}, before {before}, after {after}")


def subsample_pad(x, stride, before, after):
    """ResNet's option-A shortcut: x[:, :, ::stride, ::stride] with `before` zero channels in
    front and `after` behind."""
    x = _array("x", x, ndim=4)
    _shortcut_args("subsample_pad", stride, before, after)
    sub = x[:, :, ::stride, ::stride]
    y = np.zeros((x.shape[0], before + x.shape[1] + after) + sub.shape[2:], np.float32)
    y[:, before:before + x.shape[1]] = sub
    return y


def subsample_pad_backward(dy, x_shape, stride, before, after):
    """Gradient of subsample_pad: dy's middle channels at every stride-th pixel, zero elsewhere."""
    n, c, h, w = _shape4("x_shape", x_shape)
    dy = _array("dy", dy, ndim=4)
    _shortcut_args("subsample_pad_backward", stride, before, after)
    want = (n, before + c + after, -(-h // stride), -(-w // stride))
    if dy.shape != want:
        raise ValueError(f"subsample_pad_backward: dy: expected shape {want}, received {dy.shape}")
    dx = np.zeros((n, c, h, w), np.float32)
    dx[:, :, ::stride, ::stride] = dy[:, before:before + c]
    return dx
