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

# ---------------------------------------------------------------- validation


def _array(name, x, ndim=None, dtype=np.float32):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, received {type(x).__name__}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {np.dtype(dtype)}, received {x.dtype}")
    if ndim is not None and x.ndim not in (ndim if isinstance(ndim, (tuple, list)) else (ndim,)):
        raise ValueError(f"{name}: expected {ndim}-d array, received shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(f"{name}: expected a C-contiguous array, received strides {x.strides}"
                         f" for shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, received shape {x.shape}")
    return x


def _pair(name, value, minimum):
    if (not isinstance(value, tuple) or len(value) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name}: expected an (h, w) tuple of ints, received {value!r}")
    if min(value) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, received {value}")
    return int(value[0]), int(value[1])


def _shape4(name, value):
    if not isinstance(value, tuple) or len(value) != 4 or not all(
            isinstance(v, (int, np.integer)) and v > 0 for v in value):
        raise ValueError(f"{name}: expected a tuple of 4 positive ints, received {value!r}")
    return tuple(int(v) for v in value)


def _fp32_only(fmt):
    if fmt is None:
        return
    a, b = getattr(fmt, "a", None), getattr(fmt, "b", None)
    if a is None or b is None:
        raise TypeError(f"fmt: expected a GemmFormat or None, received {type(fmt).__name__}")
    if a.name != "fp32" or b.name != "fp32":
        raise NotImplementedError(
            f"the numpy reference computes FP32 only; fmt asks for ({a.name}, {b.name})")


def _channels(name, v, c):
    _array(name, v, ndim=1)
    if v.shape != (c,):
        raise ValueError(f"{name}: expected shape ({c},), received {v.shape}")
    return v


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


# ---------------------------------------------------------------- batch norm


def _bn_input(name, x):
    _array(name, x, ndim=(2, 4))
    return x if x.ndim == 4 else x.reshape(x.shape + (1, 1))


def batch_norm_stats(x):
    """Per-channel mean and biased variance over N, H, W (float64 sums, float32 results)."""
    x4 = _bn_input("x", x)
    mean = x4.mean(axis=(0, 2, 3), dtype=np.float64)
    var = np.square(x4 - mean[None, :, None, None]).mean(axis=(0, 2, 3), dtype=np.float64)
    return mean.astype(np.float32), var.astype(np.float32)


def batch_norm_stats_from_planes(sums, hw):
    """batch_norm_stats from per-plane sums: sums[b, c] = (s, sum of (x - s), sum of (x - s)^2)
    over plane (b, c) of hw values, s its first value; each plane's sums moved to image 0's s
    and added in image order (the native merge, the same doubles)."""
    if not isinstance(sums, np.ndarray) or sums.dtype != np.float64 or sums.ndim != 3 or sums.shape[2] != 3:
        raise ValueError(f"sums: expected a float64 array of shape (N, C, 3), received "
                         f"{getattr(sums, 'dtype', type(sums).__name__)} {getattr(sums, 'shape', '')}")
    if not isinstance(hw, (int, np.integer)) or hw < 1:
        raise ValueError(f"hw: expected a positive int, received {hw!r}")
    s0 = sums[0, :, 0]
    s, q = np.zeros_like(s0), np.zeros_like(s0)
    for b in range(sums.shape[0]):
        d = sums[b, :, 0] - s0
        q += sums[b, :, 2] + 2 * d * sums[b, :, 1] + float(hw) * d * d
        s += sums[b, :, 1] + float(hw) * d
    count = float(sums.shape[0]) * hw
    dm = s / count
    var = q / count - dm * dm
    return (s0 + dm).astype(np.float32), np.where(var > 0, var, 0.0).astype(np.float32)


def batch_norm_apply(x, scale, shift, relu=False):
    """`x * scale[c] + shift[c]`, then ReLU when `relu`."""
    x4 = _bn_input("x", x)
    c = x4.shape[1]
    _channels("scale", scale, c)
    _channels("shift", shift, c)
    y = x4 * scale[None, :, None, None] + shift[None, :, None, None]
    if relu:
        y = np.maximum(y, np.float32(0))
    return y.reshape(x.shape)


def batch_norm_backward(dy, x, mean, invstd, gamma):
    """Training-mode BN backward: `(dx, dgamma, dbeta)` for y = gamma * (x - mean) * invstd + beta,
    with mean and invstd the batch statistics (so they depend on x)."""
    x4 = _bn_input("x", x)
    dy4 = _bn_input("dy", dy)
    if dy.shape != x.shape:
        raise ValueError(f"dy: expected shape {x.shape} (as x), received {dy.shape}")
    c = x4.shape[1]
    for name, v in (("mean", mean), ("invstd", invstd), ("gamma", gamma)):
        _channels(name, v, c)
    count = x4.shape[0] * x4.shape[2] * x4.shape[3]
    per_channel = (None, slice(None), None, None)
    xhat = (x4 - mean[per_channel]) * invstd[per_channel]
    dbeta = dy4.sum(axis=(0, 2, 3), dtype=np.float64)
    dgamma = (dy4 * xhat).sum(axis=(0, 2, 3), dtype=np.float64)
    k = (gamma * invstd / count)[per_channel]
    dx = k * (count * dy4 - dbeta.astype(np.float32)[per_channel]
              - xhat * dgamma.astype(np.float32)[per_channel])
    return dx.astype(np.float32).reshape(x.shape), dgamma.astype(np.float32), dbeta.astype(np.float32)


def _same_shape(name, a, x):
    if a.shape != x.shape:
        raise ValueError(f"{name}: expected shape {x.shape} (as x), received {a.shape}")


def batch_norm_relu_forward(x, scale, shift, residual=None):
    """`max(x * scale[c] + shift[c] + residual, 0)`: batch_norm_apply, the add, then ReLU."""
    if residual is not None:
        _array("residual", residual, ndim=(2, 4))
        _same_shape("residual", residual, x)
    y = batch_norm_apply(x, scale, shift)
    if residual is not None:
        y = y + residual
    return np.maximum(y, np.float32(0))


def batch_norm_relu_backward(dy, y, x, mean, invstd, gamma, training=True, residual=False, scale=None,
                             shift=None):
    """`(dx, dgamma, dbeta, dresidual)` of batch_norm_relu_forward from dy and its output y
    (relu' = y > 0); dresidual is the masked dy when `residual`, else None. `training`: mean and
    invstd are batch statistics (they depend on x); otherwise constants. Without a residual, y
    may be None with the forward's scale and shift: the mask is then x * scale + shift > 0."""
    x4 = _bn_input("x", x)
    if y is None and (scale is None or shift is None or residual):
        raise ValueError("batch_norm_relu_backward: without y, scale and shift are required "
                         "and residual must be False")
    for name, a in (("dy", dy),) + ((("y", y),) if y is not None else ()):
        _bn_input(name, a)
        _same_shape(name, a, x)
    c = x4.shape[1]
    for name, v in (("mean", mean), ("invstd", invstd), ("gamma", gamma)):
        _channels(name, v, c)
    if y is None:  # the forward's z: z > 0 wherever relu(z) > 0
        y = batch_norm_apply(x, scale, shift)
    g = np.where(y > 0, dy, np.float32(0))
    if training:
        dx, dgamma, dbeta = batch_norm_backward(g, x, mean, invstd, gamma)
    else:
        per_channel = (None, slice(None), None, None)
        g4 = g.reshape(x4.shape)
        xhat = (x4 - mean[per_channel]) * invstd[per_channel]
        dgamma = (g4 * xhat).sum(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
        dbeta = g4.sum(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
        dx = (g4 * (gamma * invstd)[per_channel]).reshape(x.shape)
    return dx, dgamma, dbeta, (g if residual else None)


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
