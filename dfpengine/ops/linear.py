"""Matrix products through `_native.gemm`: matmul and linear (y = x W^T + b).

Formats come from the active precision policy for the layer doing the product,
asked once at forward time for all three passes, so a policy switched between
forward and backward cannot mix formats within one step.
"""
import numpy as np

from .. import _native, precision, profiler
from ..autograd import record
from ..tensor import Tensor, as_tensor


def gemm_formats(layer):
    """(fprop, bprop, wtgrad) GemmFormats for `layer`, with their stochastic-rounding stream keys
    (see precision.gemm_formats); all None (FP32) without a layer."""
    if layer is None:
        return (None, None, None)
    return precision.gemm_formats(layer)


def _rows(x):
    """`x` as a C-contiguous 2-d float32 array of rows (leading dims folded)."""
    return np.ascontiguousarray(x.reshape(-1, x.shape[-1]))


def matmul(a, b):
    """`a @ b` for a of shape (..., K) and b of shape (K, N)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim < 1 or b.ndim != 2 or a.shape[-1] != b.shape[0]:
        raise ValueError(f"matmul: expected shapes (..., K) and (K, N), received {a.shape} and {b.shape}")
    x, w = _rows(a.numpy()), np.ascontiguousarray(b.numpy())
    out_shape = a.shape[:-1] + (w.shape[1],)
    out = Tensor(_native.gemm(x, w).reshape(out_shape))

    def backward(g):
        g = _rows(g)
        return (_native.gemm(g, w, trans_b=True).reshape(a.shape),
                _native.gemm(x, g, trans_a=True))
    return record(out, (a, b), backward)


def linear(x, weight, bias=None, layer=None):
    """`x @ weight.T + bias`, x of shape (..., in), weight (out, in), bias (out,)."""
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: expected input (..., {weight.shape[-1]}) for weight {weight.shape}, "
                         f"received input {x.shape}")
    fprop, bprop, wtgrad = gemm_formats(layer)
    rows, w = _rows(x.numpy()), np.ascontiguousarray(weight.numpy())
    name = profiler.scope()
    ops = 2 * rows.shape[0] * w.size if name else 0
    nbytes = 4 * (rows.size + w.size + rows.shape[0] * w.shape[0])
    with profiler.region(name, "fprop", "linear", ops, nbytes):
        y = _native.gemm(rows, w, trans_b=True, fmt=fprop)
    if bias is not None:
        y += bias.numpy()
    out = Tensor(y.reshape(x.shape[:-1] + (w.shape[0],)))

    def backward(g):
        g = _rows(g)
        dx = None
        if x.requires_grad:
            with profiler.region(name, "bprop", "linear", ops, nbytes):
                dx = _native.gemm(g, w, fmt=bprop).reshape(x.shape)
        with profiler.region(name, "wtgrad", "linear", ops, nbytes):
            dw = _native.gemm(g, rows, trans_a=True, fmt=wtgrad)
        return dx, dw, (g.sum(axis=0) if bias is not None else None)
    parents = (x, weight) if bias is None else (x, weight, bias)
    return record(out, parents, backward)
