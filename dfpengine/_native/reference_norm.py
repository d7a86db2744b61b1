"""Batch norm of the numpy reference (see reference.py, which re-exports these):
statistics, apply, backward, and the fused residual add and ReLU."""
import numpy as np

from .reference_checks import _array, _channels


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
