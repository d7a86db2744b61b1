"""2-d convolution (NCHW, OIHW, no groups) through the native conv kernels."""
import numpy as np

from .. import _native, profiler
from ..autograd import is_grad_enabled, record
from ..tensor import Tensor
from .linear import gemm_formats


def pair(name, value):
    """An int or a pair of ints as an (h, w) tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(value)
    raise TypeError(f"{name}: expected an int or an (h, w) pair, received {value!r}")


def _conv_ops(x_shape, w_shape, stride, padding, dilation):
    """Arithmetic of one pass (a multiply-add counts 2); the same for all three passes."""
    oh, ow = ((x_shape[i + 2] + 2 * padding[i] - dilation[i] * (w_shape[i + 2] - 1) - 1) // stride[i] + 1
              for i in (0, 1))
    return 2 * x_shape[0] * oh * ow * int(np.prod(w_shape))


def _layer_exponents(layer):
    """The layer's dict of its inputs' last exponents (a guess only: results never depend on it)."""
    exps = getattr(layer, "_quant_exponents", None)
    if exps is None:
        exps = {}
        object.__setattr__(layer, "_quant_exponents", exps)
    return exps


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, layer=None):
    stride, padding, dilation = pair("stride", stride), pair("padding", padding), pair("dilation", dilation)
    fprop, bprop, wtgrad = gemm_formats(layer)
    xa, bn_relu = _input(x, fprop)
    wa = np.ascontiguousarray(weight.numpy())
    ba = None if bias is None else np.ascontiguousarray(bias.numpy())
    name = profiler.scope()
    ops = _conv_ops(xa.shape, wa.shape, stride, padding, dilation) if name else 0
    # x's quantised codes, kept from FPROP (and dy's from BPROP) for this layer's WTGRAD
    # when the formats allow; and the exponents x and dy got at this layer's last step
    # (integer formats quantise with them in one pass when they still hold)
    kept = {"exponents": _layer_exponents(layer)} if fprop is not None and wtgrad is not None else None
    sums = _plane_sums_wanted(layer, fprop, xa.shape[0], wa.shape[0])
    with profiler.region(name, "fprop", "conv", ops, 4 * (xa.size + wa.size)):
        y = _native.conv2d_forward(xa, wa, ba, stride, padding, dilation, fmt=fprop, cache=kept,
                                   bn_relu=bn_relu, y_sums=sums)
    if bn_relu is not None and bn_relu[3] is not None:
        x._data = bn_relu[3]  # batch norm's output, written by the quantising pass
    out = Tensor(y)
    if layer is not None:
        out.bn_plane_sums = (layer, y, sums)  # for a batch norm reading out (see norm.py)

    def backward(g, into=None):
        g = np.ascontiguousarray(g)
        dx = None
        if x.requires_grad:  # the first layer's input needs no gradient: skip its BPROP
            target = _addable(into, xa.shape)
            with profiler.region(name, "bprop", "conv", ops, 4 * (g.size + wa.size + xa.size)):
                dx = _native.conv2d_backward_data(g, wa, xa.shape, stride, padding, dilation, fmt=bprop,
                                                  cache=kept, add_into=target)
            if target is not None:  # added into (a view of) the walk's total: hand that back
                dx = into
        with profiler.region(name, "wtgrad", "conv", ops, 4 * (g.size + wa.size + xa.size)):
            # (an input the forward quantised from batch norm's: computed only if the codes
            # it kept cannot serve)
            dw = _native.conv2d_backward_weight(xa if bn_relu is None else x, g, wa.shape, stride, padding,
                                                dilation, fmt=wtgrad, cache=kept)
        if kept:
            kept.clear()      # the codes are needed by this one WTGRAD only
        return dx, dw, (g.sum(axis=(0, 2, 3)) if bias is not None else None)
    parents = (x, weight) if bias is None else (x, weight, bias)
    # dx, dw and db are new arrays; dx can be added into x's other gradient in the epilogue
    return record(out, parents, backward, fresh=True, adds_into=0)


def _plane_sums_wanted(layer, fmt, batch, out_ch):
    """An array for batch norm's plane sums of the output, where a training batch norm read
    this layer's output at an earlier step (it marks the layer) and the format writes them;
    else None (a batch norm then sums the output itself, one more pass over it)."""
    if (layer is None or not getattr(layer, "_feeds_batch_norm", False) or not is_grad_enabled()
            or not _native.writes_plane_sums(fmt)):
        return None
    return np.empty((batch, out_ch, 3), np.float64)


def _input(x, fmt):
    """(array, bn_relu) the forward reads: batch norm's input and (scale, shift, residual,
    out) where x is batch norm's deferred output and the format quantises it in one pass
    (out: a new array the pass writes batch norm's output into, where there is a residual,
    whose output the block's backward and the next block read); else x's array."""
    pending = getattr(x, "pending", None)
    if (pending is not None and pending[0] == "bn_relu" and pending[1].shape == x.shape
            and _native.fuses_bn_relu(fmt)):
        _, source, scale, shift, residual = pending
        out = None if residual is None else np.empty(x.shape, np.float32)
        return source, (scale, shift, residual, out)
    return np.ascontiguousarray(x.numpy()), None


def _addable(into, shape):
    """The running total `into` as the float32 C-contiguous array of x's shape the native
    add takes (a view of it, never a copy); None when it is not one."""
    if (into is None or into.dtype != np.float32 or into.size != int(np.prod(shape))
            or not into.flags.c_contiguous or not into.flags.writeable):
        return None
    return into.reshape(shape)
