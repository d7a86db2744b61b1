"""Shape ops: reshape, transpose, permute, flatten, constant padding, indexing. Gradients
undo the move."""
import numpy as np

from .. import _native

from ..autograd import record
from ..tensor import Tensor


def reshape(a, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    x = a.numpy()
    try:
        y = x.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot view shape {x.shape} ({x.size} elements) as {shape}") from None
    return record(Tensor(y), (a,), lambda g: (g.reshape(x.shape),))


def permute(a, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if sorted(d % max(a.ndim, 1) for d in dims) != list(range(a.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of {a.ndim} dimensions")
    inverse = np.argsort([d % a.ndim for d in dims])
    return record(Tensor(a.numpy().transpose(dims)), (a,), lambda g: (g.transpose(inverse),))


def transpose(a, dim0, dim1):
    dims = list(range(a.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return permute(a, *dims)


def flatten(a, start_dim=0, end_dim=-1):
    if a.ndim == 0:
        return reshape(a, 1)
    start, end = start_dim % a.ndim, end_dim % a.ndim
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(a.shape[start:end + 1]))
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def pad(a, pad, value=0.0):
    """Constant padding in PyTorch's order: `pad` = (last_before, last_after,
    second_last_before, second_last_after, ...), non-negative ints."""
    if (not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) > 2 * a.ndim
            or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in pad)):
        raise ValueError(f"pad: expected an even number (at most {2 * a.ndim}) of non-negative ints "
                         f"for input of shape {a.shape}, received {pad!r}")
    x = a.numpy()
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    inside = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
    y = np.full(tuple(n + lo + hi for (lo, hi), n in zip(widths, x.shape)), value, dtype=np.float32)
    y[inside] = x
    return record(Tensor(y), (a,), lambda g: (np.ascontiguousarray(g[inside]),))


def subsample_pad(a, stride, before, after):
    """ResNet's option-A shortcut in one pass each way: a[:, :, ::stride, ::stride] (NCHW) with
    `before` zero channels in front and `after` behind; the same numbers as slicing, then
    `pad`."""
    what = "subsample_pad"
    if a.ndim != 4:
        raise ValueError(f"{what}: expected an NCHW input, received shape {a.shape}")
    for name, v, low in (("stride", stride, 1), ("before", before, 0), ("after", after, 0)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{what}: {name} must be an int >= {low}, received {v!r}")
    x = np.ascontiguousarray(a.numpy(), dtype=np.float32)
    y = _native.subsample_pad(x, int(stride), int(before), int(after))
    return record(Tensor(y), (a,), lambda g: (
        _native.subsample_pad_backward(np.ascontiguousarray(g, dtype=np.float32), x.shape, int(stride),
                                       int(before), int(after)),), fresh=True)


def _is_basic(index):
    """Basic indexing (ints, slices, None, ...) selects each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice)) and not isinstance(p, bool)
               for p in parts)


def getitem(a, index):
    if isinstance(index, Tensor):
        index = index.numpy()
    x = a.numpy()
    basic = _is_basic(index)

    def backward(g):
        dx = np.zeros(x.shape, dtype=np.float32)
        if basic:  # a view, no repeats: plain assignment (add.at is an element-wise Python-speed loop)
            dx[index] = g
        else:
            np.add.at(dx, index, g)  # advanced indices may repeat: each contributes
        return (dx,)
    return record(Tensor(x[index]), (a,), backward)
