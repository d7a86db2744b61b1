"""Argument checks of the numpy reference (reference.py), shared by its modules and
by the compiled glue (`_ref._array` and friends): each raises the exception the
native contract names for bad input, with the argument's name."""
import numpy as np


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
