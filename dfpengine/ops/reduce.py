"""Reductions: sum, mean (differentiable) and argmax (an index, no gradient)."""
import numpy as np

from ..autograd import record
from ..tensor import Tensor


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    for d in dims:
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"dim {d} out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def _spread(g, shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes."""
    if not keepdim:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def sum(a, dim=None, keepdim=False):
    x = a.numpy()
    axes = _axes(dim, x.ndim)
    out = Tensor(np.asarray(x.sum(axis=axes, keepdims=keepdim)))
    return record(out, (a,), lambda g: (_spread(g, x.shape, axes, keepdim),))


def mean(a, dim=None, keepdim=False):
    x = a.numpy()
    axes = _axes(dim, x.ndim)
    count = int(np.prod([x.shape[i] for i in axes]))
    if count == 0:
        raise ValueError(f"mean: reduced dimensions {axes} of shape {x.shape} are empty")
    out = Tensor(np.asarray(x.mean(axis=axes, keepdims=keepdim, dtype=np.float32)))
    return record(out, (a,), lambda g: (_spread(g / np.float32(count), x.shape, axes, keepdim),))


def argmax(a, dim=None, keepdim=False):
    x = a.numpy()
    if dim is None:
        return Tensor(np.asarray(np.argmax(x)))
    return Tensor(np.argmax(x, axis=dim, keepdims=keepdim))
