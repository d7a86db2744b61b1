"""Batch normalisation over the channel axis of (N, C), (N, C, L) or (N, C, H, W) input,
alone or fused with the residual add and ReLU that follow it in CNNs.

Training uses batch statistics and updates the running ones in place:
running = (1 - momentum) * running + momentum * batch, with the unbiased batch
variance, as PyTorch does. Statistics and arithmetic stay FP32 in every policy.
"""
import numpy as np

from .. import _native, profiler
from ..autograd import record
from ..tensor import DeferredTensor, LazyArray, Tensor


def _native_layout(x, what="batch_norm"):
    """Native BN takes (N, C) or (N, C, H, W); (N, C, L) travels as (N, C, L, 1)."""
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"{what}: expected input of shape (N, C), (N, C, L) or (N, C, H, W), "
                         f"received {x.shape}")
    a = np.ascontiguousarray(x.numpy())
    return a.reshape(a.shape + (1,)) if a.ndim == 3 else a


def _vector(t, c, fill, name, what):
    if t is None:
        return np.full(c, fill, dtype=np.float32)
    if t.shape != (c,):
        raise ValueError(f"{what}: expected {name} of shape ({c},) for input with {c} channels, "
                         f"received {t.shape}")
    return np.ascontiguousarray(t.numpy())


def _batch_statistics(x, xa):
    """Mean and biased variance per channel: from the plane sums the conv that made x took
    while its output was in cache (equal bit for bit to summing xa here), else from xa. A
    conv whose output was read here without sums is marked to take them from its next call."""
    made_by = getattr(x, "bn_plane_sums", None)
    if made_by is not None and xa.ndim == 4:
        layer, y, sums = made_by
        if sums is not None and y is xa:
            return _native.batch_norm_stats_from_planes(sums, xa.shape[2] * xa.shape[3])
        object.__setattr__(layer, "_feeds_batch_norm", True)
    return _native.batch_norm_stats(xa)


def _statistics(x, xa, running_mean, running_var, weight, bias, training, momentum, eps, what):
    """(gamma, beta, mean, invstd): batch statistics (running ones updated) or running ones."""
    c = xa.shape[1]
    gamma, beta = _vector(weight, c, 1.0, "weight", what), _vector(bias, c, 0.0, "bias", what)
    for name, stats in (("running_mean", running_mean), ("running_var", running_var)):
        _vector(stats, c, 0.0, name, what)
    if training:
        count = xa.size // c
        if count < 2:
            raise ValueError(f"{what}: expected more than 1 value per channel when training, "
                             f"received input of shape {x.shape}")
        mean, var = _batch_statistics(x, xa)
        if running_mean is not None:
            running_mean.numpy()[...] = (1 - momentum) * running_mean.numpy() + momentum * mean
            running_var.numpy()[...] = ((1 - momentum) * running_var.numpy()
                                        + momentum * var * np.float32(count / (count - 1)))
    else:
        if running_mean is None:
            raise ValueError(f"{what}: evaluation needs running_mean and running_var")
        mean, var = running_mean.numpy(), running_var.numpy()
    invstd = (1.0 / np.sqrt(var + np.float32(eps))).astype(np.float32)
    return gamma, beta, mean, invstd


def _record(out, x, weight, bias, backward, extra=()):
    """Parents are x, weight and bias (those given) and `extra`; backward returns a gradient for
    all, each a new array (the native kernels allocate them): autograd may add into them."""
    inputs = (x, weight, bias) + tuple(extra)
    parents = tuple(t for t in inputs if t is not None)
    return record(out, parents, lambda g: tuple(d for d, t in zip(backward(g), inputs) if t is not None),
                  fresh=True)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    xa = _native_layout(x)
    c = xa.shape[1]
    scope = profiler.scope()
    timer = profiler.region(scope, "fprop", "batch_norm", 0, 8 * xa.size)
    timer.__enter__()
    gamma, beta, mean, invstd = _statistics(x, xa, running_mean, running_var, weight, bias, training,
                                            momentum, eps, "batch_norm")
    scale = (gamma * invstd).astype(np.float32)
    y = _native.batch_norm_apply(xa, scale, (beta - mean * scale).astype(np.float32))
    out = Tensor(y.reshape(x.shape))
    timer.__exit__(None, None, None)

    def backward(g):
        with profiler.region(scope, "bprop", "batch_norm", 0, 12 * xa.size):
            return _backward(g)

    def _backward(g):
        ga = g.reshape(xa.shape).astype(np.float32, copy=False)
        if training:
            dx, dgamma, dbeta = _native.batch_norm_backward(
                np.ascontiguousarray(ga), xa, mean, invstd, gamma)
        else:  # statistics are constants: an affine map per channel
            axes = (0, 2, 3) if ga.ndim == 4 else (0,)
            dx = _native.batch_norm_apply(np.ascontiguousarray(ga), scale, np.zeros(c, np.float32))
            xhat = _native.batch_norm_apply(xa, invstd, (-mean * invstd).astype(np.float32))
            dgamma, dbeta = (ga * xhat).sum(axis=axes), ga.sum(axis=axes)
        return (dx.reshape(x.shape),
                dgamma if weight is not None else None,
                dbeta if bias is not None else None)
    return _record(out, x, weight, bias, backward)


def batch_norm_relu(x, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-5, residual=None):
    """relu(batch_norm(x) + residual) (residual optional) in one pass forward and two per channel
    backward, equal to the unfused ops bit for bit; the ReLU's gradient mask is `output > 0`."""
    what = "batch_norm_relu"
    xa = _native_layout(x, what)
    ra = None
    if residual is not None:
        if residual.shape != x.shape:
            raise ValueError(f"{what}: expected residual of shape {x.shape} (as input), "
                             f"received {residual.shape}")
        ra = _native_layout(residual, what)
    for name, a in (("x", xa), ("residual", ra)):  # (checked here: the output is computed later)
        if a is not None and a.dtype != np.float32:
            raise TypeError(f"{name}: expected dtype float32, received {a.dtype}")
    scope = profiler.scope()
    timer = profiler.region(scope, "fprop", what, 0, (8 if ra is None else 12) * xa.size)
    timer.__enter__()
    gamma, beta, mean, invstd = _statistics(x, xa, running_mean, running_var, weight, bias, training,
                                            momentum, eps, what)
    scale = (gamma * invstd).astype(np.float32)
    shift = (beta - mean * scale).astype(np.float32)
    # computed where first used: a DFP16 conv reading it quantises relu(x * scale + shift
    # (+ residual)) straight from x; without a residual the FP32 tensor is never written, with
    # one it is written in the conv's quantising pass (this backward reads it)
    y = LazyArray(lambda: _native.batch_norm_relu_forward(xa, scale, shift, ra).reshape(x.shape))
    out = DeferredTensor(x.shape, y, ("bn_relu", xa, scale, shift, ra))
    timer.__exit__(None, None, None)
    want_dres = residual is not None and residual.requires_grad
    # without a residual the backward recomputes the ReLU's mask from x (x * scale + shift > 0,
    # rounded as the forward rounded it) instead of reading y: less memory traffic, and y need
    # not outlive the forward
    saved_y = y if residual is not None else None  # (a LazyArray: not the tensor, no cycle)

    def backward(g):
        with profiler.region(scope, "bprop", what, 0, (16 if want_dres else 12) * xa.size):
            ga = np.ascontiguousarray(g.reshape(xa.shape), dtype=np.float32)
            y_array = None if saved_y is None else saved_y.get().reshape(xa.shape)
            dx, dgamma, dbeta, dres = _native.batch_norm_relu_backward(
                ga, y_array, xa, mean, invstd, gamma, training, want_dres, scale=scale, shift=shift)
        return (dx.reshape(x.shape),
                dgamma if weight is not None else None,
                dbeta if bias is not None else None,
                None if dres is None else dres.reshape(x.shape))
    return _record(out, x, weight, bias, backward, extra=(residual,))
